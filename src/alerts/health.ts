import { printable } from '../core/address.js';
import { formatDuration } from '../core/duration.js';
import type { SourceStatus } from '../sources/types.js';
import type { Alert } from './types.js';

/** What the health rule looks at, read every few seconds. */
export interface HealthView {
  sources: SourceStatus[];
  /** Bans verification has refused since start. */
  refused: number;
  /** Actions whose last attempts failed: id → failures in a row and the last error. */
  failingActions: ReadonlyMap<string, { failures: number; error: string }>;
}

/** Failed attempts in a row that make an action's failure an alert. */
export const ACTION_FAILURES = 3;
/** A log that has not grown this long while AMI reports failures is probably not being written. */
export const STALE_LOG_MS = 600_000;
/** AMI failures in that time that make the silence of the log suspicious. */
export const STALE_LOG_FAILURES = 5;
/** At most one refusal alert this often: a forging attacker must not become a mail flood. */
const REFUSAL_EVERY_MS = 600_000;

/**
 * health: AMI down (or the log missing) for longer than `downMs`, a firewall
 * action failing again and again, verification refusing bans. Each problem
 * alerts once when it starts and once (info) when it is over. Ignored
 * addresses do not matter here: health alerts always go out.
 */
export class HealthRule {
  private readonly down = new Set<string>();
  /** When each source was first seen not working: its own `since` moves with every reconnect attempt. */
  private readonly badSince = new Map<string, number>();
  private readonly failing = new Set<string>();
  /** Per log file: when it last grew and how many failures AMI had reported then. */
  private readonly growth = new Map<string, { grewAt: number; amiFailures: number }>();
  private readonly stale = new Set<string>();
  private refusedSeen = 0;
  private refusalAlertAt = Number.NEGATIVE_INFINITY;
  private refusedSinceAlert = 0;

  check(jail: string, view: HealthView, now: number, downMs: number): Alert[] {
    const out: Alert[] = [];
    for (const s of view.sources) {
      const key = `${s.kind}:${s.name}`;
      const bad = s.kind === 'ami' ? s.state !== 'ready' && s.state !== 'standby' && s.state !== 'closed' : s.state === 'error' || s.state === 'waiting';
      const what = s.kind === 'ami' ? `AMI connection ${printable(s.name, 80)}` : `log ${printable(s.name, 200)}`;
      if (bad && !this.badSince.has(key)) this.badSince.set(key, s.since);
      if (!bad) this.badSince.delete(key);
      const since = this.badSince.get(key) ?? s.since;
      if (bad && !this.down.has(key) && now - since >= downMs) {
        this.down.add(key);
        out.push({
          rule: 'health', severity: 'warning', jail, time: now,
          summary: s.kind === 'ami'
            ? `${what} down for ${formatDuration(Math.round((now - since) / 1000))} (${s.state}${s.detail ? `: ${printable(s.detail, 120)}` : ''}): failures are not seen over AMI`
            : `${what} unreadable or missing for ${formatDuration(Math.round((now - since) / 1000))} (${s.state}${s.detail ? `: ${printable(s.detail, 120)}` : ''})`,
          facts: [['since', new Date(since).toISOString()], ['state', s.state]],
        });
      } else if (!bad && this.down.delete(key)) {
        out.push({ rule: 'health', severity: 'info', jail, time: now, summary: `${what} is back (${s.state})`, facts: [['state', s.state]] });
      }
    }
    out.push(...this.staleLogs(jail, view.sources, now));
    for (const [id, f] of view.failingActions) {
      if (f.failures < ACTION_FAILURES || this.failing.has(id)) continue;
      this.failing.add(id);
      out.push({
        rule: 'health', severity: 'high', jail, time: now,
        summary: `action ${printable(id, 80)} failed ${f.failures} times in a row: bans may not be in force`,
        facts: [['action', printable(id, 80)], ['failures in a row', String(f.failures)], ['last error', printable(f.error, 200)]],
      });
    }
    for (const id of [...this.failing]) {
      if (view.failingActions.has(id)) continue;
      this.failing.delete(id);
      out.push({ rule: 'health', severity: 'info', jail, time: now, summary: `action ${printable(id, 80)} works again`, facts: [['action', printable(id, 80)]] });
    }
    const newly = view.refused - this.refusedSeen;
    this.refusedSeen = view.refused;
    if (newly > 0) this.refusedSinceAlert += newly;
    if (this.refusedSinceAlert > 0 && now - this.refusalAlertAt >= REFUSAL_EVERY_MS) {
      out.push({
        rule: 'health', severity: 'warning', jail, time: now,
        summary: `verification refused ${this.refusedSinceAlert} ban(s): lines named addresses that never sent us packets (someone may be trying to get a victim banned)`,
        facts: [['refused', String(this.refusedSinceAlert)], ['refused since start', String(view.refused)]],
      });
      this.refusalAlertAt = now;
      this.refusedSinceAlert = 0;
    }
    return out;
  }

  /**
   * A log file that stopped growing while AMI goes on reporting failures:
   * Asterisk's logger is no longer writing it (logger.conf changed, a
   * rotation Asterisk was not told about), and log mode would be blind.
   */
  private staleLogs(jail: string, sources: SourceStatus[], now: number): Alert[] {
    const ami = sources.find((s) => s.kind === 'ami' && s.state === 'ready');
    if (!ami || ami.failures === undefined) return [];
    const out: Alert[] = [];
    for (const s of sources) {
      if (s.kind !== 'log' || s.grewAt === undefined) continue;
      const key = (s.detail ?? s.name).replace(/, mode \w+$/, '');
      const seen = this.growth.get(key);
      if (!seen || seen.grewAt !== s.grewAt) {
        this.growth.set(key, { grewAt: s.grewAt, amiFailures: ami.failures });
        if (this.stale.delete(key)) out.push({ rule: 'health', severity: 'info', jail, time: now, summary: `log ${printable(key, 200)} is growing again`, facts: [] });
        continue;
      }
      const missed = ami.failures - seen.amiFailures;
      if (this.stale.has(key) || now - s.grewAt < STALE_LOG_MS || missed < STALE_LOG_FAILURES) continue;
      this.stale.add(key);
      out.push({
        rule: 'health', severity: 'warning', jail, time: now,
        summary: `log ${printable(key, 200)} has not grown for ${formatDuration(Math.round((now - s.grewAt) / 1000))} while AMI reported ${missed} failure(s): is Asterisk still writing it (logger.conf, logrotate)?`,
        facts: [['last grew', new Date(s.grewAt).toISOString()], ['AMI failures since', String(missed)]],
      });
    }
    return out;
  }
}
