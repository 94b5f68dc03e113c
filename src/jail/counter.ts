/**
 * Failures per address within `findtime`, in packed typed arrays.
 *
 * A distributed attack means hundreds of thousands of addresses with one or
 * two failures each, so one object per address (fail2ban holds ~1,170 bytes
 * per address) is too much: each address gets a slot in shared typed arrays
 * and the Map only maps its text to the slot number. The Map's insertion
 * order doubles as recency order (an address is re-inserted on every
 * failure), so expiry and eviction both take from its head.
 */
export interface CounterOptions {
  maxretry: number;
  /** Milliseconds. */
  findtime: number;
  /** Most addresses tracked at once; the least recently failing is evicted beyond it. */
  maxtracked: number;
}

export interface Hit {
  /** Failures of this address inside findtime, this one included. */
  count: number;
  /** Their times (ms), oldest first, and the reason codes given to add(). */
  times: number[];
  reasons: number[];
}

const INITIAL_SLOTS = 1024;

export class FailureCounter {
  private readonly width: number;
  private readonly slotOf = new Map<string, number>();
  private times: Float64Array;
  private reasons: Uint16Array;
  private heads: Uint8Array;
  private counts: Uint8Array;
  private lastSeen: Float64Array;
  private free: number[] = [];
  private capacity: number;
  private used = 0;
  evicted = 0;

  constructor(private opts: CounterOptions) {
    // A ring of maxretry entries is all a decision needs; capped so a silly
    // maxretry cannot blow up memory (the count saturates instead).
    this.width = Math.max(1, Math.min(opts.maxretry, 255));
    this.capacity = INITIAL_SLOTS;
    this.times = new Float64Array(this.capacity * this.width);
    this.reasons = new Uint16Array(this.capacity * this.width);
    this.heads = new Uint8Array(this.capacity);
    this.counts = new Uint8Array(this.capacity);
    this.lastSeen = new Float64Array(this.capacity);
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** Records one failure and returns the address's failures inside findtime. */
  add(ip: string, time: number, reason: number): Hit {
    let slot = this.slotOf.get(ip);
    if (slot === undefined) {
      if (this.slotOf.size >= this.opts.maxtracked) this.evictOldest();
      slot = this.allocate();
      this.counts[slot] = 0;
      this.heads[slot] = 0;
    } else {
      this.slotOf.delete(ip);
    }
    this.slotOf.set(ip, slot);
    this.push(slot, time, reason);
    return this.collect(slot, time);
  }

  /** Forgets an address (after a ban, or a successful login). */
  clear(ip: string): void {
    const slot = this.slotOf.get(ip);
    if (slot === undefined) return;
    this.slotOf.delete(ip);
    this.free.push(slot);
  }

  has(ip: string): boolean {
    return this.slotOf.has(ip);
  }

  /** The addresses with failures inside findtime at `now`, most failures first (at most `limit`). */
  failing(now: number, limit: number): { ip: string; count: number }[] {
    const out: { ip: string; count: number }[] = [];
    for (const [ip, slot] of this.slotOf) {
      const count = this.collect(slot, now).count;
      if (count > 0) out.push({ ip, count });
    }
    return out.sort((a, b) => b.count - a.count || (a.ip < b.ip ? -1 : 1)).slice(0, limit);
  }

  /** Drops addresses whose last failure is older than findtime. */
  expire(now: number): number {
    const limit = now - this.opts.findtime;
    let dropped = 0;
    for (const [ip, slot] of this.slotOf) {
      if (this.lastSeen[slot]! > limit) break;
      this.slotOf.delete(ip);
      this.free.push(slot);
      dropped++;
    }
    return dropped;
  }

  /** Same thresholds, new numbers; tracked addresses are kept when the ring width allows. */
  reconfigure(opts: CounterOptions): boolean {
    if (Math.max(1, Math.min(opts.maxretry, 255)) !== this.width) return false;
    this.opts = opts;
    return true;
  }

  private push(slot: number, time: number, reason: number): void {
    const base = slot * this.width;
    const head = this.heads[slot]!;
    this.times[base + head] = time;
    this.reasons[base + head] = reason;
    this.heads[slot] = (head + 1) % this.width;
    if (this.counts[slot]! < this.width) this.counts[slot]!++;
    this.lastSeen[slot] = Math.max(this.lastSeen[slot]!, time);
  }

  private collect(slot: number, now: number): Hit {
    const base = slot * this.width;
    const n = this.counts[slot]!;
    const head = this.heads[slot]!;
    const limit = now - this.opts.findtime;
    const times: number[] = [];
    const reasons: number[] = [];
    for (let i = 0; i < n; i++) {
      const at = base + ((head - n + i + this.width) % this.width);
      const t = this.times[at]!;
      // Out-of-order lines (replays, two logs) may carry times after `now`; they still count.
      if (t > limit) {
        times.push(t);
        reasons.push(this.reasons[at]!);
      }
    }
    return { count: times.length, times, reasons };
  }

  private evictOldest(): void {
    const first = this.slotOf.entries().next();
    if (first.done) return;
    const [ip, slot] = first.value;
    this.slotOf.delete(ip);
    this.free.push(slot);
    this.evicted++;
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) {
      this.lastSeen[reused] = 0;
      return reused;
    }
    if (this.used >= this.capacity) this.grow();
    this.lastSeen[this.used] = 0;
    return this.used++;
  }

  private grow(): void {
    const next = Math.min(this.capacity * 2, Math.max(this.opts.maxtracked, INITIAL_SLOTS) + 1);
    const cap = next > this.capacity ? next : this.capacity * 2;
    const times = new Float64Array(cap * this.width);
    times.set(this.times);
    const reasons = new Uint16Array(cap * this.width);
    reasons.set(this.reasons);
    const heads = new Uint8Array(cap);
    heads.set(this.heads);
    const counts = new Uint8Array(cap);
    counts.set(this.counts);
    const lastSeen = new Float64Array(cap);
    lastSeen.set(this.lastSeen);
    this.times = times;
    this.reasons = reasons;
    this.heads = heads;
    this.counts = counts;
    this.lastSeen = lastSeen;
    this.capacity = cap;
  }
}
