import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Ban } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import type { BanKey, Store } from '../store/store.js';

const RETRY_MS = 5_000;
const SAY_EVERY_MS = 60_000;

export interface PersistenceState {
  /** When writing first failed in the current outage (ms), or null while every change is written. */
  since: number | null;
  /** Ban changes held in memory only. */
  pending: number;
}

/**
 * Writes ban changes to the state database, and keeps those it cannot write
 * (a full disk, a read-only remount) until it can. A ban is enforced either
 * way: an attacker must not get through because our disk is full. What is
 * owed is saying so (per ban answer, in status, in metrics, once a minute in
 * the log) and writing every held change as soon as the database takes it.
 */
export class BanPersistence {
  private readonly unsaved = new Map<string, Ban>();
  private readonly undeleted = new Map<string, BanKey>();
  /** Keys in `unsaved` whose write adds no history row (see save). */
  private readonly quiet = new Set<string>();
  private since: number | null = null;
  private failedSinceSaid = 0;
  private saidAt = -Infinity;
  private retryTimer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** `history: false` for a ban that changed but is not a new one (an extension): bantime.increment must not count it twice. */
  save(bans: Ban[], opts: { history?: boolean } = {}): void {
    const history = opts.history ?? true;
    for (const b of bans) {
      const k = key(b);
      this.undeleted.delete(k);
      // A new ban still waiting to be written keeps its history row.
      if (history) this.quiet.delete(k);
      else if (!this.unsaved.has(k)) this.quiet.add(k);
      this.unsaved.set(k, b);
    }
    this.writeUnlessFailing();
  }

  delete(keys: BanKey[]): void {
    for (const b of keys) {
      const k = key(b);
      this.unsaved.delete(k);
      this.undeleted.set(k, { jail: b.jail, ip: b.ip });
    }
    this.writeUnlessFailing();
  }

  // During an outage only the retry timer writes: retrying the whole backlog
  // with every new ban would cost a failing transaction of it per ban.
  private writeUnlessFailing(): void {
    if (this.since === null) this.write();
    else this.publish();
  }

  /** Bookkeeping only (restore re-applies anyway): skipped while the database refuses writes. */
  markApplied(write: () => void, what: string): void {
    if (this.since !== null) return;
    try {
      write();
    } catch (err) {
      this.failed(err, what);
    }
  }

  isPersisted(ban: Ban): boolean {
    return this.unsaved.get(key(ban)) !== ban;
  }

  state(): PersistenceState {
    return { since: this.since, pending: this.unsaved.size + this.undeleted.size };
  }

  /** One last attempt (at shutdown); what still fails is said, with how many changes are lost. */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.write();
    const lost = this.unsaved.size + this.undeleted.size;
    if (lost > 0) this.logger.error(`stopping with ${lost} ban change(s) never written to the state database: a restart will not know them`);
  }

  private write(): void {
    if (this.unsaved.size === 0 && this.undeleted.size === 0) return;
    const saving = [...this.unsaved.values()];
    const deleting = [...this.undeleted.values()];
    try {
      this.store.deleteBans(deleting);
      this.store.saveBans(this.quiet.size === 0 ? saving : saving.filter((b) => !this.quiet.has(key(b))));
      if (this.quiet.size > 0) this.store.saveBans(saving.filter((b) => this.quiet.has(key(b))), { history: false });
    } catch (err) {
      this.failed(err, `write ${saving.length + deleting.length} ban change(s)`);
      return;
    }
    for (const b of saving) {
      if (this.unsaved.get(key(b)) !== b) continue;
      this.unsaved.delete(key(b));
      this.quiet.delete(key(b));
    }
    for (const k of deleting) this.undeleted.delete(key(k));
    if (this.since !== null) {
      const held = Math.round((this.clock.now() - this.since) / 1000);
      this.logger.info(`state database writable again: ${saving.length + deleting.length} ban change(s) held in memory for ${held}s are written`);
      this.since = null;
      this.failedSinceSaid = 0;
      this.saidAt = -Infinity;
    }
    this.publish();
  }

  private failed(err: unknown, what: string): void {
    const now = this.clock.now();
    this.since ??= now;
    this.failedSinceSaid++;
    if (now - this.saidAt >= SAY_EVERY_MS) {
      const pending = this.unsaved.size + this.undeleted.size;
      const more = this.failedSinceSaid > 1 ? ` (${this.failedSinceSaid} failed writes since last said)` : '';
      this.logger.error(
        `cannot ${what} to the state database: ${(err as Error).message}; ${pending} change(s) enforced in memory only since ${new Date(this.since).toISOString()}, retried every ${RETRY_MS / 1000}s${more}`,
      );
      this.saidAt = now;
      this.failedSinceSaid = 0;
    }
    this.publish();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.write();
    }, RETRY_MS);
    this.retryTimer.unref?.();
  }

  private publish(): void {
    metrics.stateUnsaved.set(this.unsaved.size + this.undeleted.size);
    metrics.stateUnsavedSince.set(this.since === null ? 0 : this.since / 1000);
  }
}

function key(b: BanKey): string {
  return `${b.jail}\u0000${b.ip}`;
}
