import { parseAddress } from '../core/address.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Ban, Failure } from '../core/types.js';
import type { IgnoreList } from '../jail/ignore.js';
import type { JailSettings } from '../settings/types.js';
import type { Login } from '../sources/types.js';
import type { AlertStore } from '../store/alerts.js';
import { CompromiseRule } from './compromise.js';
import { HealthRule, type HealthView } from './health.js';
import { NewNetworkRule } from './new-network.js';
import { RecentFailures } from './recent-failures.js';
import type { Alert } from './types.js';
import { WaveRule } from './wave.js';

export interface AlerterDeps {
  clock: Clock;
  logger: Logger;
  store: AlertStore;
  /** The ban in force in this jail covering an address. */
  bannedNow(ip: string): Ban | undefined;
  health(): HealthView;
  emit(alert: Alert): void;
}

/** How often health and the end of a wave are looked at. */
const TICK_MS = 5_000;

/**
 * One jail's alert rules, fed by its sources beside the jail itself: every
 * failure (before the jail's ignore and ban logic) and every login. Rules
 * that are off cost nothing; an alert goes to `emit` (store, log, notify
 * actions). Carried over on reload, like the jail's counts.
 */
export class Alerter {
  private readonly recent: RecentFailures;
  private readonly compromise: CompromiseRule;
  private readonly newNetwork: NewNetworkRule;
  private readonly wave = new WaveRule();
  private readonly healthRule = new HealthRule();
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(private settings: JailSettings, private ignore: IgnoreList, private deps: AlerterDeps) {
    this.recent = new RecentFailures(settings.findtime * 1000);
    this.compromise = new CompromiseRule(this.recent);
    this.newNetwork = new NewNetworkRule(deps.store, deps.logger);
  }

  reconfigure(settings: JailSettings, ignore: IgnoreList, deps: AlerterDeps): void {
    this.settings = settings;
    this.ignore = ignore;
    this.deps = deps;
    this.recent.setWindow(settings.findtime * 1000);
  }

  private on(rule: Alert['rule']): boolean {
    return this.settings.alerts.rules.includes(rule);
  }

  private ignored(ip: string): boolean {
    const a = parseAddress(ip);
    return a !== null && this.ignore.has(a);
  }

  /** A failure a source reported (a suspect one only once verification confirmed it). */
  failure(f: Failure): void {
    const compromise = this.on('compromise');
    const wave = this.on('wave') && this.settings.alerts.wave > 0;
    if (!compromise && !wave) return;
    if (this.ignored(f.ip)) return;
    if (compromise) this.recent.add(f);
    if (wave) this.send(this.wave.add(f, this.deps.clock.now(), this.settings.alerts.wave, this.settings.name));
  }

  /** A successful login (AMI SuccessfulAuth). */
  success(ip: string, login: Login): void {
    if (login.own) return;
    const compromise = this.on('compromise');
    const network = this.on('new_network');
    if (!compromise && !network) return;
    const quiet = this.ignored(ip);
    const now = this.deps.clock.now();
    const a = this.settings.alerts;
    if (compromise && !quiet) {
      this.send(this.compromise.check(this.settings.name, ip, login, now, { threshold: a.compromiseFailures, findtimeMs: this.settings.findtime * 1000, ban: this.deps.bannedNow(ip) }));
    }
    if (network) this.send(this.newNetwork.check(this.settings.name, ip, login, now, { days: a.newNetworkDays, v4bits: a.newNetworkPrefix[0], v6bits: a.newNetworkPrefix[1], quiet }));
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = (): void => {
      this.timer = null;
      if (this.stopped) return;
      this.tick();
      this.timer = this.deps.clock.setTimeout(tick, this.tickMs());
      this.timer.unref?.();
    };
    this.timer = this.deps.clock.setTimeout(tick, this.tickMs());
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Small alert_ami_down values (tests) are looked at more often. */
  private tickMs(): number {
    return Math.max(100, Math.min(TICK_MS, (this.settings.alerts.amiDown * 1000) / 4));
  }

  private tick(): void {
    const now = this.deps.clock.now();
    const a = this.settings.alerts;
    try {
      if (this.on('wave') && a.wave > 0) this.send(this.wave.tick(now, a.wave, this.settings.name));
      if (this.on('health')) for (const alert of this.healthRule.check(this.settings.name, this.deps.health(), now, a.amiDown * 1000)) this.send(alert);
    } catch (err) {
      this.deps.logger.error(`alerts: internal error: ${(err as Error).message}`);
    }
  }

  private send(alert: Alert | null): void {
    if (alert) this.deps.emit(alert);
  }
}
