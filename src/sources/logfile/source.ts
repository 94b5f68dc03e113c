import type { Clock, TimerHandle } from '../../core/clock.js';
import { ThrottledLog, type Logger } from '../../core/logger.js';
import type { Failure } from '../../core/types.js';
import { printable } from '../../core/address.js';
import { metrics } from '../../control/metrics.js';
import type { CompiledFilter, FilterMatch } from '../../filter/types.js';
import type { Source, SourceEvents, SourceStatus } from '../types.js';
import { LineFeed, type LogMode } from './feed.js';
import { LoggerDrops } from './logger-drops.js';
import { LogFollower, type FollowState } from './follower.js';
import { expandGlob, hasGlob } from './glob.js';
import type { PositionStore } from './positions.js';
import { asteriskLineTime } from './readback.js';
import type { RecentLimits } from './recent.js';

export interface LogSourceOptions {
  jail: string;
  /** Files to follow; `*` and `?` are expanded, and re-expanded every globEveryMs. */
  paths: string[];
  filter: CompiledFilter;
  /** For mode `gaps` (backend = auto while AMI is up). */
  gapFilter?: CompiledFilter;
  clock: Clock;
  logger: Logger;
  positions?: PositionStore;
  events: SourceEvents;
  /**
   * With no saved position, start at the first line dated within this many ms
   * (the jail's findtime) instead of the end. Lines are dated by `lineTime`;
   * the scan goes back at most 16 MiB. Only files present at start.
   */
  readbackMs?: number;
  /** Dates a line for read-back (default: Asterisk's `%F %T` in local time); pass one that agrees with the filter's timezone. */
  lineTime?: (line: string) => number | null;
  pollMs?: number;
  /** Default 5000. */
  globEveryMs?: number;
  mode?: LogMode;
  maxLineBytes?: number;
  recent?: Partial<RecentLimits>;
  /** fs.watch as well as polling (default true). */
  watch?: boolean;
}

/** Failure.raw is bounded: it travels into ban records and mails. */
export const RAW_MAX = 512;
/** At most this many files per glob pattern. */
const GLOB_LIMIT = 256;
/** Inodes remembered to tell a rotated file (matched by a glob too) from a new one. */
const SEEN_INODES = 4096;

interface Followed {
  follower: LogFollower;
  feed: LineFeed;
}

/**
 * The log back end of a jail: one follower and one line feed per file,
 * matches turned into Failures. Knows nothing of bans.
 */
export class LogSource implements Source {
  readonly name: string;
  private readonly o: LogSourceOptions;
  private readonly files = new Map<string, Followed>();
  private readonly seenInodes = new Set<string>();
  private readonly unmatched = new Map<string, number>();
  private modeValue: LogMode;
  private globTimer: TimerHandle | null = null;
  private started = false;
  private stopped = false;
  private readonly lineCounter;
  private readonly matchCounter;
  private readonly injectedCounter;
  private readonly ambiguousCounter;
  private readonly throttled: ThrottledLog;
  private readonly drops = new LoggerDrops();

  constructor(opts: LogSourceOptions) {
    this.o = opts;
    this.name = `${opts.jail}/log`;
    this.modeValue = opts.mode ?? 'full';
    this.lineCounter = metrics.logLines.labels(opts.jail);
    this.matchCounter = metrics.logMatched.labels(opts.jail);
    this.injectedCounter = metrics.logInjected.labels(opts.jail);
    this.ambiguousCounter = metrics.logAmbiguous.labels(opts.jail);
    this.throttled = new ThrottledLog(opts.logger, 60_000, opts.clock);
  }

  get mode(): LogMode {
    return this.modeValue;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.expand(true);
    this.scheduleGlob();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.globTimer) this.o.clock.clearTimeout(this.globTimer);
    for (const { follower, feed } of this.files.values()) {
      await follower.stop();
      feed.flush();
    }
  }

  /** backend = auto: see LineFeed for how the switch stays gap-free. */
  setMode(mode: LogMode, sinceMs?: number): void {
    if (mode === 'gaps' && !this.o.gapFilter && this.modeValue !== 'gaps') {
      this.o.logger.info('log source has no gap filter: counting nothing from the log while AMI is up', { jail: this.o.jail });
    }
    this.modeValue = mode;
    for (const { feed } of this.files.values()) feed.setMode(mode, sinceMs);
  }

  /** Reads every followed file now (tests, and `reload`). */
  async check(): Promise<void> {
    await Promise.all([...this.files.values()].map(({ follower }) => follower.check(true)));
  }

  status(): SourceStatus[] {
    const out: SourceStatus[] = [];
    for (const [path, { follower }] of this.files) {
      const problem = follower.problem;
      out.push({
        name: this.name, kind: 'log', state: stateOf(follower.state), since: follower.since, detail: problem ? `${path}: ${problem}` : path, grewAt: follower.grewAt,
        asteriskDiscarded: this.drops.discarded, asteriskDiscardingSince: this.drops.discardingSince,
      });
    }
    for (const [pattern, since] of this.unmatched) {
      out.push({ name: this.name, kind: 'log', state: 'waiting', since, detail: pattern });
    }
    return out;
  }

  private async expand(initial: boolean): Promise<void> {
    for (const pattern of this.o.paths) {
      if (this.stopped) return;
      if (!hasGlob(pattern)) {
        if (!this.files.has(pattern)) await this.follow(pattern, 'end');
        continue;
      }
      let found: string[];
      try {
        found = await expandGlob(pattern, GLOB_LIMIT);
      } catch {
        found = [];
      }
      if (found.length === 0) {
        if (!this.unmatched.has(pattern)) this.unmatched.set(pattern, this.o.clock.now());
        continue;
      }
      this.unmatched.delete(pattern);
      for (const path of found) {
        if (this.files.has(path) || this.stopped) continue;
        // A file that appears later is new (read it all), unless it is one we read under another name.
        await this.follow(path, initial ? 'end' : 'start');
      }
    }
  }

  private async follow(path: string, startAt: 'end' | 'start'): Promise<void> {
    const o = this.o;
    const feed = new LineFeed({
      filter: o.filter,
      gapFilter: o.gapFilter,
      clock: o.clock,
      mode: this.modeValue,
      recent: o.recent,
      count: (m, filter) => this.count(m, filter),
      injected: (lines) => this.injectedCounter.inc(lines),
      ambiguous: (line, candidates) => {
        this.ambiguousCounter.inc();
        this.throttled.warn(`ambiguous:${path}`, `a log message carried attacker line breaks and names several addresses (${candidates.map((c) => printable(c)).join(', ')}): counted for none`, {
          jail: o.jail, path: printable(path), line: printable(line, 300),
        });
      },
    });
    const follower = new LogFollower({
      path,
      clock: o.clock,
      logger: o.logger,
      positions: o.positions,
      pollMs: o.pollMs,
      watch: o.watch,
      maxLineBytes: o.maxLineBytes,
      startAt,
      readback: o.readbackMs && o.readbackMs > 0 && startAt === 'end' ? { ms: o.readbackMs, lineTime: o.lineTime ?? asteriskLineTime } : undefined,
      onOpen: (ino, dev) => {
        const key = `${dev}:${ino}`;
        const known = this.seenInodes.has(key);
        this.remember(key);
        if (!known || startAt !== 'start') return;
        // messages.1 matched by a glob is the messages we already read: skip what is in it now.
        o.logger.info('glob matched a rotated copy of a followed log: counting only what is appended', { path: printable(path) });
        return 'end';
      },
      onLines: (lines) => {
        if (this.sameFileFollowed(path)) return;
        this.lineCounter.inc(lines.length);
        this.noteDrops(path, lines);
        feed.push(lines);
      },
      onIdle: () => feed.flush(),
    });
    this.files.set(path, { follower, feed });
    await follower.start();
    // stop() may have run while this follower was starting (a glob re-expansion).
    if (this.stopped) await follower.stop();
  }

  /**
   * The file at `path` is also followed under another name given earlier (a
   * symlink, or a glob and a plain path): only the first name counts it.
   */
  private sameFileFollowed(path: string): boolean {
    const id = this.files.get(path)?.follower.fileId;
    if (!id) return false;
    for (const [other, { follower }] of this.files) {
      if (other === path) return false;
      if (follower.reads(id)) {
        this.throttled.warn(`dup:${path}`, 'log file followed under two names: counting it once', { jail: this.o.jail, path: printable(path), as: printable(other) });
        return true;
      }
    }
    return false;
  }

  /** Asterisk's own word that it dropped log messages: said once a minute, counted in status and metrics. */
  private noteDrops(path: string, lines: readonly string[]): void {
    const now = this.o.clock.now();
    for (const d of this.drops.scan(lines, now)) {
      const meta = { jail: this.o.jail, path: printable(path) };
      if (d.kind === 'overflow') {
        metrics.asteriskOverflows.inc({ jail: this.o.jail });
        this.throttled.warn('asterisk-overflow', `Asterisk is discarding log messages (its logger queue passed ${d.limit}): failures in them cannot be seen in log mode; AMI events are not lost this way`, meta);
      } else {
        metrics.asteriskDiscarded.inc({ jail: this.o.jail }, d.discarded);
        this.throttled.warn('asterisk-resumed', `Asterisk discarded ${d.discarded} log message(s) before logging resumed (${this.drops.discarded} since start): attacks in them were not seen`, meta);
      }
    }
  }

  private remember(key: string): void {
    if (this.seenInodes.size >= SEEN_INODES) this.seenInodes.delete(this.seenInodes.values().next().value as string);
    this.seenInodes.add(key);
  }

  private count(m: FilterMatch, filter: CompiledFilter): void {
    this.matchCounter.inc();
    const f: Failure = {
      ip: m.ip,
      family: m.family,
      time: m.time ?? this.o.clock.now(),
      source: 'log',
      reason: filter.reasons[m.regex] ?? `failregex ${m.regex}`,
      raw: m.line.length > RAW_MAX ? m.line.slice(0, RAW_MAX) : m.line,
    };
    if (m.user !== undefined) f.account = m.user.slice(0, 128);
    if (m.suspect) f.suspect = true;
    this.o.events.failure(f);
  }

  private scheduleGlob(): void {
    if (this.stopped || !this.o.paths.some(hasGlob)) return;
    this.globTimer = this.o.clock.setTimeout(() => {
      void this.expand(false)
        .catch((err: unknown) => this.o.logger.warn(`log glob expansion failed: ${(err as Error).message}`, { jail: this.o.jail }))
        .then(() => this.scheduleGlob());
    }, this.o.globEveryMs ?? 5000);
    this.globTimer.unref?.();
  }
}

function stateOf(s: FollowState): SourceStatus['state'] {
  return s === 'stopped' ? 'closed' : s;
}
