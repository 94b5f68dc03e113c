import { hostname } from 'node:os';
import { printable } from '../core/address.js';
import type { Location } from '../core/errors.js';
import type { Problems } from './problems.js';
import type { SectionReader } from './values.js';
import { parseBool } from './values.js';

/** asterisk-ban.conf `[Fleet]`: several asterisk-ban nodes sharing bans (and counts) through Redis. */
export interface FleetSettings {
  /** `redis://` or `rediss://` URL (user and password may come from FLEET_REDIS_URL / FLEET_REDIS_PASSWORD), or null with sentinels. */
  redis: string | null;
  /** FLEET_REDIS_PASSWORD, when the URL carries none. */
  password: string | null;
  sentinels: { host: string; port: number }[];
  sentinelName: string;
  /** This node's name in the fleet (default: the host name); unique. */
  node: string;
  /** Key prefix, so several fleets can share one Redis. */
  prefix: string;
  tls: { ca: string | null; cert: string | null; key: string | null; verify: boolean } | null;
  /** Remote bans and unbans taken from one node per minute; more are logged and skipped. */
  remoteBansPerMinute: number;
  remoteUnbansPerMinute: number;
  /** Stream entries kept (XADD MAXLEN ~). */
  streamMaxlen: number;
  where: Location;
}

export const FLEET_OPTIONS: readonly string[] = [
  'redis', 'sentinels', 'sentinel_name', 'node', 'prefix', 'tls_ca', 'tls_cert', 'tls_key', 'tls_verify',
  'remote_bans_per_minute', 'remote_unbans_per_minute', 'stream_maxlen',
];

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const PREFIX = /^[A-Za-z0-9_.:-]{1,32}$/;

/** Redis URLs as logs may show them: no user, no password. */
export function redisLabel(url: string): string {
  return url.replace(/^(\w+:\/\/)[^@/]*@/, '$1');
}

export function readFleetSettings(r: SectionReader, env: Record<string, string>, where: Location, p: Problems): FleetSettings {
  const fromEnv = env.FLEET_REDIS_URL?.trim();
  const url = fromEnv || r.text('redis')?.trim() || null;
  const urlAt = fromEnv ? { file: 'environment variable FLEET_REDIS_URL' } : r.at('redis');
  if (url !== null && !/^rediss?:\/\/[^\s/?#]+(?:\/\d{1,2})?\/?$/.test(url)) {
    // The URL may carry a password: never echo it.
    p.error(`redis = ${printable(redisLabel(url), 80)} is not a Redis URL`, urlAt, 'redis://host:6379 or rediss://host:6380 (TLS), optionally /DB; a password goes in FLEET_REDIS_PASSWORD');
  }
  const sentinels: { host: string; port: number }[] = [];
  for (const word of r.list('sentinels', [])) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(word);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) p.error(`sentinels entry "${printable(word, 60)}" is not host:port`, r.at('sentinels'), 'e.g. sentinels = 10.0.0.1:26379 10.0.0.2:26379 10.0.0.3:26379');
    else sentinels.push({ host: m[1] ?? m[2]!, port });
  }
  if (url === null && sentinels.length === 0) p.error('[Fleet] needs redis = redis://host:6379 (or FLEET_REDIS_URL in .env) or sentinels = host:port ...', where);
  if (url !== null && sentinels.length > 0) p.error('[Fleet] has both redis and sentinels: give one', r.at('sentinels'));
  const sentinelName = r.str('sentinel_name', 'mymaster');
  const node = r.str('node', hostname());
  if (!NODE_NAME.test(node)) p.error(`node = "${printable(node, 64)}" is not usable as a node name`, r.at('node') ?? where, 'letters, digits, "_", "-" and "." (at most 63)');
  const prefix = r.str('prefix', 'ab:');
  if (!PREFIX.test(prefix)) p.error(`prefix = "${printable(prefix, 40)}" is not usable`, r.at('prefix'), 'letters, digits and _ . : - (at most 32), e.g. ab:');
  const tlsVerifyText = r.text('tls_verify');
  const tlsVerify = tlsVerifyText === undefined || tlsVerifyText === '' ? true : parseBool(tlsVerifyText);
  if (tlsVerify === null) p.error(`tls_verify = "${printable(tlsVerifyText!, 20)}": expected yes or no`, r.at('tls_verify'));
  const ca = r.text('tls_ca') || null;
  const cert = r.text('tls_cert') || null;
  const key = r.text('tls_key') || null;
  const tls = (url?.startsWith('rediss://') ?? false) || ca !== null || cert !== null ? { ca, cert, key, verify: tlsVerify ?? true } : null;
  if ((cert === null) !== (key === null)) p.error('tls_cert and tls_key go together', r.at('tls_cert') ?? r.at('tls_key'));
  return {
    redis: url,
    password: env.FLEET_REDIS_PASSWORD?.trim() || null,
    sentinels,
    sentinelName,
    node,
    prefix,
    tls,
    remoteBansPerMinute: r.int('remote_bans_per_minute', 1_000, 1),
    remoteUnbansPerMinute: r.int('remote_unbans_per_minute', 100, 1),
    streamMaxlen: r.int('stream_maxlen', 100_000, 1_000),
    where,
  };
}
