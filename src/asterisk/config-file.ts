import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { printable } from '../core/address.js';

/**
 * Asterisk's own configuration format, as far as finding the peers it trusts
 * needs: `[section]`, `[section](template,...)`, templates `(!)`, additions
 * `(+)`, `key = value` and `key => value`, `;` comments and `;-- --;`
 * blocks, `#include` / `#tryinclude` (relative to the file, globs not
 * followed). `#exec` is never run. Problems are warnings with file:line:
 * a broken line in pjsip.conf must not stop the daemon.
 */
export interface ConfigOption {
  key: string;
  value: string;
  file: string;
  line: number;
}

export interface ConfigSection {
  name: string;
  file: string;
  line: number;
  template: boolean;
  /** Own options, then those inherited from templates are looked up through `options()`. */
  own: ConfigOption[];
  inherits: string[];
}

export interface ConfigWarning {
  file: string;
  line: number;
  message: string;
}

export interface AsteriskConfig {
  sections: ConfigSection[];
  warnings: ConfigWarning[];
  /** Every file read, the main one first. */
  files: string[];
}

const MAX_INCLUDE_DEPTH = 8;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export function readAsteriskConfig(path: string): AsteriskConfig {
  const out: AsteriskConfig = { sections: [], warnings: [], files: [] };
  const state = { current: null as ConfigSection | null, inComment: false };
  readInto(resolve(path), out, state, 0, true);
  return out;
}

function readInto(path: string, out: AsteriskConfig, state: { current: ConfigSection | null; inComment: boolean }, depth: number, mustExist: boolean): void {
  if (out.files.includes(path)) {
    out.warnings.push({ file: path, line: 0, message: 'included more than once (a loop?): read once' });
    return;
  }
  let text: string;
  try {
    // Checked before reading: a FIFO or a device (an include of /dev/zero) would block or never end.
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    text = readFileSync(path).subarray(0, MAX_FILE_BYTES).toString('utf8');
  } catch (err) {
    if (mustExist || (err as NodeJS.ErrnoException).code !== 'ENOENT') {
      out.warnings.push({ file: path, line: 0, message: `cannot read: ${(err as Error).message}` });
    }
    return;
  }
  out.files.push(path);
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    let t = raw;
    if (state.inComment) {
      const end = t.indexOf('--;');
      if (end < 0) return;
      t = t.slice(end + 3);
      state.inComment = false;
    }
    const block = t.indexOf(';--');
    if (block >= 0) {
      const end = t.indexOf('--;', block + 3);
      if (end < 0) {
        state.inComment = true;
        t = t.slice(0, block);
      } else t = t.slice(0, block) + t.slice(end + 3);
    }
    t = stripComment(t).trim();
    if (t === '') return;
    const warn = (message: string) => out.warnings.push({ file: path, line, message });
    if (t.startsWith('#')) {
      const m = /^#(include|tryinclude|exec|tryexec)\s+(?:"([^"]*)"|<([^>]*)>|(\S+))\s*$/i.exec(t);
      if (!m) return warn(`unknown directive ${printable(t, 60)}`);
      const kind = m[1]!.toLowerCase();
      if (kind.endsWith('exec')) return warn('#exec is not run: peers it would define are not known');
      const target = m[2] ?? m[3] ?? m[4] ?? '';
      if (/[*?[]/.test(target)) return warn(`#${kind} with a pattern (${printable(target, 80)}) is not followed`);
      if (depth >= MAX_INCLUDE_DEPTH) return warn('includes nested too deep: not followed');
      readInto(isAbsolute(target) ? target : resolve(dirname(path), target), out, state, depth + 1, kind === 'include');
      return;
    }
    if (t.startsWith('[')) {
      const m = /^\[([^\]]{1,80})\]\s*(?:\(([^)]*)\))?$/.exec(t);
      if (!m) {
        // Its options must not land in the section before it.
        state.current = null;
        return warn(`section header not understood: ${printable(t, 80)}; its options are ignored`);
      }
      const flags = (m[2] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
      const name = m[1]!.trim();
      if (flags.includes('+')) {
        const existing = [...out.sections].reverse().find((s) => s.name === name);
        if (existing) {
          state.current = existing;
          return;
        }
        warn(`[${printable(name)}](+) adds to a section that does not exist yet`);
      }
      const section: ConfigSection = {
        name, file: path, line, template: flags.includes('!'), own: [], inherits: flags.filter((f) => f !== '!' && f !== '+'),
      };
      out.sections.push(section);
      state.current = section;
      return;
    }
    const m = /^([^=]+?)\s*=>?\s*(.*)$/.exec(t);
    if (!m) return warn(`line not understood: ${printable(t, 80)}`);
    if (!state.current) return warn(`option ${printable(m[1]!, 40)} outside any [section]: ignored`);
    state.current.own.push({ key: m[1]!.trim().toLowerCase(), value: m[2]!.trim(), file: path, line });
  });
}

/** `;` starts a comment unless escaped as `\;`. */
function stripComment(line: string): string {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === ';' && line[i - 1] !== '\\') return line.slice(0, i);
  }
  return line;
}

/**
 * A section's options with its templates' first (in the order named, each
 * with its own templates), its own after: the values Asterisk would use.
 */
export function effectiveOptions(config: AsteriskConfig, section: ConfigSection, seen: Set<ConfigSection> = new Set()): ConfigOption[] {
  if (seen.has(section)) return [];
  seen.add(section);
  const out: ConfigOption[] = [];
  for (const name of section.inherits) {
    const tpl = [...config.sections].reverse().find((s) => s.name === name && s !== section && s.line !== section.line);
    if (tpl) out.push(...effectiveOptions(config, tpl, seen));
  }
  out.push(...section.own);
  return out;
}
