import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import type { Problems } from './problems.js';

/**
 * An INI reader with the semantics of Python's ConfigParser as fail2ban
 * configures it, keeping file:line for every line of every value:
 * - `key = value` or `key: value` (the first `=` or `:` splits);
 * - option names are case-insensitive (ConfigParser lowercases them, and so
 *   do we); section names are case-sensitive;
 * - a line indented deeper than its option continues the value ("\n"-joined),
 *   blank lines inside a value are kept, trailing ones dropped;
 * - `#` or `;` starts a comment only at the start of a line; ` ;` (after
 *   whitespace) also ends a line early. ` #` does NOT: fail2ban keeps it, and
 *   regexes may contain it;
 * - a section or an option twice in one file is an error (ConfigParser's strict mode).
 * We hand-write it: no npm INI library keeps line numbers or these rules.
 */

export interface RawLine {
  text: string;
  line: number;
}

export interface IniValue {
  key: string;
  section: string;
  file: string;
  /** Line of `key =`. */
  line: number;
  /** The value's lines, each with its own number (first = text after `=`). */
  lines: RawLine[];
  /** Position of the file in the read order; set by the stack reader. */
  layer: number;
}

export interface IniSection {
  name: string;
  file: string;
  line: number;
  values: Map<string, IniValue>;
}

export interface IniFile {
  file: string;
  sections: IniSection[];
}

export const MAX_FILE_BYTES = 4 * 1024 * 1024;
export const MAX_LINE_CHARS = 64 * 1024;
const MAX_ERRORS_PER_FILE = 20;

/** Joined text of a value, as ConfigParser returns it. */
export function valueText(v: IniValue): string {
  return v.lines.map((l) => l.text).join('\n').replace(/\s+$/, '');
}

/** Reads a file with a size bound; returns null (and reports) when unusable, undefined when missing. */
export function readConfigText(file: string, problems: Problems): string | null | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    problems.error(`cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { file }, undefined, 'E_CONFIG_IO');
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      problems.error('not a regular file', { file }, undefined, 'E_CONFIG_IO');
      return null;
    }
    // One byte more than the file (or the limit) so a file over the limit is seen as such.
    const buf = Buffer.allocUnsafe(Math.min(st.size, MAX_FILE_BYTES) + 1);
    let len = 0;
    for (;;) {
      const n = len < buf.length ? readSync(fd, buf, len, buf.length - len, null) : 0;
      if (n === 0) break;
      len += n;
      if (len > MAX_FILE_BYTES) {
        problems.error(`file larger than ${MAX_FILE_BYTES} bytes`, { file }, 'a configuration file this large is a mistake');
        return null;
      }
    }
    const bytes = buf.subarray(0, len);
    if (bytes.includes(0)) {
      problems.error('binary data (NUL bytes): not a configuration file', { file });
      return null;
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
    } catch {
      problems.error('not valid UTF-8 text', { file }, 'save the file as UTF-8');
      return null;
    }
  } finally {
    closeSync(fd);
  }
}

function stripComment(line: string): { text: string; comment: boolean } {
  if (/^\s*[#;]/.test(line)) return { text: '', comment: true };
  for (let i = line.indexOf(';'); i >= 0; i = line.indexOf(';', i + 1)) {
    if (i === 0 || /\s/.test(line[i - 1]!)) return { text: line.slice(0, i).trim(), comment: true };
  }
  return { text: line.trim(), comment: false };
}

export function parseIni(text: string, file: string, problems: Problems): IniFile {
  const sections: IniSection[] = [];
  const byName = new Map<string, IniSection>();
  let current: IniSection | null = null;
  let option: IniValue | null = null;
  let indentLevel = 0;
  let errors = 0;
  const fail = (message: string, line: number, hint?: string): void => {
    errors++;
    if (errors <= MAX_ERRORS_PER_FILE) problems.error(message, { file, line }, hint);
    else if (errors === MAX_ERRORS_PER_FILE + 1) problems.error('too many errors; the rest of this file is not reported', { file, line });
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let raw = lines[i]!;
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw.length > MAX_LINE_CHARS) {
      fail(`line longer than ${MAX_LINE_CHARS} characters`, lineNo, 'split it or remove it');
      continue;
    }
    const { text: value, comment } = stripComment(raw);
    if (value === '') {
      if (!comment && option) option.lines.push({ text: '', line: lineNo });
      continue;
    }
    const indent = raw.search(/\S/);
    if (current && option && indent > indentLevel) {
      option.lines.push({ text: value, line: lineNo });
      continue;
    }
    indentLevel = indent;
    option = null;
    if (value.startsWith('[')) {
      const end = value.lastIndexOf(']');
      const name = end > 0 ? value.slice(1, end).trim() : '';
      if (end < 0 || value.slice(end + 1).trim() !== '' || name === '') {
        fail('malformed section header', lineNo, 'write it as [name] alone on its line');
        current = null;
        continue;
      }
      const seen = byName.get(name);
      if (seen) {
        fail(`section [${name}] appears twice in this file (first at line ${seen.line})`, lineNo, 'merge the two sections');
        current = seen;
        continue;
      }
      current = { name, file, line: lineNo, values: new Map() };
      byName.set(name, current);
      sections.push(current);
      continue;
    }
    const eq = value.search(/[=:]/);
    if (eq < 0) {
      fail('expected "option = value", a [section] or a comment', lineNo,
        current ? 'if this line continues the value above, indent it' : undefined);
      continue;
    }
    const key = value.slice(0, eq).trim().toLowerCase();
    if (key === '') {
      fail('missing option name before "="', lineNo);
      continue;
    }
    if (!current) {
      fail(`option "${key}" outside any [section]`, lineNo, 'put a [section] header above it');
      continue;
    }
    const before = current.values.get(key);
    if (before) {
      fail(`option "${key}" appears twice in [${current.name}] (first at line ${before.line})`, lineNo, 'keep one of them');
    }
    option = { key, section: current.name, file, line: lineNo, lines: [{ text: value.slice(eq + 1).trim(), line: lineNo }], layer: 0 };
    current.values.set(key, option);
  }
  for (const s of sections) {
    for (const v of s.values.values()) {
      while (v.lines.length > 1 && v.lines[v.lines.length - 1]!.text === '') v.lines.pop();
    }
  }
  return { file, sections };
}
