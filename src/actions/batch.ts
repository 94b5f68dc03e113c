import { parseBanTarget, printable } from '../core/address.js';
import type { Logger } from '../core/logger.js';
import type { Ban } from '../core/types.js';

export interface FamilyBatch {
  /** Canonical addresses, deduplicated, in input order. */
  v4: string[];
  /** Addresses and prefixes (`2001:db8:1:2::/64`, see isPrefixText). */
  v6: string[];
  /** Seconds left per address; null = permanent. Only filled when `now` was given. */
  seconds: Map<string, number | null>;
}

/**
 * Re-validates every address right before it reaches a command: whatever the
 * ban record says, only a canonical address parsed here is written to a
 * restore file. Anything odd is refused (logged and left out).
 */
export function splitBans(bans: readonly Ban[], logger: Logger, action: string, now?: number): FamilyBatch {
  const out: FamilyBatch = { v4: [], v6: [], seconds: new Map() };
  const seen = new Set<string>();
  for (const ban of bans) {
    const addr = typeof ban?.ip === 'string' ? parseBanTarget(ban.ip) : null;
    if (!addr) {
      logger.error(`${action}: refusing to pass "${printable(String(ban?.ip))}" to the firewall: neither an IP address nor an IPv6 prefix`);
      continue;
    }
    if (seen.has(addr.text)) continue;
    if (now !== undefined) {
      if (ban.end === null) out.seconds.set(addr.text, null);
      else {
        const left = Math.ceil((ban.end - now) / 1000);
        if (left <= 0) {
          logger.debug(`${action}: ${addr.text} already expired, not applied`);
          continue;
        }
        out.seconds.set(addr.text, left);
      }
    }
    seen.add(addr.text);
    (addr.family === 4 ? out.v4 : out.v6).push(addr.text);
  }
  return out;
}

/** Of the addresses a gathered batch applied, those of these bans (in the order applied). */
export function ownAddresses(bans: readonly Ban[], applied: readonly string[]): string[] {
  const mine = new Set(bans.map((b) => parseBanTarget(b.ip)?.text));
  return applied.filter((ip) => mine.has(ip));
}

/** Canonicalises addresses and prefixes read back from the kernel; drops what we would never have written. */
export function canonical(texts: Iterable<string>): string[] {
  const out: string[] = [];
  for (const t of texts) {
    const a = parseBanTarget(t.replace(/\/(32|128)$/, ''));
    if (a) out.push(a.text);
  }
  return out;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
