import { parseAddress, printable, type Address } from '../core/address.js';
import type { Failure } from '../core/types.js';

/**
 * One AMI message as Asterisk wrote it: header lines in order, each split at
 * the first colon. Lines are CRLF-delimited; a bare CR or LF inside a value
 * stays in the value (it can only come from an attacker's input).
 */
export interface AmiFrame {
  headers: ReadonlyArray<readonly [key: string, value: string]>;
}

/** Headers every security event carries exactly once (Asterisk 13..22). */
export const SECURITY_HEADERS = [
  'Privilege', 'EventTV', 'Severity', 'Service', 'EventVersion', 'AccountID', 'SessionID', 'LocalAddress', 'RemoteAddress',
] as const;

export const SECURITY_PRIVILEGE = 'security,all';

export interface FrameCheck {
  /** Value of the first header when it is `Event`; null otherwise. */
  event: string | null;
  /** Every security header exactly once, Event first, Privilege security,all. */
  whole: boolean;
  /** Carries a Privilege header (a frame Asterisk started) rather than a continuation the attacker's blank line cut off. */
  headed: boolean;
  /** A value holds a CR/LF, or a header repeats: someone wrote into a field. */
  tampered: boolean;
  /** The last RemoteAddress in the frame: later ones are what Asterisk wrote. */
  remote: string | null;
  /** The first Privilege value: Asterisk writes it before any attacker field. */
  privilege: string | null;
  /** Value of the header when present exactly once (or the last one for RemoteAddress). */
  get(name: string): string | undefined;
}

const MAX_ACCOUNT = 80;

export function checkFrame(frame: AmiFrame): FrameCheck {
  const counts = new Map<string, number>();
  const values = new Map<string, string>();
  let tampered = false;
  let remote: string | null = null;
  let privilege: string | null = null;
  for (const [key, value] of frame.headers) {
    counts.set(key, (counts.get(key) ?? 0) + 1);
    values.set(key, value);
    if (key === 'RemoteAddress') remote = value;
    else if (key === 'Privilege' && privilege === null) privilege = value;
    if (value.includes('\n') || value.includes('\r') || key.includes('\n') || key.includes('\r')) tampered = true;
  }
  const first = frame.headers[0];
  const event = first && first[0] === 'Event' ? first[1] : null;
  let whole = event !== null && counts.get('Event') === 1 && values.get('Privilege') === SECURITY_PRIVILEGE;
  for (const name of SECURITY_HEADERS) {
    const n = counts.get(name) ?? 0;
    if (n > 1) tampered = true;
    if (n !== 1) whole = false;
  }
  return {
    event,
    whole,
    headed: counts.has('Privilege'),
    tampered,
    remote,
    privilege,
    get: (name) => (name === 'RemoteAddress' ? remote ?? undefined : counts.get(name) === 1 ? values.get(name) : undefined),
  };
}

/**
 * `IPV4/UDP/203.0.113.5/5060`, `IPV6/TLS/2001:db8::1/5061`, `IPV4/203.0.113.5/5060`.
 * IPv6 is not bracketed, so the text is split on '/', never ':'.
 */
export function parseRemoteAddress(text: string): Address | null {
  if (text.length > 100) return null;
  const parts = text.split('/');
  if (parts.length !== 3 && parts.length !== 4) return null;
  const family = parts[0]!.toUpperCase();
  if (family !== 'IPV4' && family !== 'IPV6') return null;
  const host = parts[parts.length - 2]!;
  const port = parts[parts.length - 1]!;
  if (!/^\d{1,5}$/.test(port)) return null;
  const addr = parseAddress(host);
  if (!addr) return null;
  // A v4-mapped v6 address normalises to v4; any other mismatch is not Asterisk's writing.
  if (family === 'IPV4' && addr.family !== 4) return null;
  if (family === 'IPV6' && addr.family === 6 && host.includes('.')) return null;
  return addr;
}

/** `2026-11-27T10:00:00.123+0000` (Asterisk's EventTV) to ms epoch, or null. */
export function parseEventTime(text: string | undefined): number | null {
  if (!text) return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (!m) return null;
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '.000';
  const ms = Date.parse(`${m[1]}${frac}${m[3]}${m[4]}:${m[5]}`);
  return Number.isFinite(ms) ? ms : null;
}

export interface MapOptions {
  /** Event names that count as failures. */
  events: ReadonlySet<string>;
  /** Services taken (upper case); empty = all. */
  services: ReadonlySet<string>;
}

export function mapOptions(events: readonly string[], services: readonly string[]): MapOptions {
  return { events: new Set(events), services: new Set(services.map((s) => s.toUpperCase())) };
}

export type MapResult =
  | { kind: 'failure'; failure: Failure }
  | { kind: 'ignored' }
  | { kind: 'malformed'; why: string };

/**
 * A checked frame (or a rejoined pair) to a Failure. `remote` is the address
 * text to use; the caller decides which RemoteAddress is Asterisk's.
 */
export function toFailure(check: FrameCheck, remote: string | null, opts: MapOptions, now: number, eventName = check.event): MapResult {
  if (eventName === null || !opts.events.has(eventName)) return { kind: 'ignored' };
  const service = check.get('Service');
  if (opts.services.size > 0 && (!service || !opts.services.has(service.toUpperCase()))) return { kind: 'ignored' };
  if (remote === null) return { kind: 'malformed', why: 'no RemoteAddress' };
  const addr = parseRemoteAddress(remote);
  if (!addr) return { kind: 'malformed', why: `RemoteAddress "${printable(remote, 80)}" does not parse` };
  const account = check.get('AccountID');
  const failure: Failure = {
    ip: addr.text,
    family: addr.family,
    time: parseEventTime(check.get('EventTV')) ?? now,
    source: 'ami',
    reason: eventName,
    raw: `${eventName} ${service ?? '?'} ${printable(remote, 80)}`,
  };
  if (service) failure.service = printable(service, 16);
  if (account !== undefined) failure.account = printable(account, MAX_ACCOUNT);
  return { kind: 'failure', failure };
}

/** Convenience for tests and one-off use: a whole, untampered-or-not frame to a Failure. */
export function mapFrame(frame: AmiFrame, opts: MapOptions, now: number): MapResult {
  const check = checkFrame(frame);
  return toFailure(check, check.remote, opts, now);
}
