import { retryDelay, type BackoffOptions } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ThrottledLog, type Logger } from '../../core/logger.js';
import type { MailEntry } from './compose.js';
import type { MailSender, OutgoingMail } from './transport.js';

export interface OutboxOptions {
  clock: Clock;
  logger: Logger;
  sender: MailSender;
  /** Bans that arrive within this long of the last mail wait and go out together. */
  digestMs: number;
  /** Builds one mail from entries; `flushing` = shutting down, no slow lookups. Must not throw. */
  compose(entries: MailEntry[], flushing: boolean): Promise<OutgoingMail>;
  maxPending?: number;
  maxQueued?: number;
  maxPerMail?: number;
  backoff?: BackoffOptions;
  random?: () => number;
}

export interface OutboxStats {
  pending: number;
  queued: number;
  sent: number;
  failedAttempts: number;
  dropped: number;
}

const MAIL_BACKOFF: BackoffOptions = { baseMs: 5_000, maxMs: 10 * 60_000, jitter: 0.2 };

/**
 * Turns a stream of bans into few mails: the first ban after a quiet period
 * goes out at once, later ones are collected into one digest per interval.
 * Mails that fail stay queued (bounded) and are retried with backoff; while
 * they wait, new bans keep collecting into the next digest instead of
 * becoming more mails.
 */
export class Outbox {
  private readonly pending: MailEntry[] = [];
  private readonly queue: OutgoingMail[] = [];
  private readonly maxPending: number;
  private readonly maxQueued: number;
  private readonly maxPerMail: number;
  private readonly throttled: ThrottledLog;
  private lastCutAt = Number.NEGATIVE_INFINITY;
  private retryAt = 0;
  private failures = 0;
  private timer: TimerHandle | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private flushing = false;
  private closed = false;
  private readonly counts = { sent: 0, failedAttempts: 0, dropped: 0 };

  constructor(private readonly o: OutboxOptions) {
    this.maxPending = o.maxPending ?? 10_000;
    this.maxQueued = o.maxQueued ?? 20;
    this.maxPerMail = o.maxPerMail ?? 1_000;
    this.throttled = new ThrottledLog(o.logger, 60_000, o.clock);
  }

  add(entries: MailEntry[]): void {
    if (this.closed || this.flushing || entries.length === 0) return;
    this.pending.push(...entries);
    const over = this.pending.length - this.maxPending;
    if (over > 0) {
      this.pending.splice(0, over);
      this.counts.dropped += over;
      this.throttled.warn('pending', `mail backlog full: dropped ${over} oldest ban notification(s)`, { limit: this.maxPending });
    }
    // A scheduled wake-up (digest or retry) will pick these up; re-planning per ban would cost the ban path.
    if (this.timer !== null) return;
    this.kick();
  }

  /** A ready mail (start/stop notices); it skips the digest wait. */
  addMail(mail: OutgoingMail): void {
    if (this.closed) return;
    this.push(mail);
    this.kick();
  }

  /** Resolves once no delivery is in progress (the next may be scheduled). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  stats(): OutboxStats {
    return { pending: this.pending.length, queued: this.queue.length, ...this.counts };
  }

  /**
   * Sends everything still held, each mail tried once, then stops for good.
   * Never takes much longer than `deadlineMs`: shutdown must not hang on a dead mail server.
   */
  async close(deadlineMs: number): Promise<OutboxStats> {
    if (this.closed) return this.stats();
    this.flushing = true;
    this.clearTimer();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    const drain = (async () => {
      await this.settled();
      this.retryAt = 0;
      this.kick();
      await this.settled();
    })();
    await Promise.race([drain, deadline]);
    clearTimeout(timer);
    this.closed = true;
    this.clearTimer();
    const left = this.stats();
    if (left.pending + left.queued > 0) {
      this.o.logger.warn('mail: shutting down with undelivered notifications', { pending: left.pending, queued: left.queued });
    }
    return left;
  }

  private push(mail: OutgoingMail): void {
    this.queue.push(mail);
    if (this.queue.length > this.maxQueued) {
      this.queue.shift();
      this.counts.dropped++;
      this.o.logger.warn('mail queue full: dropped the oldest undelivered mail', { limit: this.maxQueued });
    }
  }

  private kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.pump();
        } catch (err) {
          this.o.logger.error('mail: internal error in the outbox', { error: (err as Error).message });
        }
      } while (this.again && !this.closed);
    } finally {
      this.running = null;
    }
  }

  private async pump(): Promise<void> {
    while (!this.closed) {
      const now = this.o.clock.now();
      if (this.queue.length === 0) {
        if (this.pending.length === 0) return;
        const due = this.lastCutAt + this.o.digestMs;
        if (!this.flushing && due > now) return this.wake(due - now);
        this.lastCutAt = now;
        const batch = this.pending.splice(0, this.maxPerMail);
        this.push(await this.o.compose(batch, this.flushing));
        continue;
      }
      if (!this.flushing && this.retryAt > now) return this.wake(this.retryAt - now);
      const mail = this.queue[0]!;
      try {
        await this.o.sender.send(mail);
        const at = this.queue.indexOf(mail);
        if (at >= 0) this.queue.splice(at, 1);
        this.counts.sent++;
        this.failures = 0;
        this.retryAt = 0;
      } catch (err) {
        this.failures++;
        this.counts.failedAttempts++;
        const delay = retryDelay(this.failures, this.o.backoff ?? MAIL_BACKOFF, this.o.random);
        this.retryAt = this.o.clock.now() + delay;
        // The sender's errors are already scrubbed of credentials.
        this.throttled.warn('send', `mail not delivered${this.flushing ? '' : `, retrying in ${Math.round(delay / 1000)} s`}`, {
          error: (err as Error).message,
          queued: this.queue.length,
          pending: this.pending.length,
        });
        if (this.flushing) return;
      }
    }
  }

  private wake(ms: number): void {
    this.clearTimer();
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.kick();
    }, ms);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
