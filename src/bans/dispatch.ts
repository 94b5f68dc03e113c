import type { Action, BanOptions } from '../actions/types.js';
import { defaultBackoff, retryDelay, type BackoffOptions } from '../core/backoff.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Ban } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import type { Store } from '../store/store.js';

export type Operation = 'ban' | 'unban';

export interface DispatchDeps {
  store: Store;
  /** Runs a bookkeeping write; it says (and skips) what a full disk refuses. */
  bookkeep(write: () => void, what: string): void;
  clock: Clock;
  logger: Logger;
  random: () => number;
  backoff?: BackoffOptions;
  /** Keeps only the bans a retry still applies to (not lifted, not re-banned since). */
  stillWanted(op: Operation, bans: Ban[]): Ban[];
}

/**
 * Runs one batch on one action, isolated from every other action: a failure
 * is counted, logged and retried later with capped backoff, while the ban
 * record and the other actions carry on. Successful bans are recorded per
 * action in the store.
 */
export class Dispatcher {
  private readonly timers = new Set<TimerHandle>();
  private closed = false;
  /** Failed attempts in a row per jail and action id, since its last success (health alerts read it). */
  private readonly streaks = new Map<string, Map<string, { failures: number; error: string }>>();

  constructor(private readonly deps: DispatchDeps) {}

  /** Resolves true once the first attempt succeeded, false if it failed (a retry is then scheduled). */
  run(jail: string, action: Action, op: Operation, bans: Ban[], opts: BanOptions = { restored: false }): Promise<boolean> {
    return this.attempt(jail, action, op, bans, opts, 1);
  }

  /** Actions of `jail` whose last attempts failed: id → failures in a row and the last error. */
  failing(jail: string): ReadonlyMap<string, { failures: number; error: string }> {
    return this.streaks.get(jail) ?? new Map();
  }

  /** Stops all pending retries (shutdown); what was not applied is re-applied by the next start's restore. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) this.deps.clock.clearTimeout(t);
    this.timers.clear();
  }

  private async attempt(jail: string, action: Action, op: Operation, bans: Ban[], opts: BanOptions, attempt: number): Promise<boolean> {
    if (bans.length === 0) return true;
    try {
      if (op === 'ban') await action.ban(bans, opts);
      else await action.unban(bans);
    } catch (err) {
      metrics.actionErrors.inc({ jail, action: action.id });
      const streaks = this.streaks.get(jail) ?? new Map<string, { failures: number; error: string }>();
      this.streaks.set(jail, streaks);
      streaks.set(action.id, { failures: (streaks.get(action.id)?.failures ?? 0) + 1, error: errorText(err) });
      if (this.closed) return false;
      const delay = retryDelay(attempt, this.deps.backoff ?? defaultBackoff, this.deps.random);
      this.deps.logger.warn(`action ${action.id} failed to ${op} ${bans.length} address(es); retrying in ${Math.round(delay / 100) / 10} s`, {
        jail,
        action: action.id,
        attempt,
        error: errorText(err),
      });
      const timer = this.deps.clock.setTimeout(() => {
        this.timers.delete(timer);
        if (this.closed) return;
        const still = this.deps.stillWanted(op, bans);
        void this.attempt(jail, action, op, still, opts, attempt + 1);
      }, delay);
      timer.unref?.();
      this.timers.add(timer);
      return false;
    }
    this.streaks.get(jail)?.delete(action.id);
    if (attempt > 1) this.deps.logger.info(`action ${action.id} recovered: ${op} of ${bans.length} address(es) applied`, { jail, action: action.id, attempt });
    if (op === 'ban') {
      // The ban is in force; only its bookkeeping may be missing, and restore re-applies anyway.
      this.deps.bookkeep(() => {
        if (opts.restored) this.deps.store.markJailApplied(jail, action.id, bans.reduce((m, b) => Math.max(m, b.start), 0));
        else this.deps.store.markApplied(bans, action.id);
      }, `record that ${action.id} applied ${bans.length} ban(s)`);
    }
    return true;
  }
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
