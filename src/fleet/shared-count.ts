import type { Redis } from 'ioredis';
import type { Logger, ThrottledLog } from '../core/logger.js';
import { metrics } from '../control/metrics.js';
import { decodeEntry, type FleetEntry } from './entry.js';

/** One failure this node saw, for the fleet-wide count of its jail. */
export interface SharedFailure {
  jail: string;
  /** A canonical single address. */
  ip: string;
  findtimeMs: number;
  maxretry: number;
  /** -1: permanent. */
  bantimeMs: number;
  reason: string;
}

/** Failures sent in one script call: a call blocks Redis, so it stays short (about a millisecond a few hundred). */
const PER_CALL = 500;
/** Failures waiting for Redis beyond this are not counted fleet-wide (they still count here). */
const MAX_PENDING = 50_000;
const MAX_REASON = 60;

/*
 * Count, trim and trip in one atomic step, on Redis's clock so that nodes
 * with skewed clocks share one window. Each address has a sorted set of its
 * failures (score: ms); at maxretry the set is dropped and, unless a ban is
 * in force for it already, the ban is written to the stream and to the hash
 * of bans in force, exactly as a node's own ban would be.
 * KEYS: stream, bans, bans' end times. ARGV: prefix, node, stream maxlen, batch id, then six
 * per failure: jail, ip, window ms, maxretry, bantime ms, reason.
 */
const COUNT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 5, #ARGV, 6 do
  local jail, ip, window, maxretry, bantime, reason = ARGV[i], ARGV[i+1], tonumber(ARGV[i+2]), tonumber(ARGV[i+3]), tonumber(ARGV[i+4]), ARGV[i+5]
  local key = ARGV[1] .. 'count:' .. jail .. ':' .. ip
  redis.call('ZADD', key, now, ARGV[4] .. ':' .. i)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  redis.call('PEXPIRE', key, window)
  if count >= maxretry then
    redis.call('DEL', key)
    local field = jail .. ' ' .. ip
    local held = redis.call('HGET', KEYS[2], field)
    local inforce = false
    if held then
      local ok, f = pcall(cjson.decode, held)
      local e = ok and type(f) == 'table' and tonumber(f[10]) or nil
      inforce = e ~= nil and (e < 0 or e > now)
    end
    if not inforce then
      local e = bantime < 0 and '-1' or string.format('%.0f', now + bantime)
      local fields = {'v', '1', 'op', 'ban', 'jail', jail, 'ip', ip, 'end', e,
        'reason', 'fleet count: ' .. count .. ' failures across the fleet (' .. reason .. ')',
        'count', '1', 'node', ARGV[2], 'at', string.format('%.0f', now)}
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
      redis.call('HSET', KEYS[2], field, cjson.encode(fields))
      redis.call('ZADD', KEYS[3], bantime < 0 and '+inf' or e, field)
      out[#out + 1] = fields
    end
  end
end
return out`;

export interface SharedCounterOptions {
  redis: Redis;
  keys: { stream: string; bans: string; until: string };
  prefix: string;
  node: string;
  /** Unique to this run of the daemon: a restarted node's failures never collide with its last run's. */
  instance: string;
  streamMaxlen: number;
  /** Whether Redis is there to count with (when not, failures count locally only). */
  live(): boolean;
  /** A ban this node's failure tripped: already published by the script, to be applied here. */
  tripped(entry: FleetEntry): void;
  logger: Logger;
  throttled: ThrottledLog;
  scrub(text: string): string;
  now(): number;
}

/**
 * Fleet-wide failure counting (`fleet = counts`): failures that passed this
 * node's own checks are batched per tick into one Lua call that counts them
 * in a sliding window shared by every node and bans at fleet_maxretry.
 */
export class SharedCounter {
  private pending: SharedFailure[] = [];
  private scheduled = false;
  private sending = false;
  private seq = 0;
  readonly counts = { sent: 0, dropped: 0, tripped: 0 };

  constructor(private readonly o: SharedCounterOptions) {
    o.redis.defineCommand('asteriskBanCount', { numberOfKeys: 3, lua: COUNT });
  }

  add(f: SharedFailure): void {
    if (!this.o.live()) return this.drop(1, 'not connected');
    if (this.pending.length >= MAX_PENDING) return this.drop(1, 'too many waiting');
    this.pending.push({ ...f, reason: f.reason.slice(0, MAX_REASON) });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.sending) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.sending = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, PER_CALL);
        await this.send(batch);
      }
    } finally {
      this.sending = false;
    }
  }

  private async send(batch: SharedFailure[]): Promise<void> {
    const o = this.o;
    if (!o.live()) return this.drop(batch.length, 'not connected');
    const args: string[] = [o.prefix, o.node, String(o.streamMaxlen), `${o.node}:${o.instance}:${++this.seq}`];
    for (const f of batch) args.push(f.jail, f.ip, String(f.findtimeMs), String(f.maxretry), String(f.bantimeMs), f.reason);
    let res: unknown;
    try {
      res = await (o.redis as unknown as CountCommand).asteriskBanCount(o.keys.stream, o.keys.bans, o.keys.until, ...args);
    } catch (err) {
      return this.drop(batch.length, o.scrub((err as Error).message));
    }
    this.counts.sent += batch.length;
    metrics.fleetCounted.inc({ outcome: 'counted' }, batch.length);
    if (!Array.isArray(res)) return;
    for (const fields of res) {
      const d = decodeEntry(fields as string[], o.now());
      if (!d.ok) {
        o.logger.error(`fleet: the counting script returned a ban this node cannot read: ${d.why}`);
        continue;
      }
      this.counts.tripped++;
      o.tripped(d.entry);
    }
  }

  private drop(n: number, why: string): void {
    this.counts.dropped += n;
    metrics.fleetCounted.inc({ outcome: 'dropped' }, n);
    this.o.throttled.warn('count-dropped', `fleet: failures counted here only, not fleet-wide (${why})`);
  }
}

interface CountCommand {
  asteriskBanCount(stream: string, bans: string, until: string, ...args: string[]): Promise<unknown>;
}
