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
 * Bounded: at most `maxAddresses` addresses, the least recently failing out.
 */
export class RecentFailures {
  private readonly byAddress = new Map<string, Seen>();

  constructor(private windowMs: number, private readonly maxAddresses = 50_000) {}

  setWindow(ms: number): void {
    this.windowMs = ms;
  }

  add(f: Failure): void {
    this.forgetOld(f.time);
    let seen = this.byAddress.get(f.ip);
    if (seen) this.byAddress.delete(f.ip);
    else {
      seen = { times: [], accounts: [] };
      if (this.byAddress.size >= this.maxAddresses) this.byAddress.delete(this.byAddress.keys().next().value as string);
    }
    // Re-inserted: the map's order is least recently failing first.
    this.byAddress.set(f.ip, seen);
    seen.times.push(f.time);
    if (seen.times.length > MAX_TIMES) seen.times.splice(0, seen.times.length - MAX_TIMES);
    if (f.account !== undefined && !seen.accounts.includes(f.account)) {
      seen.accounts.push(f.account);
      if (seen.accounts.length > MAX_ACCOUNTS) seen.accounts.shift();
    }
  }

  /** Failures of `ip` within the window before `now`, and the accounts they tried. */
  of(ip: string, now: number): { count: number; capped: boolean; accounts: string[] } {
    const seen = this.byAddress.get(ip);
    if (!seen) return { count: 0, capped: false, accounts: [] };
    const from = now - this.windowMs;
    const count = seen.times.filter((t) => t >= from && t <= now + 60_000).length;
    return { count, capped: count >= MAX_TIMES, accounts: [...seen.accounts] };
  }

  /** The least recently failing address, when its last failure left the window: a step of cleanup per failure. */
  private forgetOld(now: number): void {
    for (let i = 0; i < 2; i++) {
      const first = this.byAddress.entries().next().value as [string, Seen] | undefined;
      if (!first || first[1].times.at(-1)! >= now - this.windowMs) return;
      this.byAddress.delete(first[0]);
    }
  }

  get size(): number {
    return this.byAddress.size;
  }
}
