/** A line read while the full filter was not counting, kept for a gap-free failover. */
export interface RecentLine {
  line: string;
  /** ms epoch when it was read: the fallback for lines the filter cannot date. */
  at: number;
  /** Line number in the gap matcher (0 when it did not go through one). */
  gapNo: number;
  /** Counted already (by the gap filter or by an earlier replay). */
  done: boolean;
}

export interface RecentLimits {
  maxLines: number;
  maxAgeMs: number;
  /** Total characters kept: lines can be 64 KiB each. */
  maxChars: number;
}

export const DEFAULT_RECENT: RecentLimits = { maxLines: 20_000, maxAgeMs: 30_000, maxChars: 8 * 1024 * 1024 };

/**
 * The last lines read, bounded by count, age and size, so that when AMI is
 * lost the full filter can count what arrived since, without reading the
 * file again. A queue on an array with a moving head; compacted in bulk.
 */
export class RecentLines {
  private items: RecentLine[] = [];
  private head = 0;
  private chars = 0;

  constructor(private readonly limits: RecentLimits = DEFAULT_RECENT) {}

  get size(): number {
    return this.items.length - this.head;
  }

  push(line: string, at: number, gapNo: number): void {
    this.items.push({ line, at, gapNo, done: false });
    this.chars += line.length;
    this.trim(at);
  }

  /** The gap filter counted line `gapNo`; matches arrive in order and soon, so search from the newest. */
  markGap(gapNo: number): void {
    for (let i = this.items.length - 1; i >= this.head; i--) {
      const item = this.items[i]!;
      if (item.gapNo === gapNo) {
        item.done = true;
        return;
      }
      if (item.gapNo !== 0 && item.gapNo < gapNo) return;
    }
  }

  /** Lines not counted yet, oldest first; they are marked counted. */
  takePending(now: number): RecentLine[] {
    this.trim(now);
    const out: RecentLine[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i]!;
      if (!item.done) {
        out.push(item);
        item.done = true;
      }
    }
    return out;
  }

  private trim(now: number): void {
    const { maxLines, maxAgeMs, maxChars } = this.limits;
    while (this.head < this.items.length) {
      const first = this.items[this.head]!;
      if (this.size <= maxLines && this.chars <= maxChars && now - first.at <= maxAgeMs) break;
      this.chars -= first.line.length;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
