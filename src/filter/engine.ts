import type { Address } from '../core/address.js';
import type { FilterMatch } from './types.js';
import type { Rx } from './rx.js';
import { hostOf, otherReading, userOf } from './rx.js';
import { DateFinder } from './date.js';
import type { DateHit } from './date.js';

/**
 * An opening/closing pair: a message that may stop inside an
 * attacker-controlled field, and its remainder. A tail pair (tailregex) is
 * a message whose last field is the attacker's: any line without a date
 * may be its remainder (close null), and it always makes the lines that
 * come with it suspect.
 */
export interface InjectionPair {
  open: Rx;
  close: Rx | null;
  tail: boolean;
}

/** The pair a line opens, and the address Asterisk wrote before the attacker's field (if the openregex reads one). */
export interface Opening {
  pair: number;
  ip: Address | null;
}

/** The compiled parts of one filter, shared by all its matchers. */
export interface FilterParts {
  name: string;
  failregex: Rx[];
  ignoreregex: Rx[];
  prefregex: Rx | null;
  pairs: InjectionPair[];
  dates: () => DateFinder;
  /** A line this does not match can neither match a failregex nor open anything (null: no screen). */
  screen: RegExp | null;
  /** The same, global, for scanning a whole chunk. */
  chunkScreen: RegExp | null;
  /** Whether every datepattern is anchored at the line start (what datedAt() can check). */
  anchoredDates: boolean;
}

export type Verdict =
  | { outcome: 'matched'; ip: Address; regex: number; user?: string }
  /** The line reads two ways, with two addresses (an attacker wrote one): counted for neither. */
  | { outcome: 'ambiguous'; ips: Address[] }
  | { outcome: 'ignored' | 'missed' };

const MISSED: Verdict = { outcome: 'missed' };
const IGNORED: Verdict = { outcome: 'ignored' };

/**
 * Pure per-line evaluation (the stateful injection handling lives in
 * matcher.ts). Work is lazy: the date costs one startsWith() for most
 * lines, and the text after it is only cut and run through prefregex for
 * lines that contain a literal some regex needs.
 */
export class LineEngine {
  private readonly finder: DateFinder;
  constructor(readonly parts: FilterParts) {
    this.finder = parts.dates();
  }

  date(line: string, hit: DateHit): boolean {
    return this.finder.find(line, hit);
  }

  datedAt(text: string, pos: number, end: number): boolean {
    return this.finder.datedAt(text, pos, end);
  }

  certainAt(text: string, pos: number): boolean {
    return this.finder.certainAt(text, pos);
  }

  /**
   * Text after the date, passed through prefregex; null when prefregex
   * refuses the line, or when `screen` is set and the line lacks every literal.
   */
  content(line: string, start: number, end: number, screen: boolean): string | null {
    if (screen && this.parts.screen !== null && !this.parts.screen.test(line)) return null;
    let text = start > 0 ? line.slice(0, start) + line.slice(end) : end > 0 ? line.slice(end) : line;
    const pref = this.parts.prefregex;
    if (pref !== null) {
      if (pref.literal !== null && text.indexOf(pref.literal) < 0) return null;
      const m = pref.re.exec(text);
      if (m === null) return null;
      if (pref.hasContent) text = m.groups?.F_CONTENT ?? '';
    }
    return text;
  }

  /** failregex (the first that yields a valid address wins), then ignoreregex. */
  verdict(content: string | null): Verdict {
    if (content === null) return MISSED;
    const list = this.parts.failregex;
    for (let i = 0; i < list.length; i++) {
      const rx = list[i]!;
      if (!mayMatch(rx, content)) continue;
      const m = rx.re.exec(content);
      if (m === null) continue;
      const ip = hostOf(rx, m);
      if (ip === null) continue;
      if (rx.nofail && m.groups?.F_NOFAIL !== undefined) return IGNORED;
      for (const ig of this.parts.ignoreregex) if (ig.re.test(content)) return IGNORED;
      const other = otherReading(rx, content, m, ip);
      if (other !== null) return { outcome: 'ambiguous', ips: [ip, other] };
      const user = userOf(rx, m);
      return user === undefined ? { outcome: 'matched', ip, regex: i } : { outcome: 'matched', ip, regex: i, user };
    }
    return MISSED;
  }

  /** The first pair whose opening matches, with the address it names (if any). */
  opening(content: string | null): Opening | null {
    if (content === null) return null;
    const pairs = this.parts.pairs;
    for (let i = 0; i < pairs.length; i++) {
      const rx = pairs[i]!.open;
      if (!mayMatch(rx, content)) continue;
      if (rx.prefixOnly) return { pair: i, ip: null };
      const m = rx.re.exec(content);
      if (m !== null) return { pair: i, ip: hostOf(rx, m) };
    }
    return null;
  }

  /** Whether `fragment` completes pair `i`; the addresses it names (two when it reads two ways). */
  closing(i: number, fragment: string): { ips: Address[] } | null {
    const rx = this.parts.pairs[i]!.close;
    if (rx === null) return { ips: [] };
    if (rx.literal !== null && fragment.indexOf(rx.literal) < 0) return null;
    const m = rx.re.exec(fragment);
    if (m === null) return null;
    const ip = hostOf(rx, m);
    if (ip === null) return { ips: [] };
    const other = otherReading(rx, fragment, m, ip);
    return { ips: other === null ? [ip] : [ip, other] };
  }
}

/** Cheap necessary condition before running the regex. */
function mayMatch(rx: Rx, content: string): boolean {
  if (rx.prefix !== null) return content.startsWith(rx.prefix);
  return rx.literal === null || content.indexOf(rx.literal) >= 0;
}

export function toMatch(v: Verdict & { outcome: 'matched' }, time: number | null, line: string, lineNo: number): FilterMatch {
  const m: FilterMatch = { ip: v.ip.text, family: v.ip.family, time, regex: v.regex, line, lineNo };
  if (v.user !== undefined) m.user = v.user;
  return m;
}
