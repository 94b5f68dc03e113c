import type { Address } from '../../core/address.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Failure } from '../../core/types.js';

interface Outstanding {
  ip: string;
  family: 4 | 6;
  service: string | undefined;
  /** When the oldest unanswered challenge was sent. */
  since: number;
  count: number;
}

export const CHALLENGE_REASON = 'ChallengeSent-unanswered';

/**
 * Scanners that only collect digest challenges never fail an authentication,
 * so fail2ban never sees them. An address whose challenges go unanswered
 * (no SuccessfulAuth, no failure event) for `windowMs` is reported once per
 * unanswered challenge. Memory is bounded: the oldest address is evicted.
 */
export class ChallengeTracker {
  private readonly open = new Map<string, Outstanding>();
  private timer: TimerHandle | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock,
    private readonly report: (f: Failure) => void,
    private readonly maxAddresses = 100_000,
    /** Reported per address at most, so one burst cannot flood the counter. */
    private readonly maxPerAddress = 20,
  ) {}

  get size(): number {
    return this.open.size;
  }

  sent(addr: Address, service: string | undefined, now: number): void {
    const entry = this.open.get(addr.text);
    if (entry) {
      entry.count++;
      return;
    }
    if (this.open.size >= this.maxAddresses) this.open.delete(this.open.keys().next().value as string);
    this.open.set(addr.text, { ip: addr.text, family: addr.family, service, since: now, count: 1 });
    this.arm();
  }

  answered(ip: string): void {
    this.open.delete(ip);
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.open.clear();
  }

  private arm(): void {
    if (this.timer || this.open.size === 0) return;
    const oldest = this.open.values().next().value as Outstanding;
    const wait = Math.max(0, oldest.since + this.windowMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => this.sweep(), wait);
    this.timer.unref?.();
  }

  private sweep(): void {
    this.timer = null;
    const now = this.clock.now();
    // Map order is insertion order, and answered entries are deleted, so the oldest come first.
    for (const entry of this.open.values()) {
      if (entry.since + this.windowMs > now) break;
      this.open.delete(entry.ip);
      const n = Math.min(entry.count, this.maxPerAddress);
      for (let i = 0; i < n; i++) {
        const f: Failure = { ip: entry.ip, family: entry.family, time: now, source: 'ami', reason: CHALLENGE_REASON };
        if (entry.service) f.service = entry.service;
        this.report(f);
      }
    }
    this.arm();
  }
}
