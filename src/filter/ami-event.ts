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

const SECURITY_PRIVILEGE = 'security,all';

export interface FrameCheck {
  /** Value of the first header when it is `Event`; null otherwise. */
  event: string | null;
  /** Every security header exactly once, Event first and once, Privilege security,all. */
  whole: boolean;
  /** Every security header at least once (repeats allowed): nothing of Asterisk's own is missing. */
  complete: boolean;
  /** Carries a Privilege header (a frame Asterisk started) rather than a continuation the attacker's blank line cut off. */
  headed: boolean;
  /** A value holds a bare CR/LF, or a header repeats: someone wrote into a field. */
  tampered: boolean;
  /** The last RemoteAddress in the frame: later ones are what Asterisk wrote. */
  remote: string | null;
  /** The first Privilege value: Asterisk writes it before any attacker field. */
  privilege: string | null;
  /** These three only when present exactly once. */
  eventTV: string | undefined;
  service: string | undefined;
  account: string | undefined;
}

// Headers every security event carries exactly once (Asterisk 13..22), slots
// 0-8, plus Event: slots for counting them without a Map per frame.
const SLOT: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, {
  Privilege: 0, EventTV: 1, Severity: 2, Service: 3, EventVersion: 4, AccountID: 5, SessionID: 6, LocalAddress: 7, RemoteAddress: 8, Event: 9,
});

class Checker {
  // A small packed array: cheaper to allocate per message than a typed array.
  readonly counts = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  event: string | null = null;
  remote: string | null = null;
  privilege: string | null = null;
  eventTV: string | undefined;
  service: string | undefined;
  account: string | undefined;
  first = true;

  add(key: string, value: string): void {
    if (this.first) {
      this.first = false;
      if (key === 'Event') this.event = value;
    }
    const slot = SLOT[key];
    if (slot === undefined) return;
    this.counts[slot]!++;
    switch (slot) {
      case 0: if (this.privilege === null) this.privilege = value; break;
      case 1: this.eventTV = value; break;
      case 3: this.service = value; break;
      case 5: this.account = value; break;
      case 8: this.remote = value; break;
      default: break;
    }
  }

  result(tampered: boolean): FrameCheck {
    const c = this.counts;
    let whole = this.event !== null && c[9] === 1 && this.privilege === SECURITY_PRIVILEGE;
    let complete = true;
    for (let i = 0; i < 9; i++) {
      if (c[i]! > 1) tampered = true;
      if (c[i] !== 1) whole = false;
      if (c[i] === 0) complete = false;
    }
    return {
      event: this.event,
      whole,
      complete,
      headed: c[0]! > 0,
      tampered,
      remote: this.remote,
      privilege: this.privilege,
      eventTV: c[1] === 1 ? this.eventTV : undefined,
      service: c[3] === 1 ? this.service : undefined,
      account: c[5] === 1 ? this.account : undefined,
    };
  }
}

const BARE_CR_OR_LF = /\r(?!\n)|(?<!\r)\n/;

export function checkFrame(frame: AmiFrame): FrameCheck {
  const k = new Checker();
  let tampered = false;
  for (const [key, value] of frame.headers) {
    k.add(key, value);
    if (!tampered && (BARE_CR_OR_LF.test(value) || BARE_CR_OR_LF.test(key))) tampered = true;
  }
  return k.result(tampered);
}

/** Slot of a security header named by text[pos, pos+len), or -1; no key string is built. */
function slotAt(text: string, pos: number, len: number): number {
  switch (len) {
    case 5: return text.startsWith('Event', pos) ? 9 : -1;
    case 7: return text.startsWith('EventTV', pos) ? 1 : text.startsWith('Service', pos) ? 3 : -1;
    case 8: return text.startsWith('Severity', pos) ? 2 : -1;
    case 9: return text.startsWith('Privilege', pos) ? 0 : text.startsWith('AccountID', pos) ? 5 : text.startsWith('SessionID', pos) ? 6 : -1;
    case 12: return text.startsWith('EventVersion', pos) ? 4 : text.startsWith('LocalAddress', pos) ? 7 : -1;
    case 13: return text.startsWith('RemoteAddress', pos) ? 8 : -1;
    default: return -1;
  }
}

/**
 * The same check straight over a message's text (CRLF-separated lines, no
 * terminating blank line): the hot path, building only the values it needs.
 */
export function scanFrame(text: string): FrameCheck {
  const k = new Checker();
  const c = k.counts;
  const n = text.length;
  let tampered = false;
  let nextCR = text.indexOf('\r');
  let nextLF = text.indexOf('\n');
  let pos = 0;
  let first = true;
  while (pos <= n) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = n;
    // Every CR must start a CRLF and every LF end one; anything else is inside a value.
    if (!tampered && ((nextCR >= 0 && nextCR < eol) || (nextLF >= 0 && nextLF <= eol))) tampered = true;
    const colon = text.indexOf(':', pos);
    if (colon >= 0 && colon < eol) {
      const slot = slotAt(text, pos, colon - pos);
      if (slot >= 0) {
        c[slot]!++;
        const vstart = text.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
        // Only the values used later are cut out (no closure: hot path).
        const wanted = slot === 9 ? first : slot === 0 ? k.privilege === null : slot === 1 || slot === 3 || slot === 5 || slot === 8;
        if (wanted) {
          const value = vstart > eol ? '' : text.slice(vstart, eol);
          if (slot === 9) k.event = value;
          else if (slot === 0) k.privilege = value;
          else if (slot === 1) k.eventTV = value;
          else if (slot === 3) k.service = value;
          else if (slot === 5) k.account = value;
          else k.remote = value;
        }
      }
    }
    first = false;
    pos = eol + 2;
    if (!tampered) {
      if (nextCR >= 0 && nextCR < pos) nextCR = text.indexOf('\r', pos);
      if (nextLF >= 0 && nextLF < pos) nextLF = text.indexOf('\n', pos);
    }
  }
  return k.result(tampered);
}

/**
 * `IPV4/UDP/203.0.113.5/5060`, `IPV6/TLS/2001:db8::1/5061`, `IPV4/203.0.113.5/5060`.
 * IPv6 is not bracketed, so the text is split on '/', never ':'.
 */
export function parseRemoteAddress(text: string): Address | null {
  if (text.length > 100) return null;
  const s1 = text.indexOf('/');
  const last = text.lastIndexOf('/');
  if (s1 < 0 || last <= s1) return null;
  const family = text.slice(0, s1).toUpperCase();
  if (family !== 'IPV4' && family !== 'IPV6') return null;
  const s2 = text.indexOf('/', s1 + 1);
  let host: string;
  if (s2 === last) {
    host = text.slice(s1 + 1, last);
  } else {
    // A transport (UDP, TCP, TLS, WS, WSS) between family and address; never more parts.
    if (text.indexOf('/', s2 + 1) !== last || !/^[A-Za-z]{2,4}$/.test(text.slice(s1 + 1, s2))) return null;
    host = text.slice(s2 + 1, last);
  }
  const port = text.slice(last + 1);
  if (!/^\d{1,5}$/.test(port)) return null;
  const addr = parseAddress(host);
  if (!addr) return null;
  // A v4-mapped v6 address normalises to v4; any other mismatch is not Asterisk's writing.
  if (family === 'IPV4' && addr.family !== 4) return null;
  if (family === 'IPV6' && addr.family === 6 && host.includes('.')) return null;
  return addr;
}

let lastTV = '';
let lastTVms: number | null = null;

/** `2026-11-27T10:00:00.123+0000` (Asterisk's EventTV) to ms epoch, or null. */
export function parseEventTime(text: string | undefined): number | null {
  if (!text) return null;
  // Events of one burst share their EventTV text; skip the regex for repeats.
  if (text === lastTV) return lastTVms;
  lastTVms = parseEventTimeUncached(text);
  lastTV = text;
  return lastTVms;
}

function parseEventTimeUncached(text: string): number | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (!m) return null;
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '.000';
  const ms = Date.parse(`${m[1]}${frac}${m[3]}${m[4]}:${m[5]}`);
  return Number.isFinite(ms) ? ms : null;
}

const MAX_ACCOUNT = 80;
// Printable ASCII without backslash: shown as is; anything else goes through printable().
const SAFE_ACCOUNT = /^[\x20-\x5b\x5d-\x7e]{0,80}$/;

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
  const service = check.service;
  if (opts.services.size > 0 && (!service || !opts.services.has(service.toUpperCase()))) return { kind: 'ignored' };
  if (remote === null) return { kind: 'malformed', why: 'no RemoteAddress' };
  const addr = parseRemoteAddress(remote);
  if (!addr) return { kind: 'malformed', why: `RemoteAddress "${printable(remote, 80)}" does not parse` };
  const account = check.account;
  const failure: Failure = {
    ip: addr.text,
    family: addr.family,
    time: parseEventTime(check.eventTV) ?? now,
    source: 'ami',
    reason: eventName,
    // parseRemoteAddress accepted it, so it is plain printable text.
    raw: `${eventName} ${remote}`,
  };
  if (service) failure.service = service.length <= 16 && /^[A-Za-z0-9]+$/.test(service) ? service : printable(service, 16);
  if (account !== undefined) failure.account = SAFE_ACCOUNT.test(account) ? account : printable(account, MAX_ACCOUNT);
  return { kind: 'failure', failure };
}

/** Convenience for tests and one-off use: a whole, untampered-or-not frame to a Failure. */
export function mapFrame(frame: AmiFrame, opts: MapOptions, now: number): MapResult {
  const check = checkFrame(frame);
  return toFailure(check, check.remote, opts, now);
}
