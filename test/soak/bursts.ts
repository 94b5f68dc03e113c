/**
 * The soak's attack traffic: failures in bursts, one address per burst, so
 * that what each address should come to is known exactly. Most bursts stop
 * one short of maxretry (any double count bans them: the sharpest probe for
 * counting twice), a few stop well short, and a small share reach maxretry
 * (due: must be in the kernel within a second). An address rests for longer
 * than findtime between bursts, and for the ban's length after a due one, so
 * bursts never add up to more than they say.
 */
export interface BurstPlan {
  maxretry: number;
  findtimeMs: number;
  bantimeMs: number;
  /** Share of bursts that reach maxretry. */
  dueShare: number;
  /** Failures per second across the pool. */
  perSecond: number;
}

export interface Crossing {
  /** The address, as written into the event or line. */
  a: string;
  /** When the first delivered failure of the burst went out (ms). */
  t0: number;
  /** When the maxretry-th delivered failure went out (ms). */
  t: number;
  /** A failure of the burst may have been lost on the way (a log truncated before it was read). */
  risk: boolean;
}

export { prng as seeded } from '../bench/gen-asterisk-log.js';

const TICK_MS = 10;

export class BurstStream {
  private readonly nextFree: Float64Array;
  private readonly size: Uint8Array;
  private readonly sent: Uint8Array;
  private readonly got: Uint8Array;
  private readonly firstAt: Float64Array;
  private readonly lastAt: Float64Array;
  private readonly risky: Uint8Array;
  private readonly followUps = new Map<number, number[]>();
  private pointer = 0;
  private lastTick = -1;
  private started = -1;
  total = 0;
  delivered = 0;
  crossings = 0;
  /** Bursts that could not start because every address was resting. */
  shortfall = 0;

  constructor(
    private readonly pool: readonly string[],
    private readonly plan: BurstPlan,
    private readonly random: () => number,
    private readonly onCross: (c: Crossing) => void,
  ) {
    const n = pool.length;
    this.nextFree = new Float64Array(n);
    this.size = new Uint8Array(n);
    this.sent = new Uint8Array(n);
    this.got = new Uint8Array(n);
    this.firstAt = new Float64Array(n);
    this.lastAt = new Float64Array(n);
    this.risky = new Uint8Array(n);
  }

  /**
   * The addresses of the failures due by `now`. `delivered` says whether
   * they reach the daemon (an AMI client is logged in; a log line always).
   */
  tick(now: number, delivered: boolean): string[] {
    if (this.started < 0) this.started = now;
    const tick = Math.floor(now / TICK_MS);
    const out: number[] = [];
    for (let t = this.lastTick < 0 ? tick : this.lastTick + 1; t <= tick; t++) {
      const due = this.followUps.get(t);
      if (due) {
        out.push(...due);
        this.followUps.delete(t);
      }
    }
    this.lastTick = tick;
    let owed = Math.floor(((now - this.started) * this.plan.perSecond) / 1000) - this.total - out.length;
    const most = Math.ceil(this.plan.perSecond / 10);
    if (owed > most) {
      // Behind by more than 100 ms (a stalled loop, no free address): let the lost time go rather than flood to catch up.
      this.started += ((owed - most) * 1000) / this.plan.perSecond;
      owed = most;
    }
    for (let i = 0; i < owed; ) {
      const addr = this.freeAddress(now);
      if (addr < 0) {
        this.shortfall++;
        break;
      }
      out.push(addr);
      i += this.startBurst(addr, now);
    }
    for (const i of out) this.record(i, now, delivered);
    return out.map((i) => this.pool[i]!);
  }

  /** Marks the bursts with a failure sent since `since` as possibly lost (their log was truncated). */
  markRisk(since: number): void {
    for (let i = 0; i < this.pool.length; i++) if (this.size[i] && this.lastAt[i]! >= since) this.risky[i] = 1;
  }

  private freeAddress(now: number): number {
    const n = this.pool.length;
    for (let scanned = 0; scanned < n; scanned++) {
      const i = this.pointer;
      this.pointer = (this.pointer + 1) % n;
      if (this.size[i] === 0 && this.nextFree[i]! <= now) return i;
    }
    return -1;
  }

  /** Schedules a burst's later failures; returns how many it has in all. */
  private startBurst(i: number, now: number): number {
    const { maxretry } = this.plan;
    const r = this.random();
    let k: number;
    if (r < this.plan.dueShare) k = maxretry + (this.random() < 0.5 ? 0 : 1);
    else if (r < 0.7) k = maxretry - 1;
    else k = 1 + Math.floor(this.random() * Math.max(1, maxretry - 2));
    this.size[i] = k;
    this.sent[i] = 0;
    this.got[i] = 0;
    this.risky[i] = 0;
    let at = now;
    for (let j = 1; j < k; j++) {
      at += 500 + Math.floor(this.random() * 1300);
      const t = Math.floor(at / TICK_MS);
      const list = this.followUps.get(t);
      if (list) list.push(i);
      else this.followUps.set(t, [i]);
    }
    return 1;
  }

  private record(i: number, now: number, delivered: boolean): void {
    this.total++;
    this.sent[i]!++;
    this.lastAt[i] = now;
    if (delivered) {
      this.delivered++;
      if (++this.got[i]! === 1) this.firstAt[i] = now;
      if (this.got[i] === this.plan.maxretry) {
        this.crossings++;
        this.onCross({ a: this.pool[i]!, t0: this.firstAt[i]!, t: now, risk: this.risky[i] === 1 });
      }
    }
    if (this.sent[i]! >= this.size[i]!) {
      let rest = now + this.plan.findtimeMs + 5_000;
      if (this.got[i]! >= this.plan.maxretry) rest = Math.max(rest, now + this.plan.bantimeMs + 10_000);
      this.nextFree[i] = rest;
      this.size[i] = 0;
    }
  }
}

/** `count` addresses: IPv4 from base (a.b.0.0) upwards, every tenth one IPv6 under v6prefix. */
export function addressPool(count: number, base: [number, number], v6prefix: string): string[] {
  const out: string[] = [];
  let v4 = 0;
  for (let i = 0; i < count; i++) {
    if (i % 10 === 9) {
      const n = i + 1;
      // Written as the kernel lists it (no leading zero group), so the soak can compare text.
      out.push(`${v6prefix}${n >> 16 ? `${(n >> 16).toString(16)}:` : ''}${(n & 0xffff).toString(16)}`);
      continue;
    }
    // No .0 or .255 host parts: some firewalls treat them as network or broadcast.
    do v4++;
    while ((v4 & 255) === 0 || (v4 & 255) === 255);
    out.push(`${base[0]}.${base[1] + (v4 >> 16)}.${(v4 >> 8) & 255}.${v4 & 255}`);
  }
  return out;
}
