import { networkInterfaces } from 'node:os';
import { promises as dns } from 'node:dns';
import type { Address, BanTarget, Network } from '../core/address.js';
import { networkContains, networksOverlap, parseAddress, parseNetwork, printable } from '../core/address.js';
import { AsteriskBanError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface IgnoreOptions {
  /** Add this host's own interface addresses (fail2ban's `ignoreself`, default true). */
  ignoreself?: boolean;
  /** Overrides os.networkInterfaces() for ignoreself (tests). */
  selfAddresses?: string[];
}

export interface ResolveOptions extends IgnoreOptions {
  /** Name → addresses; defaults to dns.promises.lookup(all: true) with a timeout. */
  lookup?: (host: string) => Promise<string[]>;
  logger?: Logger;
  /** Per-name timeout for the default lookup, in ms. */
  timeoutMs?: number;
  /** Peers Asterisk trusts (ignore_asterisk_peers): addresses, networks or names, each with where it was read. */
  peers?: Array<{ entry: string; origin: string }>;
}

// Loopback can never be an attacker reaching us over the network; banning it
// would only break Asterisk's own local clients.
const ALWAYS = ['127.0.0.0/8', '::1'];
const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$/i;
const DEFAULT_TIMEOUT_MS = 5_000;
/** How an entry learned from Asterisk's configuration is labelled: `… (asterisk peer FILE:LINE [SECTION] …)`. */
const PEER_ORIGIN = 'asterisk peer';

/** Whether an entry (as why() or describe() gives it) came from Asterisk's configuration. */
export function isPeerEntry(label: string): boolean {
  return label.includes(PEER_ORIGIN);
}

/**
 * Addresses a jail never bans (fail2ban's `ignoreip`). `has()` runs for every
 * failure, so exact addresses live in a Set keyed by canonical text and only
 * real ranges are scanned.
 */
export class IgnoreList {
  /** Canonical address -> the entry that put it here. */
  private readonly exact = new Map<string, string>();
  /** The exact IPv6 entries again, for prefix overlap checks (rare: only at a prefix ban). */
  private readonly exactV6: Array<{ net: Network; label: string }> = [];
  private readonly ranges: Array<{ net: Network; label: string }> = [];
  private readonly labels: string[] = [];
  /** Hostnames given in the configuration that still need a lookup. */
  readonly hostnames: string[] = [];

  private constructor() {}

  static fromEntries(entries: string[], opts: IgnoreOptions = {}): IgnoreList {
    const list = new IgnoreList();
    for (const e of ALWAYS) list.addNetwork(e, 'always');
    if (opts.ignoreself ?? true) {
      for (const a of opts.selfAddresses ?? ownAddresses()) list.addNetwork(a, 'self');
    }
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '') continue;
      if (list.addNetwork(entry, 'config')) continue;
      if (!entry.includes('/') && HOSTNAME.test(entry) && !/^[\d.]+$/.test(entry)) {
        list.hostnames.push(entry.toLowerCase());
        continue;
      }
      throw new AsteriskBanError('E_CONFIG', `ignoreip: "${printable(entry)}" is neither an IP address, a CIDR range nor a hostname`, {
        hint: 'write addresses as 203.0.113.5 or 2001:db8::1, ranges as 192.0.2.0/24, or a DNS name',
      });
    }
    return list;
  }

  /** Like fromEntries, then looks up each hostname; a name that fails is logged and skipped. */
  static async resolve(entries: string[], opts: ResolveOptions = {}): Promise<IgnoreList> {
    const list = IgnoreList.fromEntries(entries, opts);
    const lookup = opts.lookup ?? ((h: string) => defaultLookup(h, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS));
    const names = list.hostnames.map((host) => ({ host, label: host, what: 'ignoreip' }));
    for (const p of opts.peers ?? []) {
      const label = `${PEER_ORIGIN} ${p.origin}`;
      if (!list.addNetwork(p.entry, label)) names.push({ host: p.entry, label: `${p.entry}, ${label}`, what: `Asterisk peer ${p.origin}` });
    }
    const results = await Promise.allSettled(names.map((n) => lookup(n.host)));
    results.forEach((r, i) => {
      const { host, label, what } = names[i]!;
      if (r.status === 'rejected') {
        opts.logger?.warn(`${what}: cannot resolve ${printable(host)}, skipped`, { error: errorText(r.reason) });
        return;
      }
      let added = 0;
      for (const addr of r.value) if (list.addNetwork(addr, label)) added++;
      if (added === 0) opts.logger?.warn(`${what}: ${printable(host)} resolved to no usable address, skipped`);
    });
    return list;
  }

  has(addr: Address): boolean {
    return this.why(addr) !== null;
  }

  /** The entry that makes `addr` ignored (as describe() shows it), or null. */
  why(addr: Address): string | null {
    const exact = this.exact.get(addr.text);
    if (exact !== undefined) return exact;
    for (const r of this.ranges) if (networkContains(r.net, addr)) return r.label;
    return null;
  }

  /**
   * The entry that keeps a ban target from being banned: for one address, as
   * why(); for an IPv6 prefix, any entry sharing an address with it (a /64
   * holding one ignored address is never banned whole).
   */
  overlapping(target: BanTarget): string | null {
    const exact = target.first === target.last ? this.exact.get(target.text) : this.exactV6.find((r) => networksOverlap(r.net, target))?.label;
    return exact ?? this.ranges.find((r) => networksOverlap(r.net, target))?.label ?? null;
  }

  /** Convenience for untrusted text; false for anything that is not an address. */
  hasText(text: string): boolean {
    const a = parseAddress(text);
    return a !== null && this.has(a);
  }

  /** The entries learned from Asterisk's configuration, as describe() shows them. */
  peers(): string[] {
    return this.labels.filter(isPeerEntry);
  }

  /** Human-readable entries, e.g. `127.0.0.0/8 (always)`, `192.0.2.7 (pbx.example.org)`. */
  describe(): string[] {
    const pending = this.hostnames.filter((h) => !this.labels.some((l) => l.endsWith(`(${h})`)));
    return [...this.labels, ...pending.map((h) => `${h} (unresolved)`)];
  }

  private addNetwork(text: string, origin: string): boolean {
    const net = parseNetwork(text);
    if (!net) return false;
    const label = origin === 'config' ? net.text : `${net.text} (${origin})`;
    // A /32 or /128 is an exact address: key it by the bare canonical text has() looks up.
    if (net.first === net.last) {
      const key = net.text.replace(/\/\d+$/, '');
      if (!this.exact.has(key)) {
        this.exact.set(key, label);
        if (net.family === 6) this.exactV6.push({ net, label });
      }
    } else if (!this.ranges.some((r) => r.net.family === net.family && r.net.first === net.first && r.net.last === net.last)) {
      this.ranges.push({ net, label });
    }
    this.labels.push(label);
    return true;
  }
}

function ownAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      // Link-local v6 carries a zone (fe80::1%eth0) and never reaches us from the internet.
      if (info.family === 'IPv6' && info.scopeid) continue;
      out.push(info.address);
    }
  }
  return out;
}

async function defaultLookup(host: string, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`lookup timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const found = await Promise.race([dns.lookup(host, { all: true }), timeout]);
    return found.map((f) => f.address);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
