import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type * as IpNum from 'ip-num';
import { AsteriskBanError } from './errors.js';

// Loaded on first use: importing ip-num costs ~200 ms, most of a short
// test-filter run, and the common address forms never need it (address-fast.ts).
let ipNumModule: typeof IpNum | undefined;
function ipNum(): typeof IpNum {
  ipNumModule ??= createRequire(import.meta.url)('ip-num') as typeof IpNum;
  return ipNumModule;
}

/** A parsed, normalised address: what every stage after a source works with. */
export interface Address {
  /** Canonical text: dotted IPv4, or compressed lower-case IPv6. */
  readonly text: string;
  readonly family: 4 | 6;
  readonly value: bigint;
}

const MAPPED_V4_PREFIX = 0xffffn << 32n;
const MAX_TEXT = 64;

// Parsing IPv6 costs microseconds per address; attackers repeat, so cache by raw
// text. Two generations instead of evicting one entry at a time: deleting the
// oldest key of a full Map on every miss made a flood of new addresses (or a
// restore of 100,000 bans) four times slower than no cache at all.
const CACHE_MAX = 65_536;
let cache = new Map<string, Address | null>();
let older = new Map<string, Address | null>();

function cached(raw: string): Address | null | undefined {
  const hit = cache.get(raw);
  if (hit !== undefined) return hit;
  const old = older.get(raw);
  if (old !== undefined) remember(raw, old);
  return old;
}

function remember(raw: string, value: Address | null): Address | null {
  if (cache.size >= CACHE_MAX) {
    older = cache;
    cache = new Map();
  }
  // A key sliced out of a log chunk would keep the whole chunk alive: store a
  // flat copy (the canonical text is one, and usually equal to the input).
  cache.set(value !== null && value.text === raw ? value.text : Buffer.from(raw, 'utf8').toString('utf8'), value);
  return value;
}

/**
 * Hand-written parse of the plain forms logs carry (dotted quad without
 * leading zeros; hex groups with at most one '::' and no embedded dotted
 * quad), producing exactly what the ip-num path below does (the test
 * compares both). Null means "not a plain form": the caller falls back to
 * ip-num, which decides. Hand-written because ip-num takes ~40 µs for a
 * first sighting and ~200 ms to import, most of a test-filter run.
 */
function fastAddress(raw: string): Address | null {
  return raw.includes(':') ? fastV6(raw) : fastV4(raw);
}

function fastV4(raw: string): Address | null {
  const octets: number[] = [];
  let octet = 0;
  let digits = 0;
  for (let i = 0; i <= raw.length; i++) {
    const c = i < raw.length ? raw.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return null;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return null;
    } else if (c === 46) {
      if (digits === 0 || octets.length === 4) return null;
      octets.push(octet);
      octet = 0;
      digits = 0;
    } else return null;
  }
  if (octets.length !== 4) return null;
  const [a, b, c, d] = octets as [number, number, number, number];
  // Built anew rather than kept: `raw` may be a slice that pins a whole log chunk.
  return { text: `${a}.${b}.${c}.${d}`, family: 4, value: BigInt(((a * 256 + b) * 256 + c) * 256 + d) };
}

function fastV6(raw: string): Address | null {
  const head: number[] = [];
  const tail: number[] = [];
  let part = head;
  let gap = false;
  let i = 0;
  const n = raw.length;
  if (raw.startsWith('::')) {
    gap = true;
    part = tail;
    i = 2;
    if (n === 2) return v6From(head, tail, gap);
  }
  for (;;) {
    let group = 0;
    let digits = 0;
    for (; i < n && digits <= 4; i++, digits++) {
      const c = raw.charCodeAt(i) | 0x20;
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0) break;
      group = group * 16 + d;
    }
    if (digits === 0 || digits > 4) return null;
    part.push(group);
    if (i === n) break;
    if (raw.charCodeAt(i) !== 58) return null;
    i++;
    if (raw.charCodeAt(i) === 58) {
      if (gap) return null;
      gap = true;
      part = tail;
      i++;
      if (i === n) break;
    }
  }
  return v6From(head, tail, gap);
}

function v6From(head: number[], tail: number[], gap: boolean): Address | null {
  const count = head.length + tail.length;
  if (gap ? count > 7 : count !== 8) return null;
  const groups = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  // ::ffff:a.b.c.d is an IPv4 address: left to the ip-num path.
  if (groups[5] === 0xffff && groups.slice(0, 5).every((g) => g === 0)) return null;
  // One BigInt from text: eight shifts would allocate eight intermediates.
  let digits = '0x';
  for (const g of groups) digits += g.toString(16).padStart(4, '0');
  const value = BigInt(digits);
  return { text: compressV6(groups), family: 6, value };
}

/** RFC 5952: the longest run of two or more zero groups (the first on a tie) becomes '::'. */
function compressV6(groups: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    if (groups[k] !== 0) { k++; continue; }
    let e = k;
    while (e < 8 && groups[e] === 0) e++;
    if (e - k > bestLen) { best = k; bestLen = e - k; }
    k = e;
  }
  const hex = (a: number[]): string => a.map((g) => g.toString(16)).join(':');
  return best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

function build(raw: string): Address | null {
  return fastAddress(raw) ?? ipNumAddress(raw);
}

/**
 * The same result through ip-num alone (slower: it is loaded on first use and
 * costs microseconds per address); the hand-written path is tested against it.
 * Throws on malformed input that isIP let through.
 */
export function ipNumAddress(raw: string): Address | null {
  const { IPv4, IPv6, collapseIPv6Number } = ipNum();
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
  // A plain dotted quad parses in 0.2-0.4 µs: about a cache hit, and a fraction
  // of a miss (restoring 100,000 bans missed every time). Only the rest is cached.
  if (!input.includes(':')) {
    const v4 = fastV4(input);
    if (v4 !== null) return v4;
  }
  const hit = cached(input);
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

/**
 * Why an address can never be the source of a login attempt, or null. A
 * forged log line or a typo naming 0.0.0.0 or a multicast group would
 * otherwise become a firewall rule that protects nothing.
 */
export function notASource(addr: Address): string | null {
  if (addr.family === 4) {
    if (addr.value === 0n) return 'the unspecified address';
    if (addr.value === 0xffffffffn) return 'the broadcast address';
    if (addr.value >> 28n === 0xen) return 'a multicast address';
    return null;
  }
  if (addr.value === 0n) return 'the unspecified address';
  if (addr.value >> 120n === 0xffn) return 'a multicast address';
  return null;
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
  const { IPv4, IPv6, IPv4CidrRange, IPv6CidrRange, collapseIPv6Number } = ipNum();
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

/** The narrowest and widest IPv6 prefixes a ban may cover (ipv6_prefix, ban, unban). */
export const MIN_V6_PREFIX = 48;
export const MAX_V6_PREFIX = 128;

/**
 * What a ban covers: one address (text without a length), or an IPv6 prefix
 * (`2001:db8:1:2::/64`, host bits zero). IPv4 is always one address.
 */
export interface BanTarget extends Network {
  /** 32 or 128 for one address. */
  readonly bits: number;
}

export function isPrefixText(text: string): boolean {
  return text.includes('/');
}

/**
 * Parses a ban target from untrusted text: an address, or an IPv6 prefix of
 * MIN_V6_PREFIX..128 bits (host bits are cleared: 2001:db8::5/64 is
 * 2001:db8::/64). A /128 is the address itself. Null for anything else.
 */
export function parseBanTarget(input: string): BanTarget | null {
  if (typeof input !== 'string') return null;
  const slash = input.indexOf('/');
  if (slash < 0) {
    const a = parseAddress(input);
    return a && targetOf(a, a.family === 4 ? 32 : 128);
  }
  const a = parseAddress(input.slice(0, slash));
  const bitsText = input.slice(slash + 1);
  if (!a || a.family !== 6 || !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  return bits >= MIN_V6_PREFIX && bits <= MAX_V6_PREFIX ? targetOf(a, bits) : null;
}

/** The ban target an address counts under: its /bits prefix for IPv6 below 128, the address otherwise. */
export function targetOf(addr: Address, bits: number): BanTarget {
  if (addr.family === 4 || bits >= 128) {
    return { text: addr.text, family: addr.family, first: addr.value, last: addr.value, bits: addr.family === 4 ? 32 : 128 };
  }
  const host = (1n << BigInt(128 - bits)) - 1n;
  const first = addr.value & ~host;
  return { text: `${v6Text(first)}/${bits}`, family: 6, first, last: first | host, bits };
}

/** RFC 5952 text of a 128-bit value. */
function v6Text(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  return compressV6(groups);
}

export function mustParseBanTarget(input: string): BanTarget {
  const t = parseBanTarget(input);
  if (!t) {
    throw new AsteriskBanError('E_ADDRESS', `"${printable(input)}" is neither an IP address nor an IPv6 prefix from /${MIN_V6_PREFIX} to /${MAX_V6_PREFIX}`);
  }
  return t;
}

/** Whether every address of `inner` lies in `outer`. */
export function networkCovers(outer: Network, inner: Network): boolean {
  return outer.family === inner.family && inner.first >= outer.first && inner.last <= outer.last;
}

/** Whether two blocks share at least one address. */
export function networksOverlap(a: Network, b: Network): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

export function networkContains(net: Network, addr: Address): boolean {
  return net.family === addr.family && addr.value >= net.first && addr.value <= net.last;
}

/** Escapes attacker text for a log line: control characters shown, length bounded. */
export function printable(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
