import { parseDuration } from '../../core/duration.js';
import { configError } from '../../core/errors.js';
import type { ActionDeps } from '../types.js';
import type { Invocation } from '../../settings/types.js';
import { parseBool } from '../../settings/values.js';
import type { NotifyEvent } from '../../alerts/types.js';
import { parseNotifyEvents } from '../notify/events.js';

/** What the -whois / -lines names turn on by default. */
export interface MailVariant {
  whois: boolean;
  lines: boolean;
}

export type TransportSpec =
  | { kind: 'sendmail'; path: string }
  | {
      kind: 'smtp';
      host: string;
      port: number;
      /** smtps: TLS from the first byte. */
      secure: boolean;
      /** smtp: upgrade with STARTTLS when offered (auto), insist on it, or never try. */
      starttls: 'auto' | 'required' | 'off';
      /** Check the server's certificate; `tls_verify=no` for relays with self-signed certificates. */
      verify: boolean;
      user: string | null;
      text: string;
    };

export interface MailOptions {
  /** Shown in subjects; the `name` parameter or the jail's name. */
  name: string;
  to: string[];
  from: string;
  fromName: string;
  transport: TransportSpec;
  whois: boolean;
  whoisServer: string | null;
  whoisPort: number;
  whoisTimeoutMs: number;
  /** Raw failure lines per ban in the mail; 0 = none. */
  lines: number;
  digestMs: number;
  notifyStart: boolean;
  notifyUnban: boolean;
  /** What is mailed: bans (and unbans), alerts, or both. */
  events: ReadonlySet<NotifyEvent>;
}

export const MAIL_PARAMS: readonly string[] = [
  'name', 'dest', 'destemail', 'sender', 'sendername', 'transport', 'sendmail_path',
  'whois', 'whois_server', 'whois_port', 'whois_timeout', 'lines', 'digest', 'notify_start', 'notify_unban', 'events',
  // Passed by fail2ban's stock action_mw/action_mwl lines; accepted so those lines load, not used.
  'logpath', 'chain', 'port', 'protocol', 'grepmax', 'grepopts', 'mailcmd', 'mailargs',
];

const DEFAULT_LINES = 20;
const MAX_LINES = 200;
// Addresses only: a CR/LF, comma or angle bracket here would reach a mail header.
const MAILBOX = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+(@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)?$/;

export function parseMailOptions(spec: Invocation, deps: ActionDeps, variant: MailVariant): MailOptions {
  const p = spec.params;
  const where = { file: spec.file, line: spec.line };
  const fail = (msg: string, hint?: string): never => {
    throw configError(`${spec.name}: ${msg}`, where, hint);
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = p[key]?.trim().toLowerCase();
    if (v === undefined || v === '') return dflt;
    return parseBool(v) ?? fail(`${key} must be true or false, not "${v.slice(0, 40)}"`);
  };
  const num = (key: string, dflt: number, min: number, max: number): number => {
    const v = p[key]?.trim();
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) fail(`${key} must be a number from ${min} to ${max}, not "${v.slice(0, 40)}"`);
    return n;
  };

  const dur = (key: string, dflt: number, min: number, max: number): number => {
    const v = p[key]?.trim();
    if (v === undefined || v === '') return dflt;
    let n = Number.NaN;
    try {
      n = parseDuration(v);
    } catch {
      // reported below with the key's name
    }
    if (!Number.isFinite(n) || n < min || n > max) fail(`${key} must be a duration from ${min} s to ${max} s (e.g. 60, 5m), not "${v.slice(0, 40)}"`);
    return n;
  };

  const toText = (p.dest ?? p.destemail ?? deps.jail.destemail ?? '').trim() || 'root';
  const to = toText.split(/[,\s]+/).filter((s) => s !== '');
  if (to.length === 0) fail('dest is empty', 'set dest=root or destemail in [DEFAULT]');
  for (const addr of to) if (!MAILBOX.test(addr)) fail(`dest "${addr.slice(0, 80)}" is not a mail address`);
  const from = (p.sender ?? deps.jail.sender ?? '').trim() || 'asterisk-ban@localhost';
  if (!MAILBOX.test(from)) fail(`sender "${from.slice(0, 80)}" is not a mail address`);
  const fromName = p.sendername ?? 'asterisk-ban';
  if (/[\u0000-\u001f\u007f]/.test(fromName)) fail('sendername contains control characters');

  let lines = variant.lines ? DEFAULT_LINES : 0;
  const linesText = (p.lines ?? p.grepmax)?.trim().toLowerCase();
  if (linesText !== undefined && linesText !== '') {
    if (['true', 'yes', 'on'].includes(linesText)) lines = DEFAULT_LINES;
    else if (['false', 'no', 'off'].includes(linesText)) lines = 0;
    else lines = Math.floor(num(p.lines !== undefined ? 'lines' : 'grepmax', DEFAULT_LINES, 0, MAX_LINES));
  }

  return {
    name: sanitizeHeaderText(p.name?.trim() || deps.jail.name),
    to,
    from,
    fromName,
    transport: parseTransport(deps.env.SMTP_URL ?? p.transport ?? 'sendmail', p.sendmail_path, fail),
    whois: bool('whois', variant.whois),
    // Env overrides (like SMTP_URL) let a test or a locked-down host redirect lookups without editing jails.
    whoisServer: deps.env.MAIL_WHOIS_SERVER?.trim() || p.whois_server?.trim() || null,
    whoisPort: envPort(deps.env.MAIL_WHOIS_PORT) ?? Math.floor(num('whois_port', 43, 1, 65535)),
    whoisTimeoutMs: Math.round(dur('whois_timeout', 5, 0.01, 60) * 1000),
    lines,
    digestMs: Math.round(dur('digest', 60, 0, 86_400) * 1000),
    notifyStart: bool('notify_start', false),
    notifyUnban: bool('notify_unban', false),
    events: parseNotifyEvents(p.events, fail),
  };
}

function parseTransport(
  text: string,
  sendmailPath: string | undefined,
  fail: (msg: string, hint?: string) => never,
): TransportSpec {
  const t = text.trim();
  if (t === '' || t === 'sendmail') {
    const path = sendmailPath?.trim() || '/usr/sbin/sendmail';
    if (!path.startsWith('/')) fail(`sendmail_path must be absolute, not "${path.slice(0, 80)}"`);
    return { kind: 'sendmail', path };
  }
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    // The text may carry a password: never echo it.
    return fail('transport is neither "sendmail" nor an smtp:// or smtps:// URL');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') fail('transport must be "sendmail" or an smtp:// or smtps:// URL');
  if (url.password !== '') {
    fail('the SMTP URL contains a password', 'remove it from the URL and set SMTP_PASSWORD in the environment or .env');
  }
  const secure = url.protocol === 'smtps:';
  const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') fail('the SMTP URL has no host');
  const user = url.username === '' ? null : decodeURIComponent(url.username);
  let starttls: 'auto' | 'required' | 'off' = 'auto';
  let verify = true;
  for (const [key, value] of url.searchParams) {
    const v = value.trim().toLowerCase();
    if (key === 'starttls' && (v === 'auto' || v === 'required' || v === 'off')) starttls = v;
    else if (key === 'tls_verify' && ['yes', 'no', 'true', 'false'].includes(v)) verify = v === 'yes' || v === 'true';
    else fail(`the SMTP URL has an unsupported option "${key.slice(0, 40)}=${value.slice(0, 40)}"`, 'supported: starttls=auto|required|off, tls_verify=yes|no');
  }
  // The password stays out of the options (they may be shown or logged); the sender reads SMTP_PASSWORD itself.
  return { kind: 'smtp', host, port, secure, starttls, verify, user, text: `${url.protocol}//${user ? `${user}@` : ''}${url.host}` };
}

function envPort(text: string | undefined): number | null {
  const n = Number(text?.trim());
  return text !== undefined && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null;
}

/** Configuration text bound for a header: control characters out, bounded. */
export function sanitizeHeaderText(text: string, max = 80): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim().slice(0, max);
}
