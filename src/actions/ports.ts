import { readFileSync } from 'node:fs';
import { AsteriskBanError } from '../core/errors.js';
import { printable } from '../core/address.js';

/** An inclusive port range; a single port has from === to. */
export interface PortRange {
  from: number;
  to: number;
}

let servicesCache: { path: string; map: Map<string, number> } | null = null;

/** Reads /etc/services (name and aliases → port) once; a missing file means no names. */
export function loadServices(path = '/etc/services'): Map<string, number> {
  if (servicesCache?.path === path) return servicesCache.map;
  const map = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    text = '';
  }
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [name, portProto, ...aliases] = line.split(/\s+/);
    const m = /^(\d{1,5})\/(tcp|udp|sctp|dccp)$/.exec(portProto ?? '');
    if (!name || !m) continue;
    const port = Number(m[1]);
    for (const n of [name, ...aliases]) if (!map.has(n.toLowerCase())) map.set(n.toLowerCase(), port);
  }
  servicesCache = { path, map };
  return map;
}

function onePort(text: string, services: Map<string, number>): number {
  if (/^\d{1,5}$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 65535) return n;
  } else {
    const named = services.get(text.toLowerCase());
    if (named !== undefined) return named;
    throw new AsteriskBanError('E_CONFIG', `unknown service name "${printable(text)}" in port list`, {
      hint: 'use a port number or a name listed in /etc/services (sip, sip-tls, iax)',
    });
  }
  throw new AsteriskBanError('E_CONFIG', `port "${printable(text)}" is not between 1 and 65535`);
}

/**
 * Parses fail2ban's `port` value: `5060,5061,4569`, ranges `10000:20000`
 * (iptables style) or `10000-20000`, service names from /etc/services.
 */
export function parsePorts(text: string, services: Map<string, number> = loadServices()): PortRange[] {
  const items = text.replace(/^["']|["']$/g, '').split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new AsteriskBanError('E_CONFIG', 'empty port list', { hint: 'e.g. port = 5060,5061,4569' });
  if (items.length > 1000) throw new AsteriskBanError('E_CONFIG', 'port list longer than 1000 items');
  return items.map((item) => {
    // A name like sip-tls is a service before it is a range.
    const m = services.has(item.toLowerCase()) ? null : /^([^:-]+)[:-]([^:-]+)$/.exec(item);
    if (!m) {
      const p = onePort(item, services);
      return { from: p, to: p };
    }
    const from = onePort(m[1]!.trim(), services);
    const to = onePort(m[2]!.trim(), services);
    if (from > to) throw new AsteriskBanError('E_CONFIG', `port range "${printable(item)}" runs backwards`);
    return { from, to };
  });
}

/**
 * iptables' multiport takes at most 15 ports per rule, a range counting as
 * two; longer lists are split over several jump rules.
 */
export function multiportChunks(ports: readonly PortRange[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let weight = 0;
  for (const p of ports) {
    const w = p.from === p.to ? 1 : 2;
    if (weight + w > 15) {
      chunks.push(current.join(','));
      current = [];
      weight = 0;
    }
    current.push(p.from === p.to ? String(p.from) : `${p.from}:${p.to}`);
    weight += w;
  }
  if (current.length) chunks.push(current.join(','));
  return chunks;
}

/** nft set syntax: `{ 5060, 10000-20000 }`. */
export function nftPortSet(ports: readonly PortRange[]): string {
  return `{ ${ports.map((p) => (p.from === p.to ? String(p.from) : `${p.from}-${p.to}`)).join(', ')} }`;
}
