import winston from 'winston';
import { Writable } from 'node:stream';
import { ManualClock } from '../../../src/core/clock.js';
import type { Ban, Failure } from '../../../src/core/types.js';
import type { ActionDeps } from '../../../src/actions/types.js';
import type { Invocation } from '../../../src/settings/types.js';
import { defaultJailSettings } from '../../../src/settings/defaults.js';

/** Every log record as one JSON line (message + meta), to search for leaks. */
export function captureLogger(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines };
}

export function invocation(name: string, params: Record<string, string>): Invocation {
  return { name, params, file: '/etc/asterisk-ban/jail.local', line: 12 };
}

export function deps(env: Record<string, string> = {}, clock = new ManualClock()): ActionDeps & { clock: ManualClock; lines: string[] } {
  const { logger, lines } = captureLogger();
  const jail = defaultJailSettings('asterisk-iptables', { destemail: 'admin@example.org', sender: 'ban@example.org' });
  return { jail, logger, clock, env, lines };
}

export function failure(ip: string, extra: Partial<Failure> = {}): Failure {
  return { ip, family: ip.includes(':') ? 6 : 4, time: Date.UTC(2026, 10, 27, 11, 59, 0), source: 'ami', reason: 'InvalidPassword', ...extra };
}

export function ban(ip: string, extra: Partial<Ban> = {}): Ban {
  const start = Date.UTC(2026, 10, 27, 12, 0, 0);
  return {
    jail: 'asterisk-iptables',
    ip,
    family: ip.includes(':') ? 6 : 4,
    start,
    end: start + 3600_000,
    count: 1,
    source: 'ami',
    reason: 'InvalidPassword',
    failures: [failure(ip, { account: '1001', raw: `SecurityEvent InvalidPassword from ${ip}` })],
    ...extra,
  };
}

/** 10.x.y.z addresses, distinct for i < 2^24. */
export function nthAddress(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** Header block and body of a raw RFC 5322 message. */
export function splitMessage(raw: string): { headers: string; body: string } {
  const at = raw.search(/\r?\n\r?\n/);
  return { headers: raw.slice(0, at), body: raw.slice(at) };
}

/** The body with LF line ends and quoted-printable undone, so it can be searched. */
export function decodeBody(raw: string): string {
  const { headers, body } = splitMessage(raw);
  if (!/content-transfer-encoding:\s*quoted-printable/i.test(headers)) return body.replace(/\r\n/g, '\n');
  return Buffer.from(
    body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  )
    .toString('utf8')
    .replace(/\r\n/g, '\n');
}
