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
  /**
   * The line came with a message that an attacker could extend with forged
   * lines, and names another address: count it only when verification
   * confirms that address sent packets.
   */
  suspect?: true;
}

/**
 * What the matcher decided for a line: counted (`matched`), counted only if
 * verified (`suspect`), a message with several candidate addresses that
 * counts no one (`ambiguous`), attacker text inside another message
 * (`injected`), or not a failure (`ignored`, `missed`).
 */
export type LineOutcome = 'matched' | 'ignored' | 'missed' | 'injected' | 'suspect' | 'ambiguous';

export const LINE_OUTCOMES: readonly LineOutcome[] = ['matched', 'suspect', 'ambiguous', 'injected', 'ignored', 'missed'];

export interface MatcherHooks {
  /** A line that counts. */
  onMatch(m: FilterMatch): void;
  /** A suspect line (m.suspect): counted only when verification confirms m.ip. Not counted when omitted. */
  onSuspect?(m: FilterMatch): void;
  /** A message with several candidate addresses, counted for none of them. */
  onAmbiguous?(lineNo: number, line: string, candidates: string[]): void;
  /**
   * Every line's outcome, for test-filter; omitted on the hot path. `m` for
   * matched and suspect lines; `candidates`: the addresses an uncounted line named.
   */
  onLine?(lineNo: number, line: string, outcome: LineOutcome, m?: FilterMatch, candidates?: string[]): void;
  /** Outcome of a run of lines passed to skip() (never 'matched'). */
  onGap?(lines: number, outcome: LineOutcome, firstNo: number): void;
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
  /** Lines taken in so far, skipped ones and those before MatcherOptions.from included. */
  readonly lines?: number;
  /** See InjectionAwareMatcher.stateKey. */
  stateKey?(): string;
}

export interface MatcherOptions {
  /**
   * The caller's flush() marks the end of a read (the daemon's follower), so
   * every line Asterisk wrote in one write has arrived by then. test-filter
   * reads a whole file and cannot tell; it relies on the dates alone.
   */
  reads?: boolean;
  /** Where the first line pushed lies in the file: lines before it, and its offset (a part of a split run). */
  from?: { lines: number; pos: number };
  /**
   * Every line gets its own label, even those pushLines() screens out inside
   * a held message (which otherwise come as runs through onGap): for
   * listings of lines.
   */
  everyLine?: boolean;
  /** Called before each line taken in one by one (not screened out in bulk), with the number it gets. */
  beforeLine?(lineNo: number): void;
}

export interface CompiledFilter {
  readonly name: string;
  /** The failregex sources as written, for reports. */
  readonly failregex: readonly string[];
  /** Each failregex's name in words (FilterMatch.regex indexes it), for logs, bans and mail. */
  readonly reasons: readonly string[];
  /** Opening patterns of injection-aware pairs (openregex, then tailregex), as written (match index = failregex.length + i). */
  readonly openregex?: readonly string[];
  /**
   * Matches (unanchored) every line that could match, open or close
   * anything; a line it does not match can be skipped. Null when some
   * regex has no literal to screen on.
   */
  readonly screen?: RegExp | null;
  matcher(hooks: MatcherHooks, opts?: MatcherOptions): LineMatcher;
}
