import { parseAddress, printable } from '../core/address.js';
import type { Logger } from '../core/logger.js';
import { NETWORKS_PER_ACCOUNT, type AlertStore } from '../store/alerts.js';
import type { Login } from '../sources/types.js';
import type { Alert } from './types.js';

const DAY_MS = 86_400_000;
/** A known network's last_seen is written at most this often per account and network. */
const REFRESH_MS = 3_600_000;
/** Accounts whose networks are held in memory (the store has them all). */
const CACHED_ACCOUNTS = 10_000;

/** The /bits network holding an address, as `a.b.c.0/24` or `2001:db8:1::/48`; null when it does not parse. */
export function networkOf(ip: string, v4bits: number, v6bits: number): string | null {
  const a = parseAddress(ip);
  if (!a) return null;
  const total = a.family === 4 ? 32 : 128;
  const bits = a.family === 4 ? v4bits : v6bits;
  const first = a.value & ~((1n << BigInt(total - bits)) - 1n);
  if (a.family === 4) return `${[24n, 16n, 8n, 0n].map((s) => String((first >> s) & 255n)).join('.')}/${bits}`;
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((first >> BigInt(i * 16)) & 0xffffn).toString(16));
  const text = parseAddress(groups.join(':'))!.text;
  return `${text}/${bits}`;
}

/**
 * new_network: an account logs in from a network it has not used within
 * `days`. An account's first login is learned silently. The record lives
 * in the state database (bounded per account), cached here.
 */
export class NewNetworkRule {
  private readonly cache = new Map<string, Map<string, number>>();

  constructor(private readonly store: AlertStore, private readonly logger: Logger) {}

  check(jail: string, ip: string, login: Login, now: number, o: { days: number; v4bits: number; v6bits: number; quiet: boolean }): Alert | null {
    if (login.account === undefined) return null;
    const network = networkOf(ip, o.v4bits, o.v6bits);
    if (network === null) return null;
    const key = `${login.service ?? ''}/${login.account}`;
    const known = this.networks(key);
    if (known === null) return null;
    const last = known.get(network);
    const fresh = last === undefined || now - last > o.days * DAY_MS;
    const first = known.size === 0;
    if (last === undefined || now - last >= REFRESH_MS) this.remember(key, known, network, now);
    if (!fresh || first || o.quiet) return null;
    const account = printable(login.account, 80);
    const facts: [string, string][] = [['network', network], ['known networks', String(known.size - 1)]];
    if (last !== undefined) facts.push(['last seen from it', new Date(last).toISOString()]);
    if (login.service !== undefined) facts.push(['service', login.service]);
    return {
      rule: 'new_network', severity: 'warning', jail, time: now, address: ip, account: login.account, facts,
      summary: `account "${account}" logged in from ${ip}, a network it has not used in ${o.days} day(s) (${network})`,
    };
  }

  private networks(key: string): Map<string, number> | null {
    let m = this.cache.get(key);
    if (m) return m;
    try {
      m = this.store.networks(key);
    } catch (err) {
      this.logger.error('new_network: cannot read the known networks; no alert for this login', { error: (err as Error).message });
      return null;
    }
    if (this.cache.size >= CACHED_ACCOUNTS) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, m);
    return m;
  }

  private remember(key: string, known: Map<string, number>, network: string, now: number): void {
    known.set(network, now);
    if (known.size > NETWORKS_PER_ACCOUNT) {
      const oldest = [...known].sort((a, b) => a[1] - b[1])[0]![0];
      known.delete(oldest);
    }
    try {
      this.store.sawNetwork(key, network, now);
    } catch (err) {
      this.logger.error('new_network: cannot record the network; it may alert again', { error: (err as Error).message });
    }
  }
}
