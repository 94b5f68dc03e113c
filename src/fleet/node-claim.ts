import type { Redis } from 'ioredis';
import type { Clock, TimerHandle } from '../core/clock.js';

/** Seconds a node's name key lives without a renewal. */
export const HEARTBEAT_TTL_S = 15;
const HEARTBEAT_MS = 5_000;

// Claims the node name for this instance, or renews it; 0 when another live instance holds it.
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'EX', ARGV[3])
return 1`;

/**
 * A node's name in the fleet, held by a key that only this instance may
 * renew: a cloned host (same name, another instance) cannot take it while
 * this one lives, and learns so.
 */
export class NodeClaim {
  private timer: TimerHandle | null = null;

  constructor(private readonly redis: Redis, private readonly key: string, private readonly instance: string, private readonly clock: Clock) {}

  /** True when the name is ours (now claimed or renewed). */
  async claim(): Promise<boolean> {
    return (await this.redis.eval(CLAIM, 1, this.key, this.instance, String(this.clock.now()), String(HEARTBEAT_TTL_S))) === 1;
  }

  /** Renews every few seconds until stop(); `lost` when another instance holds the name. */
  keep(lost: () => void, alive: () => boolean): void {
    this.stop();
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (!alive()) return;
      this.claim().then(
        (ok) => (ok ? this.keep(lost, alive) : lost()),
        () => this.keep(lost, alive),
      );
    }, HEARTBEAT_MS);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Gives the name up at a clean stop (it would expire by itself). */
  async release(): Promise<void> {
    this.stop();
    await this.redis.del(this.key);
  }
}
