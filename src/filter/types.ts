/** What a filter reports for a log line whose failregex matched. */
export interface FilterMatch {
  ip: string;
  family: 4 | 6;
  /** ms epoch from the line's own date; null when the line carried none. */
  time: number | null;
  /** Index into the filter's failregex list. */
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
}

export interface CompiledFilter {
  readonly name: string;
  /** The failregex sources as written, for reports. */
  readonly failregex: readonly string[];
  matcher(hooks: MatcherHooks): LineMatcher;
}
