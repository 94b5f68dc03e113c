import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../../src/core/clock.js';
import type { ActionDeps } from '../../../src/actions/types.js';
import type { Alert } from '../../../src/alerts/types.js';
import type { Invocation } from '../../../src/settings/types.js';
import { defaultJailSettings } from '../../../src/settings/defaults.js';
import { createWebhookAction, type WebhookAction, type WebhookActionOverrides } from '../../../src/actions/webhook/index.js';
import { captureLogger } from '../mail/support.js';

export { ban, failure, nthAddress } from '../mail/support.js';

/** A Slack-like token in the path: it must never reach a log line or an error. */
export const TOKEN_PATH = '/services/T0AAAA/B0BBBB/tokenXyZ123456789';
export const SECRET = 'a-webhook-secret-0123456789abcdef';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HookServer {
  port: number;
  url(path?: string): string;
  received: Received[];
  /** Answers for the next requests, in order; 200 once they run out. */
  statuses: number[];
  /** Never answer (for timeouts). */
  hang: boolean;
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1, port 0. */
export async function startHookServer(): Promise<HookServer> {
  const s: Partial<HookServer> & { received: Received[]; statuses: number[]; hang: boolean } = { received: [], statuses: [], hang: false };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      s.received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      if (s.hang) return;
      const status = s.statuses.shift() ?? 200;
      // An error page that echoes the path, as some frameworks do: it must not leak through our errors.
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : `Cannot POST ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(s, {
    port,
    url: (path = TOKEN_PATH) => `http://127.0.0.1:${port}${path}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  }) as HookServer;
}

/** A port nothing listens on (taken, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function invocation(params: Record<string, string>): Invocation {
  return { name: 'webhook', params, file: '/etc/asterisk-ban/jail.local', line: 31 };
}

export function deps(env: Record<string, string> = {}, clock = new ManualClock()): ActionDeps & { clock: ManualClock; lines: string[] } {
  const { logger, lines } = captureLogger();
  return { jail: defaultJailSettings('asterisk'), logger, clock, env, lines };
}

export type Deps = ReturnType<typeof deps>;

/** A webhook action with no jitter and a fixed host name. */
export function webhook(params: Record<string, string>, env: Record<string, string> = {}, over: WebhookActionOverrides = {}): { a: WebhookAction; d: Deps } {
  const d = deps(env);
  const a = createWebhookAction(invocation(params), d, { random: () => 0, host: 'pbx1.example.org', ...over });
  return { a, d };
}

export function alert(extra: Partial<Alert> = {}): Alert {
  return {
    rule: 'compromise',
    severity: 'high',
    jail: 'asterisk',
    time: Date.UTC(2026, 10, 27, 12, 0, 5),
    summary: 'account "6001" logged in from 203.0.113.5 after 37 failures from it in the last 10m',
    address: '203.0.113.5',
    account: '6001',
    facts: [['failures', '37'], ['window', '10m']],
    ...extra,
  };
}

/** What an attacker can put in an account name or a SIP header. */
export const HOSTILE = 'x\r\n*bold* _it_ ~st~ <!channel> @here `code` "}],"x":{"y":"z [l](http://e.example) & <b>';
