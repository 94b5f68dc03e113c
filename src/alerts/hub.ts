import type { Action } from '../actions/types.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { metrics } from '../control/metrics.js';
import type { AlertStore, StoredAlert } from '../store/alerts.js';
import type { Alert, AlertRule, AlertSeverity } from './types.js';

const PURGE_EVERY_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface AlertHubOptions {
  store: AlertStore;
  clock: Clock;
  logger: Logger;
  /** dbpurgeage, seconds: alerts older than this are purged. */
  purgeAge: number;
  /** Days a network stays known (the largest alert_new_network_days); older records are purged. */
  networkDays(): number;
}

/**
 * Where every jail's alerts go: the state database (for `asterisk-ban
 * alerts`), the log, metrics, and the jail's notify actions. A store that
 * refuses the write does not stop the alert from going out.
 */
export class AlertHub {
  private readonly counts = new Map<string, number>();
  private readonly logger: Logger;
  private timer: TimerHandle | null = null;

  constructor(private readonly o: AlertHubOptions) {
    this.logger = o.logger.child({ source: 'alerts' });
  }

  publish(alert: Alert, actions: readonly Action[]): void {
    const key = `${alert.jail}\u0000${alert.rule}\u0000${alert.severity}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    metrics.alerts.inc({ jail: alert.jail, rule: alert.rule, severity: alert.severity });
    try {
      this.o.store.add(alert);
    } catch (err) {
      this.logger.error(`alert not recorded in the state database (${(err as Error).message}); it still goes out`, { jail: alert.jail, rule: alert.rule });
    }
    const meta = { jail: alert.jail, rule: alert.rule, severity: alert.severity, ...(alert.address ? { ip: alert.address } : {}) };
    const line = `ALERT ${alert.rule} (${alert.severity}): ${alert.summary}`;
    if (alert.severity === 'info') this.logger.info(line, meta);
    else this.logger.warn(line, meta);
    for (const a of actions) {
      if (a.kind !== 'notify' || !a.alert) continue;
      a.alert([alert]).catch((err: Error) => this.logger.error(`action ${a.id} could not take an alert: ${err.message}`, { jail: alert.jail, action: a.id }));
    }
  }

  list(since: number, limit?: number): StoredAlert[] {
    return this.o.store.since(since, limit);
  }

  /** Alerts `jail` raised since start, by rule and severity. */
  tally(jail: string): { rule: AlertRule; severity: AlertSeverity; count: number }[] {
    const out: { rule: AlertRule; severity: AlertSeverity; count: number }[] = [];
    for (const [k, count] of this.counts) {
      const [j, rule, severity] = k.split('\u0000') as [string, AlertRule, AlertSeverity];
      if (j === jail) out.push({ rule, severity, count });
    }
    return out;
  }

  /** Purges now, then hourly until stop(). */
  purge(): void {
    const now = this.o.clock.now();
    try {
      const removed = this.o.store.purge(now - this.o.purgeAge * 1000, now - this.o.networkDays() * DAY_MS);
      if (removed > 0) this.logger.debug(`purged ${removed} old alert and network record(s)`);
    } catch (err) {
      this.logger.error('cannot purge old alerts', { error: (err as Error).message });
    }
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(() => this.purge(), PURGE_EVERY_MS);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
