import { printable } from '../../core/address.js';
import { parseDuration } from '../../core/duration.js';
import { configError } from '../../core/errors.js';
import type { NotifyEvent } from '../../alerts/types.js';
import type { ActionDeps } from '../types.js';
import type { Invocation } from '../../settings/types.js';
import { parseBool } from '../../settings/values.js';
import { parseNotifyEvents } from '../notify/events.js';
import { WEBHOOK_FORMATS, type WebhookFormat } from './payload.js';

/** What may be shown and logged: no URL path, query or secret in here. */
export interface WebhookOptions {
  /** Shown in messages and the action id; the `name` parameter or the jail's name. */
  name: string;
  format: WebhookFormat;
  events: ReadonlySet<NotifyEvent>;
  notifyUnban: boolean;
  digestMs: number;
  /** One request, answer included. */
  timeoutMs: number;
  /** Tries per message, the first included, before it is dropped. */
  maxAttempts: number;
  /** Whether requests are signed (the secret itself stays in the endpoint). */
  signed: boolean;
  /** `<scheme>://<host>`: the only part of the URL that logs and errors show. */
  describe: string;
}

/** Where requests go and how they are authenticated. Never logged, never put in an error. */
export interface WebhookEndpoint {
  /** Without user and password (fetch refuses URLs that hold them). */
  url: URL;
  /** `Basic ...` from a `user:password@` in the URL, or null. */
  authorization: string | null;
  /** HMAC key for X-Asterisk-Ban-Signature, or null for unsigned requests. */
  secret: string | null;
  /** Every form of the URL's token-bearing parts and of the secrets, for scrubbing error text. */
  redact: string[];
  describe: string;
}

export const WEBHOOK_PARAMS: readonly string[] = ['url', 'format', 'secret', 'events', 'notify_unban', 'digest', 'timeout', 'retries', 'name'];

// One captured request lets anyone test guesses of the key offline; a long key costs nothing.
const MIN_SECRET = 16;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function parseWebhookOptions(spec: Invocation, deps: ActionDeps): { options: WebhookOptions; endpoint: WebhookEndpoint } {
  const p = spec.params;
  const where = { file: spec.file, line: spec.line };
  const fail = (msg: string, hint?: string): never => {
    throw configError(`${spec.name}: ${msg}`, where, hint);
  };
  // `env:NAME` keeps a token out of jail files (which are often world-readable and kept in git).
  const resolve = (key: string): string | null => {
    const raw = p[key]?.trim();
    if (raw === undefined || raw === '') return null;
    const m = /^env:(.*)$/.exec(raw);
    if (!m) return raw;
    const name = m[1]!.trim();
    if (!ENV_NAME.test(name)) fail(`${key} = env:${shown(name)} does not name an environment variable`);
    const value = deps.env[name]?.trim();
    if (value === undefined || value === '') {
      fail(`${key} = env:${name}, but ${name} is not set`, `set ${name} in the environment or in .env`);
    }
    return value!;
  };

  const dur = (key: string, dfltSeconds: number, min: number, max: number): number => {
    const v = p[key]?.trim();
    if (v === undefined || v === '') return Math.round(dfltSeconds * 1000);
    let n = Number.NaN;
    try {
      n = parseDuration(v);
    } catch {
      // reported below with the key's name
    }
    if (!Number.isFinite(n) || n < min || n > max) fail(`${key} must be a duration from ${min} s to ${max} s (e.g. 10, 1m), not "${shown(v)}"`);
    return Math.round(n * 1000);
  };

  const urlText = resolve('url') ?? fail('url is missing', 'webhook[url=https://hooks.example.org/..., format=json] or url=env:WEBHOOK_URL');
  const endpointBase = parseUrl(urlText, fail);

  const formatText = (p.format?.trim() || 'json').toLowerCase();
  if (!(WEBHOOK_FORMATS as readonly string[]).includes(formatText)) {
    fail(`format "${shown(formatText)}" is not supported`, `use one of ${WEBHOOK_FORMATS.join(', ')}`);
  }

  const secret = resolve('secret');
  if (secret !== null && secret.length < MIN_SECRET) {
    // The length only: the value itself must never reach a message.
    fail(`secret is ${secret.length} characters long, shorter than ${MIN_SECRET}`, 'generate one with: openssl rand -hex 32');
  }

  const events = parseNotifyEvents(p.events, fail);

  const unbanText = p.notify_unban?.trim();
  const notifyUnban = unbanText === undefined || unbanText === '' ? true : (parseBool(unbanText) ?? fail(`notify_unban must be yes or no, not "${shown(unbanText)}"`));

  const retriesText = p.retries?.trim();
  let maxAttempts = 4;
  if (retriesText !== undefined && retriesText !== '') {
    maxAttempts = /^\d{1,3}$/.test(retriesText) ? Number(retriesText) : Number.NaN;
    if (!(maxAttempts >= 1 && maxAttempts <= 100)) fail(`retries must be a whole number of attempts from 1 to 100, not "${shown(retriesText)}"`);
  }

  const name = (p.name?.trim() || deps.jail.name).replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim().slice(0, 80);

  const redact = [urlText, endpointBase.url.href, endpointBase.url.pathname + endpointBase.url.search, endpointBase.url.pathname, endpointBase.url.search, ...endpointBase.redact];
  if (secret !== null) redact.push(secret);
  const endpoint: WebhookEndpoint = {
    ...endpointBase,
    secret,
    // A bare `/` or `?` would scrub every slash from an error and leave it unreadable.
    redact: [...new Set(redact)].filter((s) => s.length > 1),
  };
  return {
    options: {
      name,
      format: formatText as WebhookFormat,
      events,
      notifyUnban,
      digestMs: dur('digest', 60, 0, 86_400),
      timeoutMs: dur('timeout', 10, 0.1, 300),
      maxAttempts,
      signed: secret !== null,
      describe: endpoint.describe,
    },
    endpoint,
  };
}

function parseUrl(text: string, fail: (msg: string, hint?: string) => never): Omit<WebhookEndpoint, 'secret'> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text may be a token-bearing URL: never echo it.
    return fail('url is not a valid URL', 'write it in full: https://host/path');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`url must be http:// or https://, not ${shown(url.protocol)}//`);
  if (url.hostname === '') fail('url has no host');
  const redact: string[] = [];
  let authorization: string | null = null;
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    const token = Buffer.from(`${user}:${password}`).toString('base64');
    authorization = `Basic ${token}`;
    redact.push(token, url.password, password);
    url.username = '';
    url.password = '';
  }
  url.hash = '';
  return { url, authorization, redact, describe: `${url.protocol}//${url.host}` };
}

function shown(v: string): string {
  return printable(v, 40);
}
