import type { ChainableCommander, Redis } from 'ioredis';
import type { FleetEntry } from './entry.js';

/** Expired bans removed per call: a call blocks Redis, so it stays short. */
const TRIM_BATCH = 1_000;

// Expired bans out of the hash, oldest first, on Redis's clock.
const TRIM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
if #old == 0 then return 0 end
redis.call('HDEL', KEYS[2], unpack(old))
redis.call('ZREM', KEYS[1], unpack(old))
return #old`;

/**
 * The fleet's bans in force, for a node's full resync: a hash of each ban's
 * stream fields by "jail address", and a sorted set of the same names by end
 * time (permanent: +inf) so that expired ones can be dropped without reading
 * the hash.
 */
export class BansInForce {
  constructor(private readonly redis: Redis, readonly keys: { bans: string; until: string }) {
    redis.defineCommand('asteriskBanTrim', { numberOfKeys: 2, lua: TRIM });
  }

  static field(e: { jail: string; ip: string }): string {
    return `${e.jail} ${e.ip}`;
  }

  /** Queues the change on a transaction that also carries its stream entry. */
  record(m: ChainableCommander, e: FleetEntry, fields: string[]): void {
    const field = BansInForce.field(e);
    if (e.op === 'ban') {
      m.hset(this.keys.bans, field, JSON.stringify(fields));
      m.zadd(this.keys.until, e.end === null ? '+inf' : String(e.end), field);
    } else {
      m.hdel(this.keys.bans, field);
      m.zrem(this.keys.until, field);
    }
  }

  all(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.bans);
  }

  async forget(field: string): Promise<void> {
    await this.redis.multi().hdel(this.keys.bans, field).zrem(this.keys.until, field).exec();
  }

  /** Drops every expired ban; returns how many. */
  async trim(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = Number(await (this.redis as unknown as TrimCommand).asteriskBanTrim(this.keys.until, this.keys.bans, String(TRIM_BATCH)));
      total += n;
      if (n < TRIM_BATCH) return total;
    }
  }
}

interface TrimCommand {
  asteriskBanTrim(until: string, bans: string, limit: string): Promise<unknown>;
}
