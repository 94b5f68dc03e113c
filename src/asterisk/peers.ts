import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseNetwork, printable } from '../core/address.js';
import { readAsteriskConfig, effectiveOptions, type ConfigOption, type ConfigWarning } from './config-file.js';

/**
 * The addresses Asterisk itself trusts, read from its configuration: a
 * forged log line or an ambiguous message naming one of them must never ban
 * it (a banned SIP trunk takes every call down).
 * - pjsip.conf: `match=` of identify sections, static `contact=` of aors;
 * - sip.conf and iax.conf: `host=` of peers (not `dynamic`).
 */
export interface TrustedPeer {
  /** An address or network (CIDR), or a host name still to resolve. */
  entry: string;
  /** For status and logs: `pjsip.conf:12 [provider] match`. */
  origin: string;
}

export interface PeerReading {
  dir: string;
  peers: TrustedPeer[];
  warnings: ConfigWarning[];
  /** False when the directory does not exist (Asterisk elsewhere, or not on this host). */
  found: boolean;
}

const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?$/i;
const NOT_PEERS = new Set(['general', 'authentication', 'globals', 'system', 'global', 'transport']);

/** A warning as the log and check-config print it: `file:line: message`. */
export function warningText(w: ConfigWarning): string {
  return `${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`;
}

export function readTrustedPeers(dir: string): PeerReading {
  const reading: PeerReading = { dir, peers: [], warnings: [], found: existsSync(dir) };
  if (!reading.found) return reading;
  readPjsip(join(dir, 'pjsip.conf'), reading);
  readHostPeers(join(dir, 'sip.conf'), reading);
  readHostPeers(join(dir, 'iax.conf'), reading);
  return reading;
}

function load(path: string, reading: PeerReading) {
  if (!existsSync(path)) return null;
  const config = readAsteriskConfig(path);
  reading.warnings.push(...config.warnings);
  for (const s of config.sections) {
    for (const t of s.inherits) {
      if (!config.sections.some((x) => x.name === t && x !== s)) reading.warnings.push({ file: s.file, line: s.line, message: `[${printable(s.name)}] uses template ${printable(t)}, which is not defined` });
    }
  }
  return config;
}

function last(options: ConfigOption[], key: string): string | undefined {
  for (let i = options.length - 1; i >= 0; i--) if (options[i]!.key === key) return options[i]!.value;
  return undefined;
}

function readPjsip(path: string, reading: PeerReading): void {
  const config = load(path, reading);
  if (!config) return;
  for (const section of config.sections) {
    if (section.template) continue;
    const options = effectiveOptions(config, section);
    const type = last(options, 'type')?.toLowerCase();
    const key = type === 'identify' ? 'match' : type === 'aor' ? 'contact' : null;
    if (!key) continue;
    for (const o of options) {
      if (o.key !== key) continue;
      for (const part of o.value.split(',')) {
        const text = part.trim();
        if (text === '') continue;
        const entry = key === 'match' ? matchEntry(text) : contactHost(text);
        const where = `${basename(o.file)}:${o.line} [${printable(section.name, 60)}] ${key}`;
        if (entry) reading.peers.push({ entry, origin: where });
        else reading.warnings.push({ file: o.file, line: o.line, message: `${key} "${printable(text, 80)}" names no address or host: not learned` });
      }
    }
  }
}

function readHostPeers(path: string, reading: PeerReading): void {
  const config = load(path, reading);
  if (!config) return;
  for (const section of config.sections) {
    if (section.template || NOT_PEERS.has(section.name.toLowerCase())) continue;
    const options = effectiveOptions(config, section);
    const host = [...options].reverse().find((o) => o.key === 'host');
    if (!host || host.value.toLowerCase() === 'dynamic' || host.value === '') continue;
    const entry = hostEntry(host.value);
    if (entry) reading.peers.push({ entry, origin: `${basename(host.file)}:${host.line} [${printable(section.name, 60)}] host` });
    else reading.warnings.push({ file: host.file, line: host.line, message: `host "${printable(host.value, 80)}" names no address or host: not learned` });
  }
}

/** identify match: an address, a network as CIDR or address/netmask, or a host name (a port is dropped). */
export function matchEntry(text: string): string | null {
  const slash = text.indexOf('/');
  if (slash > 0) {
    const mask = text.slice(slash + 1);
    const prefix = /^\d+\.\d+\.\d+\.\d+$/.test(mask) ? netmaskBits(mask) : mask;
    if (prefix === null) return null;
    const net = parseNetwork(`${text.slice(0, slash)}/${prefix}`);
    return net ? net.text : null;
  }
  return hostEntry(text);
}

/** A static aor contact, `sip:user@host:port;params`: its host. */
export function contactHost(uri: string): string | null {
  const m = /^sips?:(?:[^@;]*@)?(\[[0-9a-f:.]+\]|[^:;>\s]+)/i.exec(uri.replace(/^<|>$/g, ''));
  return m ? hostEntry(m[1]!) : null;
}

/** An address, `address:port`, `[v6]:port` or a host name; null for anything else. */
export function hostEntry(text: string): string | null {
  let t = text.trim();
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(t);
  if (v6) t = v6[1]!;
  else if (/^[^:]+:\d+$/.test(t)) t = t.slice(0, t.lastIndexOf(':'));
  const net = parseNetwork(t);
  if (net) return net.text.replace(/\/(32|128)$/, '');
  if (HOSTNAME.test(t) && !/^[\d.]+$/.test(t)) return t.toLowerCase();
  return null;
}

function netmaskBits(mask: string): number | null {
  const n = mask.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const bits = n.toString(2).replace(/0+$/, '');
  return /^1*$/.test(bits) && mask.split('.').every((o) => Number(o) <= 255) ? bits.length : null;
}
