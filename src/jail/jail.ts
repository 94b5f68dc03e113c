import type { Clock, TimerHandle } from '../core/clock.js';
import { isPrefixText, parseAddress, parseBanTarget, targetOf, type Address, type BanTarget } from '../core/address.js';
import { ThrottledLog, type Logger } from '../core/logger.js';
import type { BanRequest, Failure } from '../core/types.js';
import type { JailSettings } from '../settings/types.js';
import { metrics } from '../control/metrics.js';
import { FailureCounter } from './counter.js';
import { isPeerEntry } from './ignore.js';

/** What the jail needs of an ignore list (src/jail/ignore.ts provides it). */
export interface AddressFilter {
  has(addr: Address): boolean;
  /** The entry that makes addr ignored, for saying why. */
  why?(addr: Address): string | null;
  /** The entry that overlaps an IPv6 prefix, which then must not be banned whole. */
  overlapping?(target: BanTarget): string | null;
}

export interface JailDeps {
  clock: Clock;
  logger: Logger;
  ignore?: AddressFilter;
  /** Called synchronously the moment an address reaches maxretry. */
  onBan(req: BanRequest): void;
}

export interface JailCounters {
  currentlyFailed: number;
  totalFailed: number;
  ignored: number;
  /** Failures dated before findtime: ignored, as fail2ban does. */
  tooOld: number;
  /** Failures dated after now: counted as now. */
  future: number;
  /** Log failures not counted: the address logged in over AMI within ignore_recent_success. */
  recentSuccess: number;
}

// Addresses remembered for ignore_recent_success; the oldest go first beyond it.
const MAX_SUCCESSES = 100_000;

// A clock a second ahead is skew, not a forged date; only beyond it is counted.
const FUTURE_SLACK_MS = 1_000;
const SWEEP_MIN_MS = 1_000;
const SWEEP_MAX_MS = 60_000;

/**
 * One jail: ignore rules, the failure counter and the thresholds. It decides
 * that an address must be banned; verifying and applying is done downstream.
 */
export class Jail {
  readonly name: string;
  private settings: JailSettings;
  private readonly deps: JailDeps;
  private counter: FailureCounter;
  private readonly reasonCodes = new Map<string, number>();
  private readonly reasonNames: string[] = [];
  private sweepTimer: TimerHandle | null = null;
  private totalFailed = 0;
  private ignored = 0;
  private tooOld = 0;
  private future = 0;
  private recentSuccess = 0;
  private stopped = false;
  private readonly dateWarnings: ThrottledLog;
  private readonly ignoreWarnings: ThrottledLog;
  /** Address -> ms of its last successful AMI login (only with ignore_recent_success). */
  private readonly successes = new Map<string, number>();

  constructor(settings: JailSettings, deps: JailDeps) {
    this.name = settings.name;
    this.settings = settings;
    this.deps = deps;
    this.dateWarnings = new ThrottledLog(deps.logger, 600_000, deps.clock);
    this.ignoreWarnings = new ThrottledLog(deps.logger, 60_000, deps.clock);
    this.counter = new FailureCounter(this.counterOptions(settings));
    this.scheduleSweep();
  }

  get options(): JailSettings {
    return this.settings;
  }

  /**
   * Counts one failure; requests a ban at once when it is the maxretry-th
   * inside findtime. Returns the canonical address when the failure counted
   * (not ignored, not dropped).
   */
  addFailure(f: Failure): string | null {
    if (this.stopped) return null;
    const addr = parseAddress(f.ip);
    if (!addr) {
      this.deps.logger.warn('failure dropped: address does not parse', { jail: this.name, source: f.source });
      return null;
    }
    if (this.deps.ignore?.has(addr)) {
      this.ignored++;
      metrics.ignored.inc({ jail: this.name });
      const why = this.deps.ignore.why?.(addr);
      if (why && isPeerEntry(why)) {
        this.ignoreWarnings.warn(`peer:${addr.text}`, `not counting a failure from ${addr.text}: Asterisk trusts it (${why}); a forged log line or a misconfigured peer`, { jail: this.name, ip: addr.text, source: f.source });
      }
      return null;
    }
    if (f.source === 'log' && this.loggedInRecently(addr.text)) {
      this.recentSuccess++;
      this.ignoreWarnings.info(`success:${addr.text}`, `not counting a log failure from ${addr.text}: it logged in over AMI within ignore_recent_success (${this.settings.ignoreRecentSuccess}s)`, { jail: this.name, ip: addr.text });
      return null;
    }
    const time = this.takenTime(f);
    if (time === null) return null;
    this.totalFailed++;
    this.failureCounter(f).inc();
    const key = this.keyOf(addr);
    const hit = this.counter.add(key, time, this.reasonCode(f.reason));
    if (this.deps.logger.isDebugEnabled()) {
      const who = key === addr.text ? addr.text : `${addr.text} (${key})`;
      this.deps.logger.debug(`Found ${who} [${this.name}] ${f.reason} (${f.source}) ${hit.count}/${this.settings.maxretry}`, { jail: this.name, ip: addr.text });
    }
    if (hit.count < this.settings.maxretry) return addr.text;
    this.counter.clear(key);
    // Earlier failures are known by their count key only: for a prefix, the prefix.
    const failures: Failure[] = hit.times.slice(0, -1).map((time, i) => ({
      ip: key,
      family: addr.family,
      time,
      source: f.source,
      reason: this.reasonNames[hit.reasons[i]!] ?? f.reason,
    }));
    failures.push({ ...f, ip: addr.text, family: addr.family, time });
    const target = key === addr.text ? key : this.prefixOrAddress(addr);
    this.deps.onBan({
      jail: this.name,
      ip: target,
      family: addr.family,
      ...(target === addr.text ? {} : { address: addr.text }),
      time,
      source: f.source,
      reason: f.reason,
      failures,
    });
    return addr.text;
  }

  /** The prefix, unless an ignored address lies inside it: then the address alone, said once a minute. */
  private prefixOrAddress(addr: Address): string {
    const prefix = targetOf(addr, this.settings.ipv6Prefix);
    const why = this.deps.ignore?.overlapping?.(prefix);
    if (why == null) return prefix.text;
    this.ignoreWarnings.warn(`overlap:${prefix.text}`, `banning ${addr.text} alone, not ${prefix.text}: the prefix holds an ignored address (${why})`, { jail: this.name, ip: addr.text });
    return addr.text;
  }

  /** What a failure counts under: IPv6 by its ipv6_prefix (a /64 source would otherwise rotate addresses forever). */
  private keyOf(addr: Address): string {
    return addr.family === 4 || this.settings.ipv6Prefix >= 128 ? addr.text : targetOf(addr, this.settings.ipv6Prefix).text;
  }

  /**
   * A failure's date, as the counter may take it, or null to ignore it. A log
   * line dated years ago must not ban now, and one dated next year must not
   * keep its address (and every address behind it) from expiring.
   */
  private takenTime(f: Failure): number | null {
    const now = this.deps.clock.now();
    const oldest = now - this.settings.findtime * 1000;
    if (f.time >= oldest && f.time <= now) return f.time;
    // AMI events arrive as they happen: a date off the window is Asterisk's clock, not the event's age.
    if (f.source !== 'log') return now;
    if (f.time < oldest) {
      this.tooOld++;
      metrics.logDates.inc({ jail: this.name, kind: 'too_old' });
      this.dateWarnings.warn('old', `log line dated ${dateText(f.time)} is older than findtime (${this.settings.findtime}s): ignored; if the log's clock or time zone differs from this host's, its lines will never count`, { jail: this.name });
      return null;
    }
    if (f.time > now + FUTURE_SLACK_MS) {
      this.future++;
      metrics.logDates.inc({ jail: this.name, kind: 'future' });
      this.dateWarnings.warn('future', `log line dated ${dateText(f.time)}, after now: counted as now`, { jail: this.name });
    }
    return now;
  }

  /** An address proved legitimate (or was banned by hand): forget its failures. */
  clearFailures(ip: string): void {
    if (isPrefixText(ip)) {
      const target = parseBanTarget(ip);
      if (target) this.counter.clear(target.text);
      return;
    }
    const addr = parseAddress(ip);
    if (addr) this.counter.clear(this.keyOf(addr));
  }

  /** A successful AMI login: remembered for ignore_recent_success, and its failures forgotten when `clears`. */
  succeeded(ip: string, clears: boolean): void {
    const addr = parseAddress(ip);
    if (!addr) return;
    if (clears) this.counter.clear(this.keyOf(addr));
    if (this.settings.ignoreRecentSuccess <= 0) return;
    this.successes.delete(addr.text);
    if (this.successes.size >= MAX_SUCCESSES) this.successes.delete(this.successes.keys().next().value as string);
    this.successes.set(addr.text, this.deps.clock.now());
  }

  private loggedInRecently(ip: string): boolean {
    const window = this.settings.ignoreRecentSuccess * 1000;
    if (window <= 0) return false;
    const at = this.successes.get(ip);
    return at !== undefined && this.deps.clock.now() - at <= window;
  }

  counters(): JailCounters {
    return { currentlyFailed: this.counter.size, totalFailed: this.totalFailed, ignored: this.ignored, tooOld: this.tooOld, future: this.future, recentSuccess: this.recentSuccess };
  }

  /** The addresses failing now (inside findtime, not banned yet), most failures first. */
  failing(limit = 50): { ip: string; count: number }[] {
    return this.counter.failing(this.deps.clock.now(), limit);
  }

  /** Applies changed settings; failure counts survive when the thresholds allow it. */
  reconfigure(settings: JailSettings, ignore?: AddressFilter): void {
    this.settings = settings;
    if (ignore) this.deps.ignore = ignore;
    if (!this.counter.reconfigure(this.counterOptions(settings))) {
      this.counter = new FailureCounter(this.counterOptions(settings));
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.sweepTimer) this.deps.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }

  private counterOptions(s: JailSettings) {
    return { maxretry: s.maxretry, findtime: s.findtime * 1000, maxtracked: s.maxtracked };
  }

  // Label lookups cost more than the count itself on the AMI hot path; reasons are few.
  private readonly counterCache = new Map<string, { inc(): void }>();

  private failureCounter(f: Failure): { inc(): void } {
    const key = `${f.source}\u0000${f.reason}`;
    let c = this.counterCache.get(key);
    if (!c) {
      c = metrics.failures.labels({ jail: this.name, source: f.source, event: f.reason.slice(0, 64) });
      if (this.counterCache.size < 1024) this.counterCache.set(key, c);
    }
    return c;
  }

  private reasonCode(reason: string): number {
    let code = this.reasonCodes.get(reason);
    if (code === undefined) {
      // Reasons are event names or regex ids; an attacker cannot mint new ones,
      // but cap the table anyway.
      if (this.reasonNames.length >= 65_535) return 0;
      code = this.reasonNames.length;
      this.reasonNames.push(reason.slice(0, 128));
      this.reasonCodes.set(reason, code);
    }
    return code;
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
    const every = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, (this.settings.findtime * 1000) / 10));
    this.sweepTimer = this.deps.clock.setTimeout(() => {
      this.counter.expire(this.deps.clock.now());
      this.scheduleSweep();
    }, every);
    this.sweepTimer.unref?.();
  }
}

function dateText(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
