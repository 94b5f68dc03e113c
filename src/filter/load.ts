import { readFileSync, statSync } from 'node:fs';
import { AsteriskBanError } from '../core/errors.js';
import type { FilterDefinition, Located } from '../settings/types.js';

const MAX_FILTER_BYTES = 1024 * 1024;
const LIST_KEYS = new Set(['failregex', 'ignoreregex', 'openregex', 'closeregex']);

type Loader = (path: string, params: Record<string, string>) => FilterDefinition | Promise<FilterDefinition>;

/**
 * Loads a filter.d file. Prefers the settings module's loader (full
 * fail2ban semantics: [INCLUDES], .local overlays); until that exists, or
 * when it is missing, falls back to a small reader that handles what our
 * shipped filters use: [Init] and [Definition], continuation lines, `#`/`;`
 * comments and `%(name)s` interpolation.
 */
export async function loadFilterDefinition(path: string, params: Record<string, string> = {}): Promise<FilterDefinition> {
  let loader: Loader | undefined;
  try {
    // The module itself, not settings/index.js: that one loads winston and dotenv (~100 ms test-filter does not need).
    const mod = (await import('../settings/filter-file.js' as string)) as { loadFilterFile?: Loader };
    loader = mod.loadFilterFile;
  } catch {
    loader = undefined;
  }
  return loader ? loader(path, params) : readFilterFile(path, params);
}

interface RawValue { lines: { text: string; line: number }[] }

export function readFilterFile(path: string, params: Record<string, string> = {}): FilterDefinition {
  let text: string;
  try {
    if (statSync(path).size > MAX_FILTER_BYTES) throw new AsteriskBanError('E_CONFIG_IO', `${path} is larger than 1 MiB`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof AsteriskBanError) throw e;
    throw new AsteriskBanError('E_CONFIG_IO', `cannot read filter ${path}: ${(e as Error).message}`, { location: { file: path } });
  }
  const sections = new Map<string, Map<string, RawValue>>();
  let section: Map<string, RawValue> | null = null;
  let current: RawValue | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (/^\s*[#;]/.test(raw)) return;
    if (current && /^\s+\S/.test(raw)) {
      current.lines.push({ text: raw.trim(), line });
      return;
    }
    current = null;
    if (raw.trim() === '') return;
    const sec = /^\[([^\]]+)\]\s*$/.exec(raw);
    if (sec) {
      section = sections.get(sec[1]!) ?? new Map();
      sections.set(sec[1]!, section);
      return;
    }
    const kv = /^([^=:\s][^=:]*?)\s*[=:]\s?(.*)$/.exec(raw);
    if (!kv || !section) throw new AsteriskBanError('E_CONFIG', `cannot parse "${raw.slice(0, 80)}"`, { location: { file: path, line } });
    current = { lines: [{ text: kv[2]!.trim(), line }] };
    section.set(kv[1]!.toLowerCase(), current);
  });
  const vars: Record<string, string> = {};
  const located = new Map<string, RawValue>();
  for (const name of ['Init', 'Definition']) {
    for (const [k, v] of sections.get(name) ?? []) {
      vars[k] = v.lines.map((l) => l.text).join('\n').trim();
      located.set(k, v);
    }
  }
  Object.assign(vars, params);
  const interpolate = (s: string, where: number, depth = 0): string =>
    s.replace(/%\(([^)]+)\)s/g, (_w, name: string) => {
      const v = vars[name.toLowerCase()];
      if (v === undefined) throw new AsteriskBanError('E_CONFIG', `%(${name})s is not defined`, { location: { file: path, line: where } });
      if (depth > 20) throw new AsteriskBanError('E_CONFIG', `%(${name})s refers to itself`, { location: { file: path, line: where } });
      return interpolate(v, where, depth + 1);
    });
  const list = (key: string): Located[] => {
    const v = located.get(key);
    if (!v || key in params) return key in params ? [{ value: interpolate(params[key]!, 0), file: path, line: 0 }] : [];
    return v.lines.filter((l) => l.text !== '').flatMap((l) =>
      interpolate(l.text, l.line).split('\n').filter((t) => t.trim() !== '').map((value) => ({ value, file: path, line: l.line })));
  };
  const single = (key: string): Located | null => {
    const v = located.get(key);
    const value = vars[key];
    if (value === undefined || value.trim() === '') return null;
    return { value: interpolate(value, v?.lines[0]?.line ?? 0), file: path, line: v?.lines[0]?.line ?? 0 };
  };
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) if (!LIST_KEYS.has(k)) flat[k] = interpolate(v, located.get(k)?.lines[0]?.line ?? 0);
  const def: FilterDefinition & { openregex: Located[]; closeregex: Located[] } = {
    name: path.replace(/^.*\//, '').replace(/\.(conf|local)$/, ''),
    file: path,
    failregex: list('failregex'),
    ignoreregex: list('ignoreregex'),
    prefregex: single('prefregex'),
    datepattern: single('datepattern'),
    vars: flat,
    openregex: list('openregex'),
    closeregex: list('closeregex'),
  };
  return def;
}
