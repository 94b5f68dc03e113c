import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { ThrottledLog, type Logger } from '../core/logger.js';
import { parseAddress } from '../core/address.js';
import type { PacketWitness } from '../daemon/ban-gate.js';
import { originSource } from './verify.js';
import { metrics } from '../control/metrics.js';

export const RECENT_MAX = 1_000_000;
/** A source seen longer ago than this is asked about again (its flow may be long gone, or long-lived). */
export const RECENT_WINDOW_MS = 3_600_000;
const MAX_LINE = 4_096;
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 60_000;
/** A stream that dies this soon after starting, this many times in a row, is not coming back (no events here). */
const SHORT_LIFE_MS = 5_000;
const MAX_SHORT_LIVES = 5;

/**
 * Addresses that opened a flow here lately, oldest first out beyond `max`.
 * A Map keeps insertion order: a source seen again moves to the end.
 */
export class RecentSources {
  private readonly seen = new Map<string, number>();

  constructor(private readonly max = RECENT_MAX, private readonly windowMs = RECENT_WINDOW_MS) {}

  add(ip: string, at: number): void {
    this.seen.delete(ip);
    this.seen.set(ip, at);
    if (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value as string);
  }

  has(ip: string, now: number): boolean {
    const at = this.seen.get(ip);
    return at !== undefined && now - at <= this.windowMs;
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface ConntrackEventsOptions {
  logger: Logger;
  conntrack?: string;
  /** e.g. ['ip', 'netns', 'exec', 'NS'] in tests; empty on a real host. */
  prefix?: readonly string[];
  clock?: Clock;
  recent?: RecentSources;
  /** First restart delay (doubling up to a minute); tests shorten it. */
  restartMs?: number;
}

/**
 * Follows connection tracking's stream of new flows (`conntrack -E -e NEW`)
 * into RecentSources, so that "did this address send us packets" is a
 * lookup instead of a process per ban. The kernel drops events when the
 * stream's buffer overflows, and the stream may die: a miss is never a "no",
 * only a reason to ask conntrack itself (StreamedWitness).
 */
export class ConntrackEvents {
  readonly recent: RecentSources;
  private child: ChildProcess | null = null;
  private closed = false;
  private restartMs: number;
  private shortLives = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly clock: Clock;
  private readonly throttled: ThrottledLog;

  constructor(private readonly opts: ConntrackEventsOptions) {
    this.recent = opts.recent ?? new RecentSources();
    this.restartMs = opts.restartMs ?? RESTART_MIN_MS;
    this.clock = opts.clock ?? systemClock;
    this.throttled = new ThrottledLog(opts.logger, 60_000);
  }

  get running(): boolean {
    return this.child !== null;
  }

  start(): void {
    if (this.closed || this.child) return;
    const [file, ...pre] = [...(this.opts.prefix ?? []), this.opts.conntrack ?? 'conntrack'];
    const child = spawn(file!, [...pre, '-E', '-e', 'NEW'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const started = this.clock.now();
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      if (line.length > MAX_LINE) return;
      const src = originSource(line);
      if (src !== null) this.recent.add(src, this.clock.now());
    });
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
      if (/ENOBUFS|losing events/i.test(line)) {
        metrics.conntrackEventsLost.inc();
        this.throttled.warn('enobufs', 'conntrack event stream overflowed: events were lost; verification asks conntrack about addresses it missed');
      }
    });
    child.on('error', (e) => this.ended(child, `cannot run conntrack: ${e.message}`, started));
    child.on('close', (code, signal) => this.ended(child, `conntrack -E exited (${signal ?? `exit ${String(code)}`})`, started));
    // Never what keeps the daemon alive.
    child.unref();
    metrics.conntrackStreamUp.set(1);
  }

  close(): void {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    this.child = null;
    child?.kill('SIGTERM');
    metrics.conntrackStreamUp.set(0);
  }

  private ended(child: ChildProcess, why: string, started: number): void {
    if (this.child !== child) return;
    this.child = null;
    metrics.conntrackStreamUp.set(0);
    if (this.closed) return;
    const lived = this.clock.now() - started;
    this.shortLives = lived < SHORT_LIFE_MS ? this.shortLives + 1 : 0;
    if (this.shortLives >= MAX_SHORT_LIVES) {
      this.closed = true;
      this.opts.logger.warn(`${why}, ${MAX_SHORT_LIVES} times in a row at once: no conntrack events here; verification asks conntrack per batch from now on`);
      return;
    }
    // A stream that ran a while was fine: start again soon. One that dies at once backs off.
    const first = this.opts.restartMs ?? RESTART_MIN_MS;
    this.restartMs = lived > RESTART_MAX_MS ? first : Math.min(RESTART_MAX_MS, this.restartMs * 2);
    this.throttled.warn('ended', `${why}; verification asks conntrack per batch until it runs again (in ${(this.restartMs / 1000).toFixed(1)} s)`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.start();
    }, this.restartMs);
    this.restartTimer.unref();
  }
}

/**
 * A witness that answers from the event stream's record and asks the
 * fallback (one conntrack query per batch) only about the addresses the
 * record has not seen: a flood of real attackers costs no process at all.
 */
export class StreamedWitness implements PacketWitness {
  hits = 0;
  misses = 0;

  constructor(
    private readonly events: ConntrackEvents,
    private readonly fallback: PacketWitness,
    private readonly clock: Clock = systemClock,
  ) {}

  async seen(ips: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const ask: string[] = [];
    const now = this.clock.now();
    for (const ip of ips) {
      const text = parseAddress(ip)?.text;
      if (text === undefined) continue;
      if (this.events.recent.has(text, now)) found.add(text);
      else ask.push(text);
    }
    this.hits += found.size;
    this.misses += ask.length;
    metrics.verifyLookups.inc({ via: 'stream' }, found.size);
    metrics.verifyLookups.inc({ via: 'conntrack' }, ask.length);
    if (ask.length > 0) for (const ip of await this.fallback.seen(ask)) found.add(ip);
    return found;
  }
}
