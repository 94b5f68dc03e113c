import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../store/store.js';

const PURGE_EVERY_MS = 3_600_000;

/**
 * Ban history for bantime.increment, limited to dbpurgeage: lookups are
 * bounded to that window, and older rows are purged hourly. A broken
 * database must never stop a ban, so lookups fall back to "first offence".
 */
export class BanHistory {
  private readonly ageMs: number;
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly logger: Logger, purgeAgeSeconds = 86_400) {
    this.ageMs = purgeAgeSeconds * 1000;
  }

  /** Earlier bans of `ip` within dbpurgeage, in `jail` or (null) in any jail. */
  previous(ip: string, jail: string | null): number {
    try {
      return this.store.previousBans(ip, jail, this.clock.now() - this.ageMs);
    } catch (err) {
      this.logger.error('cannot read ban history; banning as a first offence', { error: (err as Error).message });
      return 0;
    }
  }

  /** Purges now, then every hour until stop(). */
  purge(): void {
    try {
      const removed = this.store.purgeHistory(this.clock.now() - this.ageMs);
      if (removed > 0) this.logger.debug(`purged ${removed} old ban history row(s)`);
    } catch (err) {
      this.logger.error('cannot purge ban history', { error: (err as Error).message });
    }
    if (this.stopped) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.purge(), PURGE_EVERY_MS);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
