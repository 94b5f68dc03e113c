import type { Clock } from '../../core/clock.js';
import type { CompiledFilter, FilterMatch, LineMatcher, MatcherHooks } from '../../filter/types.js';
import { DEFAULT_RECENT, RecentLines, type RecentLimits } from './recent.js';

/**
 * What the log counts: `full` (the log is the only source), `gaps` (AMI is
 * up: only what AMI does not report, through the gap filter), `off` (read,
 * keep positions, count nothing).
 */
export type LogMode = 'full' | 'gaps' | 'off';

export interface FeedOptions {
  filter: CompiledFilter;
  gapFilter?: CompiledFilter;
  clock: Clock;
  mode?: LogMode;
  recent?: Partial<RecentLimits>;
  /** How long after a switch to `gaps` lines are still read by both filters, split by their date. */
  handoverMs?: number;
  /**
   * `filter` is the one that matched (the full or the gap filter), for
   * naming the regex. m.suspect: count only if verification confirms m.ip.
   */
  count(m: FilterMatch, filter: CompiledFilter): void;
  /** Lines the filter recognised as attacker-injected. */
  injected?(lines: number): void;
  /** A message naming several candidate addresses: counted for none. */
  ambiguous?(line: string, candidates: string[]): void;
}

// The filter engine may offer a batch entry point that screens out lines
// which cannot match (most of a busy log). Screening must stay inside the
// engine: only it knows which dateless lines may complete an injected
// message, and skipping one of those would let the forged lines count.
type Batching = LineMatcher & { pushLines?(text: string): void };

function feedLines(m: Batching, lines: readonly string[]): void {
  if (m.pushLines && lines.length > 1) {
    m.pushLines(lines.join('\n'));
    return;
  }
  for (const line of lines) m.push(line);
}

/** Log dates usually have whole seconds: a line dated hh:mm:ss may have been written up to 999 ms later. */
const DATE_RESOLUTION_MS = 999;
const DEFAULT_HANDOVER_MS = 10_000;

/**
 * The lines of one file on their way into the filters, with the mode
 * switches of `backend = auto` made gap-free:
 * - to `full` with `sinceMs` (AMI was lost then): lines read but not counted
 *   whose date is at or after sinceMs are replayed through the full filter;
 * - to `gaps` with `sinceMs` (AMI is back since then): for handoverMs, every
 *   line goes through both filters; the full filter counts those dated
 *   before sinceMs (AMI did not see them), the gap filter those after.
 * An attempt is counted twice only when its date's second straddles sinceMs.
 */
export class LineFeed {
  private modeValue: LogMode;
  private readonly full: LineMatcher;
  private readonly gap: LineMatcher | null;
  private gapNo = 0;
  private readonly recent: RecentLines;
  /** During a handover to gaps: full matches dated before this count, gap matches from it on. */
  private handoverAt: number | null = null;
  private handoverEnd = 0;

  constructor(private readonly o: FeedOptions) {
    this.modeValue = o.mode ?? 'full';
    this.recent = new RecentLines({ ...DEFAULT_RECENT, ...o.recent });
    // The follower's idle (our flush) ends each read: the matchers may rely on it.
    const reads = { reads: true };
    this.full = o.filter.matcher(this.hooks((m) => {
      if (this.modeValue === 'full' || (this.handoverAt !== null && this.timeOf(m) < this.handoverAt)) o.count(m, o.filter);
    }), reads);
    this.gap = o.gapFilter
      ? o.gapFilter.matcher(this.hooks((m) => {
          this.recent.markGap(m.lineNo);
          if (this.handoverAt === null || this.timeOf(m) >= this.handoverAt) o.count(m, o.gapFilter!);
        }), reads)
      : null;
  }

  get mode(): LogMode {
    return this.modeValue;
  }

  push(lines: readonly string[]): void {
    if (this.modeValue === 'full') {
      feedLines(this.full, lines);
      return;
    }
    const now = this.o.clock.now();
    if (this.handoverAt !== null && now > this.handoverEnd) this.endHandover();
    const viaGap = this.modeValue === 'gaps' && this.gap !== null;
    for (const line of lines) this.recent.push(line, now, viaGap ? ++this.gapNo : 0);
    // The full filter first: in a handover, what it counts is dated before what the gap filter counts.
    if (this.handoverAt !== null) feedLines(this.full, lines);
    if (viaGap) feedLines(this.gap!, lines);
  }

  /** Caught up: let the matchers decide the lines they hold back. */
  flush(): void {
    this.full.flush();
    this.gap?.flush();
    if (this.handoverAt !== null && this.o.clock.now() > this.handoverEnd) this.endHandover();
  }

  setMode(mode: LogMode, sinceMs?: number): void {
    // Held-back lines are decided under the rules they were read with.
    this.full.flush();
    this.gap?.flush();
    this.handoverAt = null;
    const now = this.o.clock.now();
    if (mode === 'full') {
      const pending = this.recent.takePending(now);
      this.modeValue = mode;
      if (sinceMs !== undefined && pending.length > 0) this.replay(pending, sinceMs);
      return;
    }
    if (mode === 'gaps' && this.modeValue === 'full' && sinceMs !== undefined) {
      this.handoverAt = sinceMs;
      this.handoverEnd = now + (this.o.handoverMs ?? DEFAULT_HANDOVER_MS);
    }
    this.modeValue = mode;
  }

  private replay(pending: { line: string; at: number }[], sinceMs: number): void {
    const from = sinceMs - DATE_RESOLUTION_MS;
    const m = this.o.filter.matcher(this.hooks((match) => {
      const at = pending[match.lineNo - 1]?.at ?? this.o.clock.now();
      if ((match.time ?? at) >= from) this.o.count(match, this.o.filter);
    }, false));
    feedLines(m, pending.map((p) => p.line));
    m.flush();
  }

  private endHandover(): void {
    this.full.flush();
    this.handoverAt = null;
  }

  private timeOf(m: FilterMatch): number {
    return m.time ?? this.o.clock.now();
  }

  /** Suspect lines go the same way as matched ones (the consumer verifies them); replays report nothing twice. */
  private hooks(onMatch: (m: FilterMatch) => void, report = true): MatcherHooks {
    const { injected, ambiguous } = this.o;
    const h: MatcherHooks = { onMatch, onSuspect: onMatch };
    if (!report) return h;
    if (ambiguous) h.onAmbiguous = (_no, line, candidates) => ambiguous(line, candidates);
    if (injected) {
      h.onLine = (_no, _line, outcome) => {
        if (outcome === 'injected') injected(1);
      };
      h.onGap = (lines, outcome) => {
        if (outcome === 'injected') injected(lines);
      };
    }
    return h;
  }
}
