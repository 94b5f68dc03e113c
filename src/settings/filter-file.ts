import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigErrors } from '../core/errors.js';
import { interpolateLines, interpolateValue, type Scope } from './interpolate.js';
import { didYouMean, mutedProblems, Problems } from './problems.js';
import { latest, readStack } from './stack.js';
import type { FilterDefinition, Invocation, Located } from './types.js';
import { SectionReader } from './values.js';

/**
 * filter.d files: [INCLUDES], [Init] (which filter parameters such as
 * `asterisk[mode=gaps]` override), [Definition]. Values are looked up in
 * parameters, then [Init], then [Definition], then [DEFAULT], as in
 * fail2ban's combined view. Every failregex line must capture the address.
 */

const HOST_TAG = /<(?:HOST|ADDR|IP4|IP6|CIDR|SUBNET)>|\(\?P?<(?:host|ip4|ip6|addr)>/;
const TAG = /<([^\s<>]+)>/g;
const FILTER_NAME = /^[A-Za-z0-9_][\w.\-]*$/;

/** Expands `<name>` tags that name filter variables, so a host tag hidden in one is found. */
function expandTags(line: string, vars: Record<string, string>): string {
  let out = line;
  for (let i = 0; i < 25 && !HOST_TAG.test(out); i++) {
    const next = out.replace(TAG, (all, name: string) => (Object.prototype.hasOwnProperty.call(vars, name) ? vars[name]! : all));
    if (next === out || next.length > 1_000_000) break;
    out = next;
  }
  return out;
}

export function hasHostTag(line: string, vars: Record<string, string> = {}): boolean {
  return HOST_TAG.test(line) || HOST_TAG.test(expandTags(line, vars));
}

function localOf(path: string): string {
  return path.endsWith('.conf') ? `${path.slice(0, -5)}.local` : `${path}.local`;
}

/** Options read as lists of regexes with their file:line (the rest become interpolation variables). */
const REGEX_LISTS = ['failregex', 'ignoreregex', 'openregex', 'closeregex', 'tailregex'];

/** Reads one filter (the file, its .local, their includes); reports problems, returns null if unusable. */
export function readFilter(path: string, params: Record<string, string>, problems: Problems, name = basename(path).replace(/\.(conf|local)$/, '')): FilterDefinition | null {
  const files = [path, localOf(path)].filter((f, i) => i === 0 || existsSync(f));
  const before = problems.errors.length;
  const stack = readStack(files, problems);
  if (stack.files.length === 0) {
    if (problems.errors.length === before) problems.error(`filter file not found`, { file: path }, undefined, 'E_CONFIG_IO');
    return null;
  }
  const defn = stack.sections.get('Definition');
  const scope: Scope = { stack, vars: { ...params, __name__: 'Definition' }, chain: ['Init', 'Definition', 'DEFAULT'], problems };
  const reader = new SectionReader(scope, problems);
  const vars: Record<string, string> = { ...params };
  const quiet: Scope = { ...scope, problems: mutedProblems() };
  const own = ['DEFAULT', 'Definition', 'Init'];
  // Other sections (common.conf's [lt_file]) are reachable as `<section/option>` tags, as in fail2ban.
  const others = [...stack.sections.keys()].filter((sec) => !own.includes(sec));
  for (const sec of [...others, ...own]) {
    for (const [key, hist] of stack.sections.get(sec)?.values ?? []) {
      const name = own.includes(sec) ? key : `${sec}/${key}`;
      if (REGEX_LISTS.includes(key) || name in params) continue;
      const value = interpolateValue(hist[hist.length - 1]!, quiet);
      if (value !== null) vars[name] = value;
    }
  }
  // fail2ban sets logtype from the backend; we only read files.
  vars.logtype ??= 'file';
  const regexLines = (key: string): Located[] => {
    const v = latest(defn, key) ?? (key === 'ignoreregex' ? latest(stack.sections.get('DEFAULT'), key) : undefined);
    if (!v) return [];
    return (interpolateLines(v, scope) ?? []).filter((l) => l.value !== '');
  };
  const failregex = regexLines('failregex');
  checkHostTags(failregex, vars, problems);
  if (!latest(defn, 'failregex')) {
    const near = [...stack.sections.keys()].find((s) => didYouMean(s, ['Definition']));
    problems.error(`filter "${name}" has no failregex in [Definition]`, { file: stack.files[0]! },
      near && near !== 'Definition' ? `section [${near}]: did you mean [Definition]?` : 'add a [Definition] section with failregex = ...', 'E_FILTER');
  }
  const single = (key: string): Located | null => {
    const v = latest(defn, key) ?? latest(stack.sections.get('Init'), key);
    if (!v) return null;
    const text = reader.text(key);
    return text ? { value: text, file: v.file, line: v.line } : null;
  };
  reader.int('maxlines', 1, 1, 1000);
  const journal = reader.text('journalmatch');
  if (journal) problems.warn(`journalmatch is ignored: asterisk-ban reads log files and AMI, not the journal`, reader.at('journalmatch'));
  return {
    name,
    file: stack.files.includes(path) ? path : stack.files[0]!,
    failregex,
    ignoreregex: regexLines('ignoreregex'),
    openregex: regexLines('openregex'),
    closeregex: regexLines('closeregex'),
    tailregex: regexLines('tailregex'),
    prefregex: single('prefregex'),
    datepattern: single('datepattern'),
    vars,
  };
}

/** Every failregex line must capture the address; a line without one is usually the tail of a wrapped line. */
export function checkHostTags(lines: Located[], vars: Record<string, string>, problems: Problems): void {
  lines.forEach((l, i) => {
    // A line made of tags that expand to nothing (fail2ban's `<mdre-<mode>>` in normal mode) matches nothing: fine.
    if (hasHostTag(l.value, vars) || expandTags(l.value, vars).trim() === '') return;
    const prev = lines[i - 1];
    problems.error('failregex line has no <HOST> (nor <ADDR>, <IP4>, <IP6>, <CIDR>, <SUBNET>): it cannot tell which address to ban',
      { file: l.file, line: l.line },
      !prev ? 'add <HOST> where the address appears'
        : prev.line === l.line ? 'it comes from an interpolated value; every failregex needs <HOST> here (fail2ban\'s multi-line <F-MLFID> matching is not supported)'
          : `it looks like the end of the line above (line ${prev.line}) wrapped onto its own line: join it to the line above`, 'E_FILTER');
  });
}

/** Throws ConfigErrors listing every problem. */
export function loadFilterFile(path: string, params: Record<string, string> = {}): FilterDefinition {
  const problems = new Problems();
  const def = readFilter(path, params, problems);
  problems.throwIfAny();
  if (!def) throw new ConfigErrors([]);
  return def;
}

/** filter.d/NAME.conf (and .local) in `dir` for an invocation; problems point at the `filter =` line. */
export function readFilterFor(dir: string, inv: Invocation, problems: Problems): FilterDefinition | null {
  const at = { file: inv.file, line: inv.line };
  if (!FILTER_NAME.test(inv.name) || inv.name.includes('..')) {
    problems.error(`"${inv.name}" is not a valid filter name`, at, 'use the name of a file in filter.d/ without .conf');
    return null;
  }
  const fdir = join(dir, 'filter.d');
  const conf = join(fdir, `${inv.name}.conf`);
  const local = join(fdir, `${inv.name}.local`);
  if (!existsSync(conf) && !existsSync(local)) {
    let names: string[] = [];
    try {
      names = readdirSync(fdir).filter((f) => /\.(conf|local)$/.test(f)).map((f) => f.replace(/\.(conf|local)$/, ''));
    } catch { /* no filter.d at all */ }
    problems.error(`filter "${inv.name}" not found: no ${inv.name}.conf in ${fdir}`, at,
      didYouMean(inv.name, names) ?? (names.length ? `available: ${[...new Set(names)].join(', ')}` : `create ${conf}`));
    return null;
  }
  return readFilter(existsSync(conf) ? conf : local, inv.params, problems, inv.name);
}

/** Throws ConfigErrors listing every problem. */
export function loadFilter(dir: string, inv: Invocation): FilterDefinition {
  const problems = new Problems();
  const def = readFilterFor(dir, inv, problems);
  problems.throwIfAny();
  if (!def) throw new ConfigErrors([]);
  return def;
}
