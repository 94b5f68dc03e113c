import { AsteriskBanError } from '../core/errors.js';
import type { FilterDefinition, Located } from '../settings/types.js';
import type { CompiledFilter, LineMatcher, MatcherHooks, MatcherOptions } from './types.js';
import { compileRx } from './rx.js';
import { coverLiterals, escapeLiteral } from './literal.js';
import type { Rx } from './rx.js';
import { DateFinder, DateResolver } from './date.js';
import { DatePattern, defaultDatePattern } from './datepattern.js';
import { InjectionAwareMatcher } from './matcher.js';
import { LineEngine } from './engine.js';
import type { FilterParts, InjectionPair } from './engine.js';

export type { CompiledFilter, LineMatcher, MatcherHooks, FilterMatch, LineOutcome } from './types.js';
export { LINE_OUTCOMES } from './types.js';

export interface CompileOptions {
  /** 'UTC', 'local' (default) or an offset such as '+0100', for dates that carry none. */
  timezone?: string;
  /** The injected clock's now(), for dates without a year. */
  now?: () => number;
}

/** Lines of a list option; from the definition when the settings loader set it, else from vars (no line numbers). */
function listOption(def: FilterDefinition, key: 'openregex' | 'closeregex' | 'tailregex'): Located[] {
  const given = def[key];
  if (given !== undefined) return given;
  const text = def.vars[key];
  if (text === undefined) return [];
  return text.split('\n').filter((l) => l.trim() !== '').map((value) => ({ value, file: def.file, line: 0 }));
}

/** One regex of literals, or null when there are none to screen on. */
function alternation(lits: string[] | null): RegExp | null {
  return lits === null || lits.length === 0 ? null : new RegExp(lits.map(escapeLiteral).join('|'));
}

/**
 * Compiles a filter.d definition: fail2ban regex semantics (Python syntax,
 * <HOST> and friends, prefregex with <F-CONTENT>, datepattern), plus
 * openregex/closeregex pairs that make the matcher injection-aware.
 * Throws AsteriskBanError E_REGEX / E_FILTER naming the offending line.
 */
export function compileFilter(def: FilterDefinition, opts: CompileOptions = {}): CompiledFilter {
  const vars = def.vars;
  const failregex = def.failregex.flatMap((l) => compileRx(l, { vars, key: 'failregex', needsHost: true }));
  if (failregex.length === 0) {
    throw new AsteriskBanError('E_FILTER', `filter "${def.name}" has no failregex`, { location: { file: def.file }, hint: 'add at least one failregex line with <HOST>' });
  }
  const ignoreregex = def.ignoreregex.flatMap((l) => compileRx(l, { vars, key: 'ignoreregex', needsHost: false }));
  let prefregex: Rx | null = null;
  if (def.prefregex !== null && def.prefregex.value.trim() !== '') {
    const list = compileRx(def.prefregex, { vars, key: 'prefregex', needsHost: false });
    if (list.length !== 1) throw new AsteriskBanError('E_FILTER', 'prefregex must be a single regex', { location: { file: def.prefregex.file, line: def.prefregex.line } });
    prefregex = list[0]!;
  }
  const opens = listOption(def, 'openregex').flatMap((l) => compileRx(l, { vars, key: 'openregex', needsHost: false }));
  const closes = listOption(def, 'closeregex').flatMap((l) => compileRx(l, { vars, key: 'closeregex', needsHost: false }));
  if (opens.length !== closes.length) {
    const [o, c] = [listOption(def, 'openregex')[0], listOption(def, 'closeregex')[0]];
    const where = (l: Located | undefined): string => (l && l.line > 0 ? ` (${l.file}:${l.line})` : '');
    throw new AsteriskBanError('E_FILTER', `filter "${def.name}" has ${opens.length} openregex${where(o)} but ${closes.length} closeregex${where(c)} lines`, {
      location: o && o.line > 0 ? { file: o.file, line: o.line } : { file: def.file },
      hint: 'openregex and closeregex are pairs: the n-th closeregex completes the n-th openregex',
    });
  }
  const tails = listOption(def, 'tailregex').flatMap((l) => compileRx(l, { vars, key: 'tailregex', needsHost: true }));
  const pairs: InjectionPair[] = [
    ...opens.map((open, i) => ({ open, close: closes[i]!, tail: false })),
    ...tails.map((open) => ({ open, close: null, tail: true })),
  ];
  const resolver = new DateResolver(opts);
  const patterns = def.datepattern !== null && def.datepattern.value.trim() !== ''
    ? def.datepattern.value.split('\n').filter((v) => v.trim() !== '').map((value) => new DatePattern({ ...def.datepattern!, value }))
    : [defaultDatePattern()];
  const parts: FilterParts = {
    name: def.name, failregex, ignoreregex, prefregex, pairs, dates: () => new DateFinder(patterns, resolver),
    screen: null, chunkScreen: null, anchoredDates: patterns.every((d) => d.anchored),
  };
  const screen = alternation(coverLiterals([...failregex, ...opens, ...tails].map((r) => r.runs)));
  parts.screen = screen;
  parts.chunkScreen = screen === null ? null : new RegExp(screen.source, 'g');
  return {
    name: def.name,
    failregex: failregex.map((r) => r.source),
    reasons: reasonNames(def, failregex),
    openregex: [...opens, ...tails].map((r) => r.source),
    screen,
    matcher(hooks: MatcherHooks, mopts?: MatcherOptions): LineMatcher {
      return new InjectionAwareMatcher(new LineEngine(parts), hooks, mopts);
    },
  };
}

/** Options of a filter file that are not regexes one could be named after. */
const NOT_NAMES = new Set(['failregex', 'ignoreregex', 'prefregex', 'datepattern', 'openregex', 'closeregex', 'tailregex', 'mode', 'logtype']);

/**
 * A name in words for each failregex, for logs, ban records and mail: the
 * filter option it came from (the shipped filter names each regex after
 * the Asterisk message it matches: `sip_register`, `iax_auth`...), else
 * the file and its number (`asterisk.conf failregex 3`).
 */
function reasonNames(def: FilterDefinition, failregex: Rx[]): string[] {
  const byText = new Map<string, string>();
  for (const [name, value] of Object.entries(def.vars)) {
    if (name.startsWith('_') || name.includes('/') || NOT_NAMES.has(name) || value.includes('\n')) continue;
    if (!byText.has(value.trim())) byText.set(value.trim(), name);
  }
  const file = def.file.split('/').at(-1) ?? def.file;
  return failregex.map((rx, i) => byText.get(rx.source) ?? `${file} failregex ${i}`);
}

/** A filter of one regex given on the command line (test-filter's third form). */
export function definitionFromRegex(regex: string): FilterDefinition {
  return { name: 'command line', file: '<command line>', failregex: [{ value: regex, file: '<command line>', line: 1 }], ignoreregex: [], prefregex: null, datepattern: null, vars: {} };
}
