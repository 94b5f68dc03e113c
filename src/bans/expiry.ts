import type { Clock, TimerHandle } from '../core/clock.js';
import type { Ban } from '../core/types.js';
import { ExpiryHeap } from './schedule.js';

// Expiries this close together are lifted in one batch (and one timer): "exact to within a second".
const EXPIRY_BATCH_MS = 500;

/**
 * One timer for the soonest ban end, over a heap of all of them. Bans lifted
 * early stay in the heap until they surface; `isLive` tells them apart.
 */
export class ExpirySchedule {
  private readonly heap = new ExpiryHeap<Ban>();
  private timer: { handle: TimerHandle; at: number } | null = null;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly isLive: (ban: Ban) => boolean,
    private readonly onDue: (bans: Ban[]) => void,
  ) {}

  add(bans: Iterable<Ban>): void {
    const entries: { end: number; token: Ban }[] = [];
    for (const b of bans) if (b.end !== null) entries.push({ end: b.end, token: b });
    this.heap.pushAll(entries);
    this.reschedule();
  }

  /** Call after bans were lifted early, so the timer does not wait for a ban that is gone. */
  reschedule(): void {
    if (this.closed) return;
    let top = this.heap.peek();
    while (top && !this.isLive(top.token)) {
      this.heap.pop();
      top = this.heap.peek();
    }
    if (this.timer && (!top || this.timer.at !== top.end)) {
      this.clock.clearTimeout(this.timer.handle);
      this.timer = null;
    }
    if (!top || this.timer) return;
    const handle = this.clock.setTimeout(() => this.fire(), Math.max(0, top.end - this.clock.now()));
    handle.unref?.();
    this.timer = { handle, at: top.end };
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    this.timer = null;
  }

  private fire(): void {
    this.timer = null;
    const due = this.heap.popDue(this.clock.now() + EXPIRY_BATCH_MS).map((e) => e.token).filter((b) => this.isLive(b));
    // onDue lifts them and calls reschedule(); with nothing due, reschedule here.
    if (due.length > 0) this.onDue(due);
    else this.reschedule();
  }
}
