import { isIP } from 'node:net';
import { IPv4, IPv6, IPv4CidrRange, IPv6CidrRange, collapseIPv6Number } from 'ip-num';
import { AsteriskBanError } from './errors.js';

/** A parsed, normalised address: what every stage after a source works with. */
export interface Address {
  /** Canonical text: dotted IPv4, or compressed lower-case IPv6. */
  readonly text: string;
  readonly family: 4 | 6;
  readonly value: bigint;
}

const MAPPED_V4_PREFIX = 0xffffn << 32n;
const MAX_TEXT = 64;

// ip-num takes microseconds per address; attackers repeat, so cache by raw text.
const CACHE_MAX = 65_536;
const cache = new Map<string, Address | null>();

function remember(raw: string, value: Address | null): Address | null {
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  // A key sliced out of a log chunk would keep the whole chunk alive: store a flat copy.
  cache.set(Buffer.from(raw, 'utf8').toString('utf8'), value);
  return value;
}

function build(raw: string): Address | null {
  const kind = isIP(raw);
  if (kind === 4) {
    const v4 = new IPv4(raw);
    return { text: v4.toString(), family: 4, value: v4.getValue() };
  }
  if (kind === 6) {
    const v6 = new IPv6(raw);
    const value = v6.getValue();
    if (value >> 32n === MAPPED_V4_PREFIX >> 32n) {
      const v4 = new IPv4(value & 0xffffffffn);
      return { text: v4.toString(), family: 4, value: v4.getValue() };
    }
    return { text: collapseIPv6Number(v6.toString()).toLowerCase(), family: 6, value };
  }
  return null;
}

/**
 * Parses an address from untrusted text. Accepts `[v6]` brackets and a v6
 * zone-free form only; returns null for anything else (never throws).
 */
export function parseAddress(input: string): Address | null {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_TEXT) return null;
  const hit = cache.get(input);
  if (hit !== undefined) return hit;
  let raw = input;
  if (raw.startsWith('[') && raw.endsWith(']')) raw = raw.slice(1, -1);
  // isIP accepts zone ids (fe80::1%eth0); a zone never names a remote attacker.
  if (raw.includes('%')) return remember(input, null);
  let parsed: Address | null;
  try {
    parsed = build(raw);
  } catch {
    parsed = null;
  }
  return remember(input, parsed);
}

export function mustParseAddress(input: string): Address {
  const a = parseAddress(input);
  if (!a) throw new AsteriskBanError('E_ADDRESS', `"${printable(input)}" is not an IP address`);
  return a;
}

/** A CIDR block (or a single address) for ignore lists. */
export interface Network {
  readonly text: string;
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

export function parseNetwork(input: string): Network | null {
  const s = input.trim();
  const slash = s.indexOf('/');
  if (slash < 0) {
    const a = parseAddress(s);
    return a ? { text: a.text, family: a.family, first: a.value, last: a.value } : null;
  }
  const base = parseAddress(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!base || !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  try {
    if (base.family === 4) {
      if (bits > 32) return null;
      const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(32 - bits);
      const first = base.value & mask;
      const r = IPv4CidrRange.fromCidr(`${new IPv4(first).toString()}/${bits}`);
      return { text: `${new IPv4(first).toString()}/${bits}`, family: 4, first: r.getFirst().getValue(), last: r.getLast().getValue() };
    }
    if (bits > 128) return null;
    const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
    const first = base.value & mask;
    const firstText = collapseIPv6Number(new IPv6(first).toString()).toLowerCase();
    const r = IPv6CidrRange.fromCidr(`${firstText}/${bits}`);
    return { text: `${firstText}/${bits}`, family: 6, first: r.getFirst().getValue(), last: r.getLast().getValue() };
  } catch {
    return null;
  }
}

export function networkContains(net: Network, addr: Address): boolean {
  return net.family === addr.family && addr.value >= net.first && addr.value <= net.last;
}

/** Escapes attacker text for a log line: control characters shown, length bounded. */
export function printable(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
