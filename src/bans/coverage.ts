import { isPrefixText, networkCovers, parseBanTarget, targetOf, type BanTarget } from '../core/address.js';
import type { Ban } from '../core/types.js';

/**
 * How the bans of one jail cover each other: an address or IPv6 prefix is
 * banned already when a ban holds it exactly or a wider prefix holds it.
 * `prefixLengths` are the lengths of the IPv6 prefixes ever banned there:
 * the only places a covering ban can be.
 */
export interface BanTable {
  readonly bans: ReadonlyMap<string, Ban>;
  readonly prefixLengths: ReadonlySet<number>;
}

/** The ban in force that already covers a target: the same address or prefix, or a wider prefix. */
export function covering(table: BanTable, target: BanTarget): Ban | undefined {
  const same = table.bans.get(target.text);
  if (same || target.family === 4) return same;
  const addr = { text: '', family: 6 as const, value: target.first };
  for (const bits of table.prefixLengths) {
    if (bits >= target.bits) continue;
    const wider = table.bans.get(targetOf(addr, bits).text);
    if (wider) return wider;
  }
  return undefined;
}

/** Narrower prefixes inside a new one: nftables refuses overlapping elements in one set, and the wider ban covers them. */
export function subsumed(table: BanTable, ban: Ban, target: BanTarget): Ban[] {
  if (![...table.prefixLengths].some((bits) => bits > target.bits)) return [];
  const inside: Ban[] = [];
  for (const b of table.bans.values()) {
    if (b === ban || !isPrefixText(b.ip)) continue;
    const t = parseBanTarget(b.ip);
    if (t && t.bits > target.bits && networkCovers(target, t)) inside.push(b);
  }
  return inside;
}
