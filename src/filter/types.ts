/** What a filter reports for a log line whose failregex matched. */
export interface FilterMatch {
  ip: string;
  family: 4 | 6;
  /** ms epoch from the line's own date; null when the line carried none. */
  time: number | null;
  /**
   * Index into the filter's failregex list; an index at or past its end is
   * the opening/closing pair `regex - failregex.length` (see CompiledFilter.openregex).
   */
  regex: number;
  /** <F-USER>/<F-ID> text when the regex captures it (attacker-controlled, display only). */
  user?: string;
  line: string;
  /** 1-based number of the line among those pushed into this matcher. */
  lineNo: number;
}

export type LineOutcome = 'matched' | 'ignored' | 'missed' | 'injected';

export interface MatcherHooks {
  onMatch(m: FilterMatch): void;
  /** Every line's outcome, for test-filter; omitted on the hot path. */
  onLine?(lineNo: number, line: string, outcome: LineOutcome, m?: FilterMatch): void;
  /** Outcome of a run of lines passed to skip() (never 'matched'). */
  onGap?(lines: number, outcome: LineOutcome): void;
}

/**
 * A stateful matcher for one stream of lines (one log file). It may hold a
 * line back until the next ones show whether an injection started there.
 */
export interface LineMatcher {
  /** One complete line, without its newline. */
  push(line: string): void;
  /** Idle or end of input: decide every line held back. */
  flush(): void;
  /**
   * Counts `lines` lines (of `bytes` characters) the caller screened out with
   * CompiledFilter.screen, so line numbers and the hold bound stay exact.
   */
  skip?(lines: number, bytes: number): void;
  /**
   * Many '\n'-separated lines at once, screened cheaply (the fast path for
   * test-filter and read-back); onLine is not called for lines skipped, onGap is.
   */
  pushLines?(text: string): void;
}

export interface CompiledFilter {
  readonly name: string;
  /** The failregex sources as written, for reports. */
  readonly failregex: readonly string[];
  /** Opening patterns of injection-aware pairs, as written (match index = failregex.length + i). */
  readonly openregex?: readonly string[];
  /**
   * Matches (unanchored) every line that could match, open or close
   * anything; a line it does not match can be skipped. Null when some
   * regex has no literal to screen on.
   */
  readonly screen?: RegExp | null;
  matcher(hooks: MatcherHooks): LineMatcher;
}
