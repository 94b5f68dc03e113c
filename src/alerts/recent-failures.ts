import type { Failure } from '../core/types.js';

interface Seen {
  /** Failure times, oldest first, trimmed to the window. */
  times: number[];
  /** Accounts tried, most recent last, a few. */
  accounts: string[];
}

/** Times kept per address: enough to say "at least this many". */
const MAX_TIMES = 100;
const MAX_ACCOUNTS = 5;

/**
 * The compromise rule's own memory of recent failures per address: a
 * successful login may clear the jail's counter (ami_success_clears), but
 * the failures before it are exactly what makes the login suspicious.
 * Bounded: two generations of at most maxAddresses/2 each; when the newer
 * is full it becomes the older and the older is dropped. (Evicting a Map's
 * oldest key one at a time costs a scan over its deleted slots: 40 µs a
 * failure under a flood of new addresses.)
 */
export class RecentFailures {
  private current = new Map<string, Seen>();
  private older = new Map<string, Seen>();

  constructor(private windowMs: number, private readonly maxAddresses = 50_000) {}

  setWindow(ms: number): void {
    this.windowMs = ms;
  }

  add(f: Failure): void {
    let seen = this.current.get(f.ip);
    if (seen === undefined) {
      seen = this.older.get(f.ip);
      if (seen !== undefined) this.older.delete(f.ip);
      else seen = { times: [], accounts: [] };
      if (this.current.size >= this.maxAddresses / 2) {
        this.older = this.current;
        this.current = new Map();
      }
      this.current.set(f.ip, seen);
    }
    seen.times.push(f.time);
    if (seen.times.length > MAX_TIMES) seen.times.splice(0, seen.times.length - MAX_TIMES);
    if (f.account !== undefined && !seen.accounts.includes(f.account)) {
      seen.accounts.push(f.account);
      if (seen.accounts.length > MAX_ACCOUNTS) seen.accounts.shift();
    }
  }

  /** Failures of `ip` within the window before `now`, and the accounts they tried. */
  of(ip: string, now: number): { count: number; capped: boolean; accounts: string[] } {
    const seen = this.current.get(ip) ?? this.older.get(ip);
    if (!seen) return { count: 0, capped: false, accounts: [] };
    const from = now - this.windowMs;
    const count = seen.times.filter((t) => t >= from && t <= now + 60_000).length;
    return { count, capped: count >= MAX_TIMES, accounts: [...seen.accounts] };
  }

  get size(): number {
    return this.current.size + this.older.size;
  }
}
