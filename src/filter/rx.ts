import { parseAddress } from '../core/address.js';
import type { Address } from '../core/address.js';
import { AsteriskBanError } from '../core/errors.js';
import type { Location } from '../core/errors.js';
import type { Located } from '../settings/types.js';
import { expandTags, substituteVars } from './tags.js';
import { translatePythonRegex, compileJs } from './python-regex.js';
import { anchoredPrefix, escapeLiteral, longestRun, requiredRuns } from './literal.js';

/** One failregex/ignoreregex/openregex/closeregex line, ready to run. */
export interface Rx {
  readonly re: RegExp;
  /** The text as written in the filter. */
  readonly source: string;
  readonly location: Location;
  readonly hostGroups: readonly string[];
  readonly hasUser: boolean;
  readonly hasContent: boolean;
  readonly nofail: boolean;
  /** A literal every matching text contains, for cheap screening; null when none could be derived. */
  readonly literal: string | null;
  /** All literal runs every matching text contains (null: none could be derived). */
  readonly runs: string[] | null;
  /** The literal every matching text starts with (a `^literal` regex), checked with startsWith. */
  readonly prefix: string | null;
  /** The whole regex is `^` and that literal: startsWith decides, no regex run needed. */
  readonly prefixOnly: boolean;
  /**
   * A `.*` or `.+` stands before the address: attacker text there may make
   * the line readable with another address too (see otherReading()).
   */
  readonly twoWay: boolean;
}

export interface RxOptions {
  vars: Record<string, string>;
  /** What the regex is, for messages: failregex, prefregex... */
  key: string;
  /** Whether an address tag is required (failregex, closeregex with no opening address). */
  needsHost: boolean;
}

const MAX_REGEX_CHARS = 16 * 1024;

/**
 * Compiles fail2ban regex text. One written line may expand to several
 * regexes when a variable holds a multi-line list (fail2ban's
 * `<mdre-<mode>>` idiom), so this returns a list.
 */
export function compileRx(loc: Located, opts: RxOptions): Rx[] {
  const location: Location = { file: loc.file, line: loc.line > 0 ? loc.line : undefined };
  const expanded = substituteVars(loc.value, opts.vars, location);
  const out: Rx[] = [];
  for (const piece of expanded.split('\n')) {
    const text = piece.trim();
    if (text === '') continue;
    if (text.length > MAX_REGEX_CHARS) throw new AsteriskBanError('E_REGEX', `${opts.key} is longer than ${MAX_REGEX_CHARS} characters`, { location });
    const tags = expandTags(text, location);
    if (opts.needsHost && tags.hostGroups.length === 0) {
      throw new AsteriskBanError('E_REGEX', `${opts.key} "${text.slice(0, 100)}" has no <HOST> (or <ADDR>, <IP4>, <IP6>, <SUBNET>) tag`, {
        location,
        hint: `every ${opts.key} must say where the address is`,
      });
    }
    const t = translatePythonRegex(tags.pattern, location);
    const re = compileJs(t.source, t.flags, text, location);
    const runs = t.flags.includes('i') ? null : requiredRuns(t.source);
    const prefix = t.flags.includes('i') || t.flags.includes('m') ? null : anchoredPrefix(t.source);
    const literal = longestRun(runs);
    out.push({
      re,
      source: text,
      location,
      hostGroups: tags.hostGroups,
      hasUser: tags.fieldGroups.includes('F_USER') || tags.fieldGroups.includes('F_ALT_USER') || tags.fieldGroups.includes('F_ID'),
      hasContent: tags.fieldGroups.includes('F_CONTENT'),
      nofail: tags.fieldGroups.includes('F_NOFAIL'),
      literal,
      runs: runs === null || runs.length === 0 ? null : runs,
      prefix,
      prefixOnly: prefix !== null && tags.hostGroups.length === 0 && tags.fieldGroups.length === 0 && t.source === `^${escapeLiteral(prefix)}`,
      twoWay: tags.hostGroups.length > 0 && /(?:^|[^\\])\.[*+]/.test(text.slice(0, Math.max(0, text.search(HOST_TAG)))),
    });
  }
  return out;
}

/** The first address group that captured a valid address; null when none did. */
export function hostOf(rx: Rx, m: RegExpExecArray): Address | null {
  const g = m.groups;
  if (!g) return null;
  for (const name of rx.hostGroups) {
    const v = g[name];
    if (v !== undefined) return parseAddress(v);
  }
  return null;
}

const HOST_TAG = /<(?:HOST|ADDR|IP4|IP6|SUBNET)>/;

/** The text the first address group captured (as written in the line). */
function rawHostOf(rx: Rx, m: RegExpExecArray): string | null {
  const g = m.groups;
  if (!g) return null;
  for (const name of rx.hostGroups) {
    const v = g[name];
    if (v !== undefined) return v;
  }
  return null;
}

/**
 * For a twoWay regex that matched `m` on `text`: the address another reading
 * of the same line yields, or null when there is none. Every place the
 * matched address is written is blotted out and the regex run again: a line
 * in which the attacker wrote a second, well-placed address still matches,
 * with that one. Such a line names two candidates and counts for neither.
 */
export function otherReading(rx: Rx, text: string, m: RegExpExecArray, ip: Address): Address | null {
  if (!rx.twoWay) return null;
  const raw = rawHostOf(rx, m);
  if (raw === null || raw === '') return null;
  const again = rx.re.exec(text.split(raw).join('\u0000'));
  if (again === null) return null;
  const other = hostOf(rx, again);
  return other !== null && other.text !== ip.text ? other : null;
}

const MAX_USER = 128;

export function userOf(rx: Rx, m: RegExpExecArray): string | undefined {
  if (!rx.hasUser || !m.groups) return undefined;
  const u = m.groups.F_USER ?? m.groups.F_ALT_USER ?? m.groups.F_ID;
  return u === undefined ? undefined : u.slice(0, MAX_USER);
}
