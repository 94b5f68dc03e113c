import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { parseIni, readConfigText, valueText, type IniValue } from './ini.js';
import type { Problems } from './problems.js';

/**
 * Several INI files read in order (each with its [INCLUDES] before/after),
 * merged as fail2ban merges them: later files override option by option,
 * and every earlier value stays in the history so `%(known/x)s` can reach
 * the value that was in force before the file that refers to it.
 */

export interface StackSection {
  name: string;
  /** Where the section is first defined. */
  file: string;
  line: number;
  /** Option name -> its values, oldest first (one per file that set it). */
  values: Map<string, IniValue[]>;
}

export interface ConfigStack {
  /** Files actually read, in order. */
  files: string[];
  /** In order of first appearance; includes DEFAULT when present. */
  sections: Map<string, StackSection>;
}

const INCLUDES = 'INCLUDES';
const MAX_INCLUDE_DEPTH = 10;
const MAX_FILES = 200;

function localOf(file: string): string | null {
  return file.endsWith('.conf') ? `${file.slice(0, -'.conf'.length)}.local` : null;
}

interface Parsed {
  file: string;
  sections: ReturnType<typeof parseIni>['sections'];
}

export function latest(section: StackSection | undefined, key: string): IniValue | undefined {
  const h = section?.values.get(key);
  return h ? h[h.length - 1] : undefined;
}

/**
 * Reads `mains` in order. A main file that does not exist is skipped (callers
 * check the ones that must exist); so is a missing include, as in fail2ban.
 */
export function readStack(mains: string[], problems: Problems): ConfigStack {
  const cache = new Map<string, Parsed | null>();
  const parse = (file: string): Parsed | null => {
    if (cache.has(file)) return cache.get(file)!;
    const text = readConfigText(file, problems);
    const parsed = typeof text === 'string' ? parseIni(text, file, problems) : null;
    cache.set(file, parsed);
    return parsed;
  };

  const order: Parsed[] = [];
  const expand = (file: string, chain: string[]): void => {
    if (order.length >= MAX_FILES) return;
    const parsed = parse(file);
    if (!parsed) return;
    const inc = parsed.sections.find((s) => s.name === INCLUDES);
    const list = (key: string): { path: string; at: IniValue }[] => {
      const v = inc?.values.get(key);
      if (!v) return [];
      return valueText(v).split('\n').map((s) => s.trim()).filter(Boolean)
        .map((p) => ({ path: isAbsolute(p) ? p : join(dirname(file), p), at: v }));
    };
    const visit = ({ path: target, at }: { path: string; at: IniValue }): void => {
      if (chain.includes(target) || chain.length >= MAX_INCLUDE_DEPTH) return;
      // fail2ban reads on without a missing include; what it should have defined then goes missing: say which file.
      if (!existsSync(target) && target.endsWith('.conf')) {
        problems.warn(`[INCLUDES] ${at.key} = ${basename(target)}: ${target} does not exist; what it defines (fail2ban's common.conf: __prefix_line...) will be missing (asterisk-ban ships config/filter.d/common.conf)`, { file: at.file, line: at.line });
      }
      for (const f of [target, localOf(target)]) {
        if (f && existsSync(f)) expand(f, [...chain, file]);
      }
    };
    list('before').forEach(visit);
    order.push(parsed);
    list('after').forEach(visit);
  };
  for (const m of mains) expand(m, []);

  const sections = new Map<string, StackSection>();
  order.forEach((parsed, layer) => {
    for (const s of parsed.sections) {
      if (s.name === INCLUDES) continue;
      let target = sections.get(s.name);
      if (!target) {
        target = { name: s.name, file: s.file, line: s.line, values: new Map() };
        sections.set(s.name, target);
      }
      for (const [key, v] of s.values) {
        const hist = target.values.get(key) ?? [];
        hist.push({ ...v, layer });
        target.values.set(key, hist);
      }
    }
  });
  return { files: order.map((p) => p.file), sections };
}
