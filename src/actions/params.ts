import { createHash } from 'node:crypto';
import { AsteriskBanError } from '../core/errors.js';
import { printable } from '../core/address.js';
import type { Invocation } from '../settings/types.js';
import type { ActionDeps } from './types.js';
import { parseBool as parseBoolText } from '../settings/values.js';
import { parsePorts, type PortRange } from './ports.js';

export type Protocol = 'tcp' | 'udp' | 'all';
export type BlockType = { kind: 'REJECT'; with: string | null } | { kind: 'DROP' };

/** Parameters every firewall back end understands, after validation. */
export interface FirewallParams {
  name: string;
  protocol: Protocol;
  /** Null for allports back ends. */
  ports: PortRange[] | null;
  chain: string;
  blocktype: BlockType;
  iptables: string;
  ip6tables: string;
  ipset: string;
  nft: string;
  conntrack: string;
  /** Leave set-based bans in the kernel on stop, expiring by their own timeouts. */
  keep: boolean;
  /** Delete the conntrack entries of banned addresses (ends flows already running). */
  flushConntrack: boolean;
  /** Keep one nft (nftables) or ipset (iptables-ipset) process running for small batches instead of starting one per batch. */
  persistent: boolean;
  /** nftables: make address bans and unbans over netlink from the daemon itself (with persistent, outside netns=). */
  netlink: boolean;
  /** Run every command inside this network namespace (`ip netns exec`). */
  netns: string | null;
  /** fail2ban's allowipv6: auto falls back to IPv4 only when ip6tables cannot work here. */
  allowipv6: 'auto' | 'yes' | 'no';
}

/** fail2ban parameters that appear in real jail.conf files and mean nothing (or nothing more) here. */
export const GENERIC_PARAMS = [
  'bantime', 'actname', 'returntype', 'lockingopt', 'actionstart_on_demand', 'known/bantime', 'family', 'type',
  'default-ipsettime', 'ipsettime', 'timeout', 'name', 'port', 'protocol', 'chain',
] as const;

export const FIREWALL_PARAMS = [
  ...GENERIC_PARAMS, 'blocktype', 'iptables', 'ip6tables', 'ipset', 'nft', 'conntrack', 'keep', 'flushconntrack', 'persistent', 'netlink', 'netns', 'allowipv6',
] as const;

const REJECT_TYPES_V4 = ['icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-port-unreachable', 'icmp-proto-unreachable',
  'icmp-net-prohibited', 'icmp-host-prohibited', 'icmp-admin-prohibited', 'tcp-reset'];

function where(spec: Invocation) {
  return { location: { file: spec.file, line: spec.line } };
}

function bad(spec: Invocation, message: string, hint?: string): AsteriskBanError {
  return new AsteriskBanError('E_CONFIG', `action ${spec.name}: ${message}`, { ...where(spec), hint });
}

function unquote(v: string): string {
  const t = v.trim();
  return /^(["']).*\1$/.test(t) ? t.slice(1, -1).trim() : t;
}

function parseBool(spec: Invocation, key: string, value: string | undefined, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  const b = parseBoolText(unquote(value));
  if (b === null) throw bad(spec, `${key} = "${printable(value)}" is not yes or no`);
  return b;
}

// fail2ban writes `iptables = iptables <lockingopt>`: the binary is the first word, the options we supply ourselves.
function binary(spec: Invocation, key: string, dflt: string): string {
  const raw = spec.params[key];
  if (raw === undefined) return dflt;
  const first = unquote(raw).split(/\s+/)[0] ?? '';
  if (!/^[A-Za-z0-9_./+-]{1,200}$/.test(first) || first.startsWith('-')) {
    throw bad(spec, `${key} = "${printable(raw)}" is not a program path`);
  }
  return first;
}

function parseBlocktype(spec: Invocation, raw: string | undefined): BlockType {
  if (raw === undefined) return { kind: 'REJECT', with: null };
  const v = unquote(raw);
  if (/^drop$/i.test(v)) return { kind: 'DROP' };
  if (/^reject$/i.test(v)) return { kind: 'REJECT', with: null };
  const m = /^reject\s+--reject-with\s+([a-z0-9-]+)$/i.exec(v);
  if (m && REJECT_TYPES_V4.includes(m[1]!.toLowerCase())) return { kind: 'REJECT', with: m[1]!.toLowerCase() };
  throw bad(spec, `blocktype "${printable(v)}" is not supported`, 'use REJECT, DROP or "REJECT --reject-with tcp-reset"');
}

export interface ParseOptions {
  allports: boolean;
  /** Options of the jail (fail2ban fills action parameters such as port from them). */
  jailOptions?: Record<string, string>;
  jailName?: string;
}

/**
 * fail2ban's stock jail.conf passes tags such as chain="<known/chain>" (the
 * action's own default) or port="<port>" (a jail option). A tag naming a
 * jail option takes its value; any other tag means "the default".
 */
export function resolveTags(params: Record<string, string>, jail: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    const tag = /^<(?:known\/)?([A-Za-z_][\w.-]*)>$/.exec(unquote(value));
    if (!tag) out[key] = value;
    else if (Object.hasOwn(jail, tag[1]!)) out[key] = jail[tag[1]!]!;
  }
  return out;
}

/**
 * A valid table/chain/set name from any jail name: characters a name may not
 * hold become `_`, and a name over 22 characters keeps its start and a short
 * hash of the whole, so two jails never fall back to one shared name.
 */
export function nameFromJail(jail: string): string {
  const clean = jail.replace(/[^A-Za-z0-9_-]/g, '_');
  const valid = /^[A-Za-z0-9_]/.test(clean) ? clean : `j${clean}`;
  if (valid === jail && valid.length <= 22) return valid;
  // Changed or cut: a hash of the original keeps `a.b` apart from a jail named `a_b`.
  return `${valid.slice(0, 15)}_${createHash('sha256').update(jail).digest('hex').slice(0, 6)}`;
}

/** What every firewall factory builds from: the action line, filled in from the jail's options and name. */
export function jailFirewallParams(spec: Invocation, deps: ActionDeps, allports: boolean): FirewallParams {
  return parseFirewallParams(spec, { allports, jailOptions: deps.jail.options, jailName: deps.jail.name });
}

export function parseFirewallParams(spec: Invocation, opts: ParseOptions): FirewallParams {
  // Jail options that are themselves unresolved tags (chain = <known/chain>) give no value.
  const jail = Object.fromEntries(Object.entries(opts.jailOptions ?? {}).filter(([, v]) => !/^<.*>$/.test(v.trim())));
  const p = resolveTags(spec.params, jail);
  // fail2ban's default name is "default": two jails would share one chain. The jail's name keeps them apart.
  const jailName = opts.jailName ? nameFromJail(opts.jailName) : 'default';
  const name = unquote(p.name ?? jailName);
  // Set names are limited to 31 characters: `asban-` + name + `-v4`.
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]{0,21}$/.test(name)) {
    throw bad(spec, `name "${printable(name)}" must be 1-22 letters, digits, _ or -`);
  }
  const protoText = unquote(p.protocol ?? jail.protocol ?? 'all').toLowerCase();
  if (protoText !== 'tcp' && protoText !== 'udp' && protoText !== 'all') {
    throw bad(spec, `protocol "${printable(protoText)}" is not tcp, udp or all`);
  }
  let ports: PortRange[] | null = null;
  if (!opts.allports) {
    try {
      ports = parsePorts(unquote(p.port ?? jail.port ?? '5060,5061'));
    } catch (e) {
      throw bad(spec, (e as Error).message, (e as AsteriskBanError).hint);
    }
  }
  const chain = unquote(p.chain ?? jail.chain ?? 'INPUT');
  // A leading "-" would be read by iptables as an option (chain="-F").
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]{0,27}$/.test(chain)) throw bad(spec, `chain "${printable(chain)}" is not a chain name`);
  const netns = p.netns === undefined ? null : unquote(p.netns);
  if (netns !== null && !/^[A-Za-z0-9_.-]{1,64}$/.test(netns)) throw bad(spec, `netns "${printable(netns)}" is not a namespace name`);
  const v6Text = unquote(p.allowipv6 ?? 'auto').toLowerCase();
  const allowipv6 = v6Text === 'auto' ? 'auto' : parseBool(spec, 'allowipv6', v6Text, true) ? 'yes' : 'no';
  return {
    allowipv6,
    name,
    protocol: protoText,
    ports,
    chain,
    blocktype: parseBlocktype(spec, p.blocktype),
    iptables: binary(spec, 'iptables', 'iptables'),
    ip6tables: binary(spec, 'ip6tables', 'ip6tables'),
    ipset: binary(spec, 'ipset', 'ipset'),
    nft: binary(spec, 'nft', 'nft'),
    conntrack: binary(spec, 'conntrack', 'conntrack'),
    keep: parseBool(spec, 'keep', p.keep, false),
    flushConntrack: parseBool(spec, 'flushconntrack', p.flushconntrack, true),
    persistent: parseBool(spec, 'persistent', p.persistent, true),
    netlink: parseBool(spec, 'netlink', p.netlink, true),
    netns,
  };
}
