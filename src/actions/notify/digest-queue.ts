import { retryDelay, type BackoffOptions } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ThrottledLog, type Logger } from '../../core/logger.js';

/** Where a queue's messages go: mail, a webhook. */
export interface MessageSender<M> {
  /** Rejects with an error whose message carries no secret. */
  send(message: M): Promise<void>;
  close(): void;
  /** For logs: the destination without credentials. */
  readonly describe: string;
}

export interface OutboxOptions<E, M> {
  clock: Clock;
  logger: Logger;
  sender: MessageSender<M>;
  /** Names the channel in log lines: 'mail', 'webhook'. */
  channel?: string;
  /** Entries that arrive within this long of the last message wait and go out together. */
  digestMs: number;
  /** Builds one message from entries; `flushing` = shutting down, no slow lookups. Must not throw. */
  compose(entries: E[], flushing: boolean): Promise<M>;
  maxPending?: number;
  maxQueued?: number;
  maxPerMail?: number;
  backoff?: BackoffOptions;
  /** Tries per message before it is dropped (counted); default: keep retrying while the queue has room. */
  maxAttempts?: number;
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
 * Turns a stream of bans and alerts into few messages: the first ban after a quiet period
 * goes out at once, later ones are collected into one digest per interval.
 * Messages that fail stay queued (bounded) and are retried with backoff
 * (up to maxAttempts tries, when set); while they wait, new entries keep
 * collecting into the next digest instead of becoming more messages.
 */
export class Outbox<E, M> {
  private readonly pending: E[] = [];
  private readonly queue: M[] = [];
  private readonly maxPending: number;
  private readonly maxQueued: number;
  private readonly maxPerMessage: number;
  private readonly channel: string;
  private readonly throttled: ThrottledLog;
  private lastCutAt = Number.NEGATIVE_INFINITY;
  private retryAt = 0;
  private failures = 0;
  private timer: TimerHandle | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  /** A high-severity alert waits: the next digest goes now. */
  private urgent = false;
  private flushing = false;
  private closed = false;
  private readonly counts = { sent: 0, failedAttempts: 0, dropped: 0 };

  constructor(private readonly o: OutboxOptions<E, M>) {
    this.maxPending = o.maxPending ?? 10_000;
    this.maxQueued = o.maxQueued ?? 20;
    this.maxPerMessage = o.maxPerMail ?? 1_000;
    this.channel = o.channel ?? 'mail';
    this.throttled = new ThrottledLog(o.logger, 60_000, o.clock);
  }

  /** `urgent` (a high-severity alert): the entries go out now, with what is pending, not at the next digest. */
  add(entries: E[], urgent = false): void {
    if (this.closed || this.flushing || entries.length === 0) return;
    this.pending.push(...entries);
    const over = this.pending.length - this.maxPending;
    if (over > 0) {
      this.pending.splice(0, over);
      this.counts.dropped += over;
      this.throttled.warn('pending', `${this.channel} backlog full: dropped ${over} oldest notification(s)`, { limit: this.maxPending });
    }
    if (urgent) {
      this.urgent = true;
      // A digest wait is cut short; a retry wait is not (the server is down either way).
      if (this.queue.length === 0) this.clearTimer();
    }
    // A scheduled wake-up (digest or retry) will pick these up; re-planning per ban would cost the ban path.
    if (this.timer !== null) return;
    this.kick();
  }

  /** A ready message (start/stop notices); it skips the digest wait. */
  addMessage(message: M): void {
    if (this.closed) return;
    this.push(message);
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
   * Sends everything still held, each message tried once, then stops for good.
   * Never takes much longer than `deadlineMs`: shutdown must not hang on a dead server.
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
      this.o.logger.warn(`${this.channel}: shutting down with undelivered notifications`, { pending: left.pending, queued: left.queued });
    }
    return left;
  }

  private push(message: M): void {
    this.queue.push(message);
    if (this.queue.length > this.maxQueued) {
      this.queue.shift();
      this.counts.dropped++;
      this.o.logger.warn(`${this.channel} queue full: dropped the oldest undelivered message`, { limit: this.maxQueued });
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
          this.o.logger.error(`${this.channel}: internal error in the outbox`, { error: (err as Error).message });
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
        if (!this.flushing && !this.urgent && due > now) return this.wake(due - now);
        this.urgent = false;
        this.lastCutAt = now;
        const batch = this.pending.splice(0, this.maxPerMessage);
        this.push(await this.o.compose(batch, this.flushing));
        continue;
      }
      if (!this.flushing && this.retryAt > now) return this.wake(this.retryAt - now);
      const message = this.queue[0]!;
      try {
        await this.o.sender.send(message);
        const at = this.queue.indexOf(message);
        if (at >= 0) this.queue.splice(at, 1);
        this.counts.sent++;
        this.failures = 0;
        this.retryAt = 0;
      } catch (err) {
        this.failures++;
        this.counts.failedAttempts++;
        if (this.o.maxAttempts !== undefined && this.failures >= this.o.maxAttempts) {
          // Given up: the next message starts with a clean slate (the server may be back by then).
          const at = this.queue.indexOf(message);
          if (at >= 0) this.queue.splice(at, 1);
          this.counts.dropped++;
          this.failures = 0;
          this.retryAt = 0;
          this.o.logger.warn(`${this.channel}: message dropped after ${this.o.maxAttempts} failed attempts`, { error: (err as Error).message, dropped: this.counts.dropped });
          continue;
        }
        const delay = retryDelay(this.failures, this.o.backoff ?? MAIL_BACKOFF, this.o.random);
        this.retryAt = this.o.clock.now() + delay;
        // The sender's errors are already scrubbed of credentials.
        this.throttled.warn('send', `${this.channel} not delivered${this.flushing ? '' : `, retrying in ${Math.round(delay / 1000)} s`}`, {
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
