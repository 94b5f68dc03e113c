import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { FleetSettings } from '../settings/fleet-settings.js';

/** Every command but the blocking read gives up after this: Redis is never in the path of a local ban. */
export const COMMAND_TIMEOUT_MS = 1_000;
const CONNECT_TIMEOUT_MS = 2_000;

/**
 * A Redis client for the fleet: a URL or Sentinel, TLS when asked, short
 * timeouts, no offline queue (a command while disconnected fails at once,
 * and the caller keeps the ban in its outbox), reconnecting with backoff.
 * `blocking`: the reader's own connection (XREAD BLOCK), without a command
 * timeout.
 */
export function createRedis(s: FleetSettings, blocking: boolean): Redis {
  const tls = s.tls
    ? {
        ...(s.tls.ca ? { ca: readFileSync(s.tls.ca) } : {}),
        ...(s.tls.cert ? { cert: readFileSync(s.tls.cert) } : {}),
        ...(s.tls.key ? { key: readFileSync(s.tls.key) } : {}),
        rejectUnauthorized: s.tls.verify,
      }
    : undefined;
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5_000),
    ...(blocking ? {} : { commandTimeout: COMMAND_TIMEOUT_MS }),
    ...(s.password ? { password: s.password } : {}),
    ...(tls ? { tls } : {}),
  };
  if (s.sentinels.length > 0) {
    return new Redis({ ...common, sentinels: s.sentinels, name: s.sentinelName, ...(tls ? { sentinelTLS: tls, enableTLSForSentinelMode: true } : {}) });
  }
  return new Redis(s.redis!, common);
}
