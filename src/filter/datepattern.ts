import { AsteriskBanError } from '../core/errors.js';
import type { Located } from '../settings/types.js';
import { translatePythonRegex, compileJs } from './python-regex.js';
import { DEFAULT_DATE, MONTHS, MONTH_RE, defaultFields, fraction, parseOffset } from './date.js';
import type { Fields } from './date.js';

/** strftime-style directives fail2ban's datepattern uses, as regex groups. */
const DIRECTIVES: Record<string, string> = {
  Y: '(?<Y>\\d{4})', y: '(?<y>\\d{2})', m: '(?<m>\\d{1,2})', d: '(?<d>\\d{1,2})', e: '(?<d>[ \\d]?\\d)', H: '(?<H>\\d{1,2})',
  I: '(?<H>\\d{1,2})', M: '(?<M>\\d{2})', S: '(?<S>\\d{2})', f: '(?<f>\\d{1,9})', b: `(?<b>${MONTH_RE})`, B: `(?<b>${MONTH_RE})`,
  a: '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*', A: '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*', z: '(?<z>Z|[+-]\\d{2}:?\\d{2})',
  Z: '(?<z>UTC|GMT|Z)', p: '(?<p>AM|PM|am|pm)', s: '(?<s>\\d{9,11}(?:\\.\\d{1,6})?)', '%': '%',
};

const SPECIAL: Record<string, string> = {
  '{ISO8601}': '%Y-%m-%d[T ]%H:%M:%S(?:[.,]%f)?(?:%z)?',
  '{EPOCH}': '%s',
  '{DATE}': '',
};

/** A compiled `datepattern` line. */
export class DatePattern {
  private readonly re: RegExp;
  /** Whether the date must open the line ({^LN-BEG} or ^). */
  readonly anchored: boolean;
  /** Asterisk's own formats only (no datepattern, or {^LN-BEG}). */
  readonly isDefault: boolean;

  constructor(loc: Located) {
    let text = loc.value.trim();
    const where = { file: loc.file, line: loc.line };
    let anchored = false;
    if (text.startsWith('{^LN-BEG}')) { anchored = true; text = text.slice(9); }
    else if (text.startsWith('^')) { anchored = true; text = text.slice(1); }
    this.anchored = anchored;
    this.isDefault = anchored && (text === '' || text === '{DATE}');
    if (text === '' || text === '{DATE}') { this.re = anchored ? DEFAULT_DATE : new RegExp(DEFAULT_DATE.source.slice(1)); return; }
    text = text.replace(/\{[^}]*\}/g, (w) => {
      const s = SPECIAL[w];
      if (s === undefined || s === '') {
        throw new AsteriskBanError('E_FILTER', `datepattern ${w} is not supported`, { location: where, hint: 'supported: {^LN-BEG}, {ISO8601}, {EPOCH} and %Y %y %m %d %e %H %I %M %S %f %b %B %a %z %Z %p %s' });
      }
      return s;
    });
    const seen = new Set<string>();
    const source = text.replace(/%(.)/g, (_w, d: string) => {
      const r = DIRECTIVES[d];
      if (r === undefined) throw new AsteriskBanError('E_FILTER', `datepattern directive %${d} is not supported`, { location: where });
      const g = /\(\?<(\w)>/.exec(r)?.[1];
      if (g && seen.has(g)) throw new AsteriskBanError('E_FILTER', `datepattern names the same field twice (%${d})`, { location: where });
      if (g) seen.add(g);
      return r;
    });
    const t = translatePythonRegex(source, where);
    this.re = compileJs(`${anchored ? '^' : ''}(?:${t.source})`, t.flags, loc.value, where);
  }

  exec(line: string): { fields: Fields | null; start: number; end: number } | null {
    const m = this.re.exec(line);
    if (!m) return null;
    if (this.re === DEFAULT_DATE || !m.groups) return { fields: defaultFields(m), start: m.index, end: m.index + m[0].length };
    const g = m.groups;
    let fields: Fields | null;
    if (g.s !== undefined) fields = { month: 0, day: 1, hour: 0, minute: 0, second: 0, ms: 0, epoch: Math.round(Number(g.s) * 1000) };
    else {
      const month = g.b !== undefined ? MONTHS[g.b.slice(0, 3).toLowerCase()] : g.m !== undefined ? Number(g.m) - 1 : new Date().getMonth();
      const year = g.Y !== undefined ? Number(g.Y) : g.y !== undefined ? 2000 + Number(g.y) : undefined;
      fields = month === undefined ? null : {
        year, month, day: g.d !== undefined ? Number(g.d.trim()) : 1, hour: Number(g.H ?? 0), minute: Number(g.M ?? 0),
        second: Number(g.S ?? 0), ms: fraction(g.f), offset: g.z !== undefined ? parseOffset(g.z) : undefined,
        pm: g.p !== undefined ? /pm/i.test(g.p) : undefined,
      };
    }
    return { fields, start: m.index, end: m.index + m[0].length };
  }
}

export function defaultDatePattern(): DatePattern {
  return new DatePattern({ value: '{^LN-BEG}', file: '<default>', line: 0 });
}
