import { setCurrentlyFailedSource, touchJailSeries } from '../control/metrics.js';
import { BanManager } from '../bans/manager.js';
import type { Clock } from '../core/clock.js';
import { AsteriskBanError, ConfigErrors } from '../core/errors.js';
import type { Logger, LogLevel } from '../core/logger.js';
import type { FilterDefinition, Settings } from '../settings/types.js';
import type { CompiledFilter } from '../filter/types.js';
import { Store } from '../store/store.js';
import { checkConfig } from '../cli/check-config.js';
import { JailRuntime } from './jail-runtime.js';
import type { PacketWitness } from './ban-gate.js';
import { witnessFor } from './witness.js';
import { locatedValues } from '../settings/values.js';
import { ConntrackEvents } from '../jail/conntrack-events.js';
import { AlertHub } from '../alerts/hub.js';
import { Fleet } from '../fleet/fleet.js';
import type { SharedFailure } from '../fleet/shared-count.js';
import { readTrustedPeers, warningText, type PeerReading } from '../asterisk/peers.js';

export interface DaemonOptions {
  configDir: string;
  settings: Settings;
  /** Filters compiled while validating `settings` (check-config). */
  compiled?: Map<FilterDefinition, CompiledFilter>;
  clock: Clock;
  logger: Logger;
}

const CHECK_EVERY_MS = 60_000;

/**
 * The running daemon: the state store, the ban manager and one runtime per
 * enabled jail. Reload re-reads and validates everything before touching the
 * running jails, so a broken edit never drops protection.
 */
export class Daemon {
  readonly store: Store;
  readonly manager: BanManager;
  readonly alerts: AlertHub;
  /** Fleet mode (null without [Fleet] or without a jail that shares): Redis is never contacted then. */
  fleet: Fleet | null = null;
  readonly runtimes = new Map<string, JailRuntime>();
  /** The reload in progress (reloads run one after the other). */
  private reloads: Promise<unknown> = Promise.resolve();
  readonly startedAt: number;
  private settings: Settings;
  private compiled: Map<FilterDefinition, CompiledFilter>;
  private checkTimer: NodeJS.Timeout | null = null;
  private witnessCache = new Map<string, Promise<PacketWitness | null>>();
  /** One stream of new flows for every jail that verifies; started on first use. */
  private conntrackEvents: ConntrackEvents | null = null;
  private peers: PeerReading | null = null;

  constructor(private readonly opts: DaemonOptions) {
    this.settings = opts.settings;
    this.compiled = opts.compiled ?? new Map();
    this.startedAt = opts.clock.now();
    this.store = Store.open(opts.settings.daemon.dbfile);
    this.manager = new BanManager({
      store: this.store,
      clock: opts.clock,
      logger: opts.logger.child({ source: 'bans' }),
      purgeAge: opts.settings.daemon.dbpurgeage,
      onChange: (op, bans, from) => this.fleet?.publish(op, bans, from),
    });
    this.alerts = new AlertHub({
      store: this.store.alerts,
      clock: opts.clock,
      logger: opts.logger,
      purgeAge: opts.settings.daemon.dbpurgeage,
      networkDays: () => Math.max(1, ...this.settings.jails.map((j) => j.alerts.newNetworkDays)),
    });
  }

  get currentSettings(): Settings {
    return this.settings;
  }

  /**
   * Reads the peers Asterisk trusts, when a jail wants them; warnings name
   * file and line. Returns whether the list changed since the last reading.
   */
  private learnPeers(settings: Settings): boolean {
    if (!settings.jails.some((j) => j.enabled && j.ignoreAsteriskPeers)) {
      const changed = this.peers !== null;
      this.peers = null;
      return changed;
    }
    const dir = settings.daemon.asteriskConfig;
    const reading = readTrustedPeers(dir);
    const log = this.opts.logger.child({ source: 'asterisk-config' });
    if (!reading.found) log.info(`no Asterisk configuration at ${dir}: no trusted peers learned (set asterisk_config in [Definition])`);
    for (const w of reading.warnings) log.warn(warningText(w));
    if (reading.found) log.info(`${reading.peers.length} peer(s) Asterisk trusts learned from ${dir}: never banned (ignore_asterisk_peers)`);
    const changed = JSON.stringify(reading.peers) !== JSON.stringify(this.peers?.peers ?? null);
    this.peers = reading;
    return changed;
  }

  async start(): Promise<void> {
    this.learnPeers(this.settings);
    for (const js of this.settings.jails.filter((j) => j.enabled)) {
      this.runtimes.set(js.name, await JailRuntime.create(js, this.deps()));
      touchJailSeries(js.name);
    }
    setCurrentlyFailedSource(() => [...this.runtimes.values()].map((rt) => [rt.name, rt.jail.counters().currentlyFailed] as [string, number]));
    for (const rt of this.runtimes.values()) await rt.startActions();
    // Restore after every jail is registered: one batch per action, overdue bans lifted.
    await this.manager.start();
    this.alerts.purge();
    await this.startFleet();
    for (const rt of this.runtimes.values()) await rt.startVerification();
    // Independently: one jail's source that cannot start must not keep the others from theirs.
    const started = await Promise.allSettled([...this.runtimes.values()].map((rt) => rt.startSource()));
    started.forEach((r, i) => {
      if (r.status === 'rejected') this.opts.logger.error(`jail ${[...this.runtimes.keys()][i]}: source did not start: ${(r.reason as Error).message}`);
    });
    this.checkTimer = setInterval(() => void this.checkAll(), CHECK_EVERY_MS);
    this.checkTimer.unref();
    this.opts.logger.info(`asterisk-ban ready: ${this.runtimes.size} jail(s): ${[...this.runtimes.keys()].join(', ') || 'none'}`);
  }

  /**
   * Re-reads the configuration. Invalid → E_CONFIG and nothing changes.
   * Unchanged jails keep running untouched; changed ones are rebuilt keeping
   * their failure counts and bans; removed ones are stopped.
   */
  reload(only?: string): Promise<{ reloaded: string[]; stopped: string[]; started: string[] }> {
    // One at a time: two reloads rebuilding one jail at once left the first
    // one's new source running beside the second's, counting every line twice.
    const run = this.reloads.then(() => this.reloadNow(only));
    this.reloads = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(only?: string): Promise<{ reloaded: string[]; stopped: string[]; started: string[] }> {
    const check = checkConfig(this.opts.configDir);
    if (check.errors.length > 0 || !check.settings) throw new ConfigErrors(check.errors);
    const next = check.settings;
    this.compiled = check.compiled;
    if (only !== undefined && !this.runtimes.has(only) && !next.jails.some((j) => j.name === only && j.enabled)) {
      throw new AsteriskBanError('E_UNKNOWN_JAIL', `no jail named ${only}`);
    }
    const result = { reloaded: [] as string[], stopped: [] as string[], started: [] as string[] };
    const peersChanged = this.learnPeers(next);
    const wanted = new Map(next.jails.filter((j) => j.enabled).map((j) => [j.name, j]));
    for (const [name, rt] of [...this.runtimes]) {
      if (only !== undefined && name !== only) continue;
      if (wanted.has(name)) continue;
      await rt.stopSource();
      rt.jail.stop();
      rt.alerter.stop();
      await rt.stopActions();
      this.manager.removeJail(name);
      this.runtimes.delete(name);
      result.stopped.push(name);
    }
    for (const [name, js] of wanted) {
      if (only !== undefined && name !== only) continue;
      const old = this.runtimes.get(name);
      if (old && sameSettings(old.settings, js) && !(peersChanged && js.ignoreAsteriskPeers)) continue;
      // Built before the old one stops: a source and actions built the same are carried over,
      // running, so that the AMI session and the bans in the kernel never go away.
      const rt = await JailRuntime.create(js, this.deps(), old);
      if (old) await old.stopSource();
      if (old) await old.stopActions(rt.actions);
      this.runtimes.set(name, rt);
      touchJailSeries(name);
      await rt.startActions();
      await rt.startVerification();
      await rt.startSource();
      (old ? result.reloaded : result.started).push(name);
    }
    const fleetChanged = JSON.stringify(next.daemon.fleet) !== JSON.stringify(this.settings.daemon.fleet);
    this.settings = next;
    await this.refreshFleet(fleetChanged);
    this.opts.logger.info(`reloaded: ${JSON.stringify(result)}`);
    return result;
  }

  /** Fleet mode when [Fleet] is set and some jail shares; otherwise Redis is never contacted. */
  private async startFleet(): Promise<void> {
    const next = this.buildFleet();
    this.fleet = next;
    await next?.start();
  }

  /**
   * After a reload: fleet mode started, stopped or moved to new [Fleet]
   * settings. The successor is in place before its predecessor stops, so a
   * ban made meanwhile waits in the outbox (shared by both, in SQLite) and
   * goes out when the successor joins.
   */
  private async refreshFleet(changed: boolean): Promise<void> {
    const wanted = this.settings.daemon.fleet !== null && this.settings.jails.some((j) => j.enabled && j.fleet !== 'off');
    if (this.fleet && !changed && wanted) return;
    const old = this.fleet;
    this.fleet = this.buildFleet();
    if (old) {
      await old.stop();
      this.opts.logger.info(this.fleet ? 'fleet: [Fleet] changed: joining again with the new settings' : 'fleet: fleet mode off after the reload: Redis is no longer contacted');
    }
    await this.fleet?.start();
  }

  private buildFleet(): Fleet | null {
    const fleet = this.settings.daemon.fleet;
    if (!fleet) return null;
    if (!this.settings.jails.some((j) => j.enabled && j.fleet !== 'off')) {
      this.opts.logger.info('[Fleet] is set but no jail has fleet = bans or counts: Redis is not contacted');
      return null;
    }
    return new Fleet({
      settings: fleet,
      modes: () => new Map(this.settings.jails.filter((j) => j.enabled).map((j) => [j.name, j.fleet])),
      manager: this.manager,
      state: this.store.fleet,
      clock: this.opts.clock,
      logger: this.opts.logger,
    });
  }

  /** `set loglevel` over the control socket: every logger derived from the daemon's follows. */
  setLogLevel(level: LogLevel): void {
    this.opts.logger.level = level;
    this.opts.logger.info(`log level now ${level}`);
  }

  /** What keeps a jail from seeing its input now (a log it may not read): empty when all is well. */
  problems(): string[] {
    const out: string[] = [];
    for (const rt of this.runtimes.values()) {
      for (const s of rt.status().sources) if (s.state === 'error') out.push(`${rt.name}: ${s.name}: ${s.detail ?? 'error'}`);
    }
    const p = this.manager.persistenceState();
    if (p.since !== null) out.push(`state not persisted since ${new Date(p.since).toISOString()}: ${p.pending} ban change(s) in memory only`);
    return out;
  }

  /** Clean stop: sources first (no new bans), then the manager, then actions per their stop semantics. */
  async stop(): Promise<void> {
    if (this.checkTimer) clearInterval(this.checkTimer);
    await Promise.allSettled([...this.runtimes.values()].map((rt) => rt.stopSource()));
    for (const rt of this.runtimes.values()) {
      rt.jail.stop();
      rt.alerter.stop();
    }
    this.alerts.stop();
    await this.fleet?.stop();
    await this.manager.close();
    await Promise.allSettled([...this.runtimes.values()].map((rt) => rt.stopActions()));
    this.conntrackEvents?.close();
    this.store.close();
  }

  private async checkAll(): Promise<void> {
    for (const rt of this.runtimes.values()) await rt.checkActions();
  }

  private deps() {
    return {
      clock: this.opts.clock,
      logger: this.opts.logger,
      manager: this.manager,
      env: this.settings.env,
      positions: this.store.positions,
      alerts: this.alerts,
      alertStore: this.store.alerts,
      compiled: this.compiled,
      peers: this.peers?.peers ?? [],
      fleetCount: (f: SharedFailure) => this.fleet?.count(f),
      fleetLink: () => this.fleet?.link() ?? null,
      witness: (mode: 'auto' | 'conntrack' | 'off') => {
        let w = this.witnessCache.get(mode);
        if (!w) this.witnessCache.set(mode, (w = witnessFor(mode, this.opts.logger, () => (this.conntrackEvents ??= new ConntrackEvents({ logger: this.opts.logger })))));
        return w;
      },
    };
  }
}

function sameSettings(a: Settings['jails'][number], b: Settings['jails'][number]): boolean {
  const strip = (j: Settings['jails'][number]) => JSON.stringify({ ...j, file: '', line: 0 }, locatedValues);
  return strip(a) === strip(b);
}
