import type { Action } from '../actions/types.js';
import { createAction } from '../actions/registry.js';
import { actionFingerprint } from '../actions/fingerprint.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { BanManager } from '../bans/manager.js';
import { compileFilter } from '../filter/index.js';
import { IgnoreList } from '../jail/ignore.js';
import { Jail } from '../jail/jail.js';
import type { FilterDefinition, JailSettings } from '../settings/types.js';
import type { CompiledFilter } from '../filter/types.js';
import { AmiSource } from '../sources/ami/source.js';
import { AutoSource } from '../sources/failover.js';
import { LogSource } from '../sources/logfile/source.js';
import type { PositionStore } from '../sources/logfile/positions.js';
import type { Source, SourceEvents, SourceStatus } from '../sources/types.js';
import { sourceFingerprint } from '../sources/fingerprint.js';
import type { TrustedPeer } from '../asterisk/peers.js';
import type { JailStatus } from '../control/api.js';
import { BanGate, type PacketWitness } from './ban-gate.js';
import { Alerter, type AlerterDeps } from '../alerts/alerter.js';
import type { AlertHub } from '../alerts/hub.js';
import type { AlertStore } from '../store/alerts.js';
import { SuspectGate } from './suspect-gate.js';
import { FleetCountGate } from './fleet-count-gate.js';
import type { Ban, Failure } from '../core/types.js';
import type { SharedFailure } from '../fleet/shared-count.js';

export interface RuntimeDeps {
  clock: Clock;
  logger: Logger;
  manager: BanManager;
  env: Record<string, string>;
  positions?: PositionStore;
  alerts: AlertHub;
  alertStore: AlertStore;
  /** Filters check-config already compiled for these settings. */
  compiled?: Map<FilterDefinition, CompiledFilter>;
  /** Peers Asterisk's configuration trusts (for jails with ignore_asterisk_peers). */
  peers?: TrustedPeer[];
  /** fleet = counts: a counted failure for the fleet-wide count. */
  fleetCount?(f: SharedFailure): void;
  /** The fleet's link to Redis (null: fleet mode not running). */
  fleetLink?(): { state: string; since: string | null } | null;
  /** Resolves the conntrack witness for verify = auto | conntrack (null when unavailable). */
  witness(mode: JailSettings['verify']): Promise<PacketWitness | null>;
}

/** How soon checkSoon() checks: time for a burst of lost sessions to settle into one check. */
const CHECK_SOON_MS = 1_000;

function discardingSince(sources: SourceStatus[]): string | null {
  const since = sources.map((x) => x.asteriskDiscardingSince).filter((x): x is number => typeof x === 'number');
  return since.length ? new Date(Math.min(...since)).toISOString() : null;
}

/**
 * One configured jail, wired: source → jail → ban gate → ban manager →
 * actions. Built from settings; rebuilt (keeping counts and bans) on reload.
 */
export class JailRuntime {
  readonly name: string;
  readonly jail: Jail;
  readonly alerter: Alerter;
  readonly gate: BanGate;
  private readonly suspects: SuspectGate;
  private readonly fleetGate: FleetCountGate;
  readonly actions: Action[];
  /** What each action was built from; a reload keeps those it would build the same. */
  private readonly fingerprints = new Map<Action, string>();
  private source: Source | null;
  private readonly sourcePrint: string;
  /** Where the source's failures go: handed on to the successor that carries the source over. */
  private route: { to: JailRuntime };
  /** Where the (carried-over) Jail's decisions go: this runtime's gate and actions once it runs. */
  private readonly jailRoute: { to: JailRuntime };
  /** Carried over from the runtime this one replaces, already running. */
  private sourceRunning = false;
  private readonly logger: Logger;
  private checkTimer: TimerHandle | null = null;
  /** Where the actions' requests for a check go: the runtime that holds them, from its construction on. */
  private readonly checkRoute: { to: JailRuntime };
  /** Set by stopActions(): a check from then on could put back rules just taken down. */
  private actionsStopped = false;

  private constructor(
    public settings: JailSettings,
    private readonly deps: RuntimeDeps,
    readonly ignore: IgnoreList,
    previous?: JailRuntime,
  ) {
    this.name = settings.name;
    this.logger = deps.logger.child({ jail: settings.name });
    this.gate = new BanGate(settings.name, {
      logger: this.logger,
      pass: (req) => {
        deps.manager.request(req).catch((err: Error) => this.logger.error(`ban of ${req.ip} failed: ${err.message}`, { ip: req.ip }));
      },
    });
    this.suspects = new SuspectGate(settings.name, {
      clock: deps.clock,
      logger: this.logger,
      witness: () => this.gate.currentWitness,
      count: (f) => this.counted(f),
    });
    this.fleetGate = new FleetCountGate(settings.name, {
      clock: deps.clock,
      logger: this.logger,
      witness: () => this.gate.currentWitness,
      count: (f) => {
        const s = this.settings;
        deps.fleetCount?.({ jail: s.name, ip: f.ip, findtimeMs: s.findtime * 1000, maxretry: s.fleetMaxretry, bantimeMs: s.bantime < 0 ? -1 : s.bantime * 1000, reason: f.reason });
      },
    });
    this.jailRoute = previous?.jailRoute ?? { to: this };
    this.checkRoute = previous?.checkRoute ?? { to: this };
    this.checkRoute.to = this;
    if (previous) {
      previous.jail.reconfigure(settings, ignore);
      this.jail = previous.jail;
      previous.alerter.reconfigure(settings, ignore, this.alerterDeps());
      this.alerter = previous.alerter;
    } else {
      const to = this.jailRoute;
      this.jail = new Jail(settings, { clock: deps.clock, logger: this.logger, ignore, onBan: (req) => to.to.gate.submit(req) });
      this.alerter = new Alerter(settings, ignore, this.alerterDeps());
    }
    const reusable = previous ? [...previous.fingerprints] : [];
    this.actions = settings.actions.map((spec) => {
      const print = actionFingerprint(spec, settings, deps.env);
      const i = reusable.findIndex(([, p]) => p === print);
      // Through the route: an action a reload carries over asks whichever runtime holds it then.
      const recheck = (): void => this.checkRoute.to.checkSoon();
      const action = i >= 0 ? reusable.splice(i, 1)[0]![0] : createAction(spec, { jail: settings, logger: this.logger, clock: deps.clock, env: deps.env, recheck });
      this.fingerprints.set(action, print);
      return action;
    });
    this.sourcePrint = sourceFingerprint(settings);
    this.route = { to: this };
    const carried = previous?.sourcePrint === this.sourcePrint ? previous.takeSource() : null;
    if (carried) {
      this.source = carried.source;
      this.route = carried.route;
      this.sourceRunning = true;
    } else {
      this.source = this.buildSource(settings);
    }
  }

  /** A failure past the sources' checks: the alert rules, the jail's count and, with fleet = counts, the fleet's. */
  private counted(f: Failure): void {
    this.alerter.failure(f);
    const ip = this.jail.addFailure(f);
    if (ip !== null && this.settings.fleet === 'counts' && this.deps.fleetCount) this.fleetGate.submit({ ...f, ip });
  }

  private alerterDeps(): AlerterDeps {
    return {
      clock: this.deps.clock,
      logger: this.logger,
      store: this.deps.alertStore,
      bannedNow: (ip) => this.deps.manager.banCovering(this.name, ip),
      health: () => ({
        sources: this.source ? this.source.status() : [],
        refused: this.gate.refused,
        failingActions: this.deps.manager.failingActions(this.name),
      }),
      emit: (alert) => this.deps.alerts.publish(alert, this.actions),
    };
  }

  /** Gives this runtime's running source to its successor; stopSource() then has nothing to stop. */
  private takeSource(): { source: Source; route: { to: JailRuntime } } | null {
    const source = this.source;
    if (!source || !this.sourceRunning) return null;
    this.source = null;
    this.sourceRunning = false;
    return { source, route: this.route };
  }

  /** A new runtime; given the one it replaces, it keeps its counts and the actions it would build the same. */
  static async create(settings: JailSettings, deps: RuntimeDeps, previous?: JailRuntime): Promise<JailRuntime> {
    const ignore = await IgnoreList.resolve(settings.ignoreip, {
      ignoreself: settings.ignoreself,
      logger: deps.logger,
      peers: settings.ignoreAsteriskPeers ? deps.peers : [],
    });
    return new JailRuntime(settings, deps, ignore, previous);
  }

  /**
   * Registers with the ban manager, which starts each action (on its own: one
   * broken back end does not stop the others) and re-applies current bans.
   */
  async startActions(): Promise<void> {
    await this.deps.manager.setJail(this.name, {
      bantime: this.settings.bantime,
      increment: this.settings.increment,
      actions: this.actions,
      ignore: this.ignore,
    });
  }

  /**
   * Asked once the firewall actions have started: their rules are what make
   * the kernel track connections, so conntrack is probed only then.
   */
  async startVerification(): Promise<void> {
    if (this.settings.verify === 'auto' && !this.actions.some((a) => a.kind === 'firewall')) {
      // Alert-only (every action notifies): nothing reaches a firewall, so no conntrack and no root are needed.
      this.logger.info(`jail ${this.name} has no firewall action: it notifies only, without ban verification (verify = auto)`);
      this.gate.setWitness(null);
      return;
    }
    this.gate.setWitness(await this.deps.witness(this.settings.verify));
  }

  async startSource(): Promise<void> {
    this.alerter.start();
    // A carried-over source has been feeding the previous runtime (the same Jail) all along: from now on, this one.
    this.route.to = this;
    // The carried-over Jail's bans go through this runtime's gate (its verify setting) from now on.
    this.jailRoute.to = this;
    if (!this.source || this.sourceRunning) return;
    this.sourceRunning = true;
    await this.source.start();
  }

  async stopSource(): Promise<void> {
    const s = this.source;
    this.source = null;
    this.sourceRunning = false;
    if (s) await s.stop();
  }

  /** Stops this runtime's actions, but not those a successor carried over. */
  async stopActions(keep: readonly Action[] = []): Promise<void> {
    this.actionsStopped = true;
    if (this.checkTimer) this.deps.clock.clearTimeout(this.checkTimer);
    this.checkTimer = null;
    await Promise.allSettled(
      this.actions.filter((a) => !keep.includes(a)).map(async (a) => {
        try {
          await a.stop();
        } catch (err) {
          this.logger.error(`action ${a.id} failed to stop: ${(err as Error).message}`, { action: a.id });
        }
      }),
    );
  }

  /**
   * checkActions() in a second: a firewall tool an action kept running died,
   * and whatever killed it may have changed the rules too. Several such
   * deaths at once make one check.
   */
  checkSoon(): void {
    if (this.checkTimer || this.actionsStopped) return;
    this.checkTimer = this.deps.clock.setTimeout(() => {
      this.checkTimer = null;
      void this.checkActions();
    }, CHECK_SOON_MS);
    this.checkTimer.unref?.();
  }

  /** Re-checks every action (an admin may have flushed our chain) and repairs it with the current bans. */
  async checkActions(): Promise<void> {
    const current = this.deps.manager.active(this.name);
    for (const a of this.actions) {
      try {
        if (await a.check(current)) this.logger.warn(`action ${a.id} was missing its rules; repaired with ${current.length} ban(s)`);
      } catch (err) {
        this.logger.error(`action ${a.id} check failed: ${(err as Error).message}`, { action: a.id });
      }
    }
  }

  status(): JailStatus {
    const c = this.jail.counters();
    const bans = this.deps.manager.active(this.name);
    const stats = this.deps.manager.stats(this.name);
    const persisted = this.deps.manager.persistenceState();
    const sources: SourceStatus[] = this.source ? this.source.status() : [];
    return {
      jail: this.name,
      enabled: this.settings.enabled,
      backend: this.settings.backend,
      currentlyFailed: c.currentlyFailed,
      totalFailed: c.totalFailed,
      currentlyBanned: stats.currentlyBanned,
      totalBanned: stats.totalBanned,
      refusedByVerify: this.gate.refused,
      banned: bans.map((b) => b.ip),
      failing: this.jail.failing(),
      sources,
      actions: this.actions.map((a) => a.id),
      tooOld: c.tooOld,
      futureDated: c.future,
      notPersistedSince: persisted.since === null ? null : new Date(persisted.since).toISOString(),
      unsavedChanges: persisted.pending,
      trustedPeers: this.ignore.peers(),
      recentSuccess: c.recentSuccess,
      asteriskLogDiscarded: Math.max(0, ...sources.map((x) => x.asteriskDiscarded ?? 0)),
      asteriskLogDiscardingSince: discardingSince(sources),
      alertRules: [...this.settings.alerts.rules],
      alerts: this.deps.alerts.tally(this.name),
      fleet: this.fleetStatus(bans),
    };
  }

  private fleetStatus(bans: Ban[]): JailStatus['fleet'] {
    const fromNodes: Record<string, number> = {};
    for (const b of bans) if (b.node !== undefined) fromNodes[b.node] = (fromNodes[b.node] ?? 0) + 1;
    const link = this.settings.fleet === 'off' ? null : this.deps.fleetLink?.() ?? null;
    return { mode: this.settings.fleet, state: link?.state ?? null, since: link?.since ?? null, fromNodes };
  }

  private buildSource(s: JailSettings): Source | null {
    const route = this.route;
    const events: SourceEvents = {
      failure: (f) => {
        if (f.suspect) {
          route.to.suspects.submit(f);
          return;
        }
        route.to.counted(f);
      },
      success: (ip, clears, login) => {
        route.to.jail.succeeded(ip, clears);
        if (login) route.to.alerter.success(ip, login);
      },
    };
    const common = { jail: s.name, clock: this.deps.clock, logger: this.logger, events };
    // The settings loader guarantees what each backend needs: an AMI account
    // for ami (auto without one is already log), a filter and logpath for log
    // and auto.
    const compile = (def: FilterDefinition) => this.deps.compiled?.get(def) ?? compileFilter(def);
    const makeLog = (): LogSource | null => {
      if (s.logpath.length === 0 || !s.filterDef) return null;
      return new LogSource({
        ...common,
        paths: s.logpath.map((p) => p.value),
        filter: compile(s.filterDef),
        ...(s.gapFilterDef ? { gapFilter: compile(s.gapFilterDef) } : {}),
        ...(this.deps.positions ? { positions: this.deps.positions } : {}),
        ...(s.readback ? { readbackMs: s.findtime * 1000 } : {}),
      });
    };
    if (s.backend === 'log') return makeLog();
    const ami = new AmiSource({ ...common, settings: s });
    const log = s.backend === 'auto' ? makeLog() : null;
    return log ? new AutoSource({ jail: s.name, ami, log, clock: this.deps.clock, logger: this.logger }) : ami;
  }
}
