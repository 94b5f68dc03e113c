import type { IniValue } from './ini.js';
import { didYouMean, type Problems } from './problems.js';
import { latest, type ConfigStack } from './stack.js';
import type { Located } from './types.js';

/**
 * ConfigParser's `%(name)s` interpolation as fail2ban extends it:
 * `%(known/name)s` (the value before the file that refers to it),
 * `%(default/name)s`, `%(section/name)s`, `%%` for a literal `%`.
 * Referenced values are expanded in the reader's context (so a [DEFAULT]
 * `action_` sees the jail's `port` and `__name__`), recursively, with loop
 * detection and a depth limit; every error names the file:line of the
 * line holding the bad reference.
 */

export interface Scope {
  stack: ConfigStack;
  /** Values that win over every section (filter parameters, `__name__`). */
  vars: Record<string, string>;
  /** Sections searched, in order, for a plain `%(name)s`. */
  chain: string[];
  problems: Problems;
}

const MAX_DEPTH = 20;
const MAX_OUTPUT = 1024 * 1024;

// Unwinds a failed expansion (already reported); not an Error: no stack trace to build.
class Failed {}

function lookup(name: string, origin: IniValue, scope: Scope): IniValue | string | undefined {
  const slash = name.indexOf('/');
  if (slash < 0) {
    if (Object.prototype.hasOwnProperty.call(scope.vars, name)) return scope.vars[name];
    for (const sec of scope.chain) {
      const v = latest(scope.stack.sections.get(sec), name);
      if (v) return v;
    }
    return undefined;
  }
  const sec = name.slice(0, slash);
  const opt = name.slice(slash + 1).toLowerCase();
  const defaults = scope.stack.sections.get('DEFAULT');
  switch (sec.toLowerCase()) {
    case 'known': {
      const hist = scope.stack.sections.get(origin.section)?.values.get(opt) ?? [];
      const before = hist.filter((v) => v.layer < origin.layer);
      if (before.length > 0) return before[before.length - 1];
      if (origin.section === 'DEFAULT') return undefined;
      return latest(defaults, opt);
    }
    case 'default':
      return latest(defaults, opt);
    default:
      return latest(scope.stack.sections.get(sec), opt);
  }
}

function knownNames(scope: Scope): string[] {
  const names = new Set(Object.keys(scope.vars));
  for (const sec of scope.chain) for (const k of scope.stack.sections.get(sec)?.values.keys() ?? []) names.add(k);
  return [...names];
}

function expand(text: string, origin: IniValue, line: number, scope: Scope, active: string[]): string {
  const where = { file: origin.file, line };
  let out = '';
  let i = 0;
  while (i < text.length) {
    const p = text.indexOf('%', i);
    if (p < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, p);
    if (text[p + 1] === '%') {
      out += '%';
      i = p + 2;
      continue;
    }
    const close = text[p + 1] === '(' ? text.indexOf(')', p + 2) : -1;
    if (close < 0 || text[close + 1] !== 's') {
      scope.problems.error(`"%" in option "${origin.key}" is not followed by "%" or "(name)s"`, where,
        'write %% for a literal percent sign');
      throw new Failed();
    }
    const rawName = text.slice(p + 2, close);
    const name = rawName.includes('/') ? rawName : rawName.toLowerCase();
    const found = lookup(name, origin, scope);
    if (found === undefined) {
      if (!scope.problems.muted) {
        scope.problems.error(`%(${rawName})s in option "${origin.key}" is not defined`, where,
          didYouMean(name, knownNames(scope)) ?? `define "${name}" in [${origin.section}] or [DEFAULT]`);
      }
      throw new Failed();
    }
    if (typeof found === 'string') {
      out += found;
    } else {
      const id = selfId(found);
      if (active.includes(id) || active.length >= MAX_DEPTH) {
        const chain = [...active, id].map((a) => a.replace(/@\d+$/, '')).join(' -> ');
        scope.problems.error(active.includes(id) ? `interpolation loop: ${chain}` : `interpolation nested deeper than ${MAX_DEPTH}: ${chain}`,
          where, 'an option cannot refer to itself, directly or through others (use %(known/name)s to extend a previous value)');
        throw new Failed();
      }
      out += found.lines.map((l) => expand(l.text, found, l.line, scope, [...active, id])).join('\n').replace(/\s+$/, '');
    }
    if (out.length > MAX_OUTPUT) {
      scope.problems.error(`option "${origin.key}" expands to more than ${MAX_OUTPUT} characters`, where);
      throw new Failed();
    }
    i = close + 2;
  }
  return out;
}

function selfId(v: IniValue): string {
  return `${v.section}/${v.key}@${v.layer}`;
}

/** Each line of the value interpolated, keeping the line it came from; null after reporting an error. */
export function interpolateLines(v: IniValue, scope: Scope): Located[] | null {
  try {
    const out: Located[] = [];
    for (const l of v.lines) {
      for (const piece of expand(l.text, v, l.line, scope, [selfId(v)]).split('\n')) {
        out.push({ value: piece.trim(), file: v.file, line: l.line });
      }
    }
    return out;
  } catch (err) {
    if (err instanceof Failed) return null;
    throw err;
  }
}

export function interpolateValue(v: IniValue, scope: Scope): string | null {
  const lines = interpolateLines(v, scope);
  return lines === null ? null : lines.map((l) => l.value).join('\n').trim();
}
