import { banLine, boundedSeconds } from './ban-line.js';
import { groupBy, groupByJail } from './grouping.js';
import type { Action } from '../actions/types.js';
import { isPrefixText, parseAddress, mustParseBanTarget, parseBanTarget, notASource, targetOf } from '../core/address.js';
import type { Clock } from '../core/clock.js';
import { AsteriskBanError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Ban, BanRequest } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import type { IgnoreList } from '../jail/ignore.js';
import type { IncrementSettings } from '../settings/types.js';
import type { Store, StoredBan } from '../store/store.js';
import { Dispatcher, type Operation } from './dispatch.js';
import { compileIncrement, type BantimeFn } from './increment.js';
import { reconcileWithKernel, restoreAction, splitByExpiry, type RestorePlan } from './restore.js';
import { ExpirySchedule } from './expiry.js';
import { BanHistory } from './history.js';
import { expiryJitterMs, type SpreadOptions } from './spread.js';
import { covering, subsumed } from './coverage.js';
import { BanPersistence, type PersistenceState } from './persistence.js';

export interface JailPolicy {
  /** Seconds; -1 permanent. */
  bantime: number;
  increment: IncrementSettings;
  actions: Action[];
  ignore?: IgnoreList;
}

export interface BanManagerOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Seconds of ban history kept and looked back on for bantime.increment (dbpurgeage); default 1 day. */
  purgeAge?: number;
  spread?: SpreadOptions;
  /**
   * A ban was committed, or lifted by an unban (not by expiry): fleet mode
   * publishes it. `from`: the node a remote ban or unban came from.
   */
  onChange?(op: 'ban' | 'unban', bans: Ban[], from: string | null): void;
}

/** A ban another node made (fleet mode), as it arrives from Redis. */
export interface RemoteBan {
  jail: string;
  /** A canonical single address. */
  ip: string;
  /** ms epoch, null for permanent. */
  end: number | null;
  reason: string;
  count: number;
  /** The origin node's name. */
  node: string;
}

interface JailState {
  name: string;
  policy: JailPolicy;
  bantimeFn: BantimeFn;
  bans: Map<string, Ban>;
  total: number;
  /** Lengths of the IPv6 prefixes ever banned here: where to look for a ban covering an address. */
  prefixLengths: Set<number>;
}

interface Pending {
  req: BanRequest;
  manual?: { seconds?: number };
  remote?: RemoteBan;
  resolve(ban: Ban | null): void;
}

// The jail bounds failures to maxretry; this bounds what a huge maxretry keeps in memory per ban.
const MAX_FAILURES_KEPT = 20;

/**
 * Owns the ban table: persists each ban before any action runs, applies it
 * through every action of its jail, lifts it on expiry, restores everything
 * after a restart. Requests arriving in the same tick share one transaction
 * and one batch per action.
 */
export class BanManager {
  private readonly jails = new Map<string, JailState>();
  private readonly expiry: ExpirySchedule;
  private readonly dispatcher: Dispatcher;
  private readonly persistence: BanPersistence;
  private readonly random: () => number;
  private readonly history: BanHistory;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private started = false;
  private closed = false;
  private readonly background = new Set<Promise<unknown>>();

  constructor(private readonly opts: BanManagerOptions) {
    this.random = opts.random ?? Math.random;
    this.history = new BanHistory(opts.store, opts.clock, opts.logger, opts.purgeAge);
    this.persistence = new BanPersistence(opts.store, opts.clock, opts.logger);
    this.dispatcher = new Dispatcher({
      store: opts.store, clock: opts.clock, logger: opts.logger, random: this.random,
      bookkeep: (write, what) => this.persistence.markApplied(write, what),
      stillWanted: (op, bans) => this.stillWanted(op, bans),
    });
    this.expiry = new ExpirySchedule(opts.clock, (b) => this.isLive(b), (due) => void this.lift(due, 'expired'));
  }

  /** Adds or reconfigures a jail. After start(), a new jail's stored bans (or a new action) are restored at once. */
  setJail(name: string, policy: JailPolicy): Promise<void> {
    const bantimeFn = compileIncrement(policy.increment);
    const old = this.jails.get(name);
    if (old) {
      // By identity, not id: a reload builds new action objects under the same ids
      // (after stopping the old ones), and those must get the current bans.
      const known = new Set(old.policy.actions);
      Object.assign(old, { policy, bantimeFn });
      const added = policy.actions.filter((a) => !known.has(a));
      if (!this.started || added.length === 0) return Promise.resolve();
      return this.restoreActions(old, added, { live: [...old.bans.values()], due: [] });
    }
    const state: JailState = { name, policy, bantimeFn, bans: new Map(), total: 0, prefixLengths: new Set() };
    this.jails.set(name, state);
    return this.started ? this.restoreJail(state, this.opts.store.loadBans({ jail: name })) : Promise.resolve();
  }

  /** Forgets a jail's bans in memory; they stay in the database (and in the kernel until its actions are stopped). */
  removeJail(name: string): void {
    this.jails.delete(name);
    metrics.banned.set({ jail: name }, 0);
  }

  /** Restores persisted bans: unexpired re-applied, overdue lifted, one batch per action; reconciles with the kernel. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.history.purge();
    const byJail = groupByJail(this.opts.store.loadBans());
    const orphans = [...byJail.keys()].filter((j) => !this.jails.has(j));
    if (orphans.length > 0) this.opts.logger.warn(`bans of unconfigured jails kept in the database, not enforced: ${orphans.join(', ')}`);
    await Promise.all([...this.jails.values()].map((j) => this.restoreJail(j, byJail.get(j.name) ?? [])));
    let inForce = 0;
    for (const j of this.jails.values()) inForce += j.bans.size;
    this.opts.logger.info(`ban manager ready: ${inForce} ban(s) in force`);
  }

  /** Bans for a jail; null when the address (or prefix) is already banned, or ignored, there. */
  async request(req: BanRequest): Promise<Ban | null> {
    const jail = this.jail(req.jail);
    const target = mustParseBanTarget(req.ip);
    if (this.closed || jail.policy.ignore?.overlapping(target) || covering(jail, target)) return null;
    const why = notASource({ text: target.text, family: target.family, value: target.first });
    if (why !== null) {
      this.opts.logger.warn(`not banning ${target.text} in jail ${jail.name}: ${why} never sends a login`, { jail: jail.name, ip: target.text });
      return null;
    }
    return this.enqueue({ ...req, ip: target.text, family: target.family });
  }

  /** An administrator's ban; an ignored address needs force. Returns the ban already covering it if there is one. */
  async manualBan(jailName: string, ip: string, opts: { seconds?: number; force?: boolean } = {}): Promise<Ban> {
    const jail = this.jail(jailName);
    const target = mustParseBanTarget(ip);
    const existing = covering(jail, target);
    if (existing) return existing;
    const why = notASource({ text: target.text, family: target.family, value: target.first });
    if (why !== null) throw new AsteriskBanError('E_ADDRESS', `${target.text} is ${why}: no packet comes from it, a ban would protect nothing`);
    const ignored = jail.policy.ignore?.overlapping(target);
    if (ignored && !opts.force) {
      throw new AsteriskBanError('E_IGNORED', `${target.text} ${target.first === target.last ? 'is in' : 'overlaps'} the ignore list of jail ${jailName} (${ignored})`, { hint: 'use --force to ban it anyway' });
    }
    const req: BanRequest = { jail: jailName, ip: target.text, family: target.family, time: this.opts.clock.now(), source: 'manual', reason: 'manual ban', failures: [] };
    const ban = await this.enqueue(req, { seconds: opts.seconds });
    return ban ?? jail.bans.get(target.text) ?? this.fail('E_INTERNAL', `ban of ${target.text} was not recorded`);
  }

  /** Lifts matching bans now (E_NOT_BANNED when none match). */
  async unban(opts: { ip?: string; jail?: string; all?: boolean }): Promise<Ban[]> {
    if (opts.jail !== undefined) this.jail(opts.jail);
    const target = opts.ip === undefined ? undefined : mustParseBanTarget(opts.ip);
    if (target === undefined && !opts.all) throw new AsteriskBanError('E_REQUEST', 'unban needs an address or all');
    const matched = this.active(opts.jail).filter((b) => target === undefined || b.ip === target.text);
    if (matched.length === 0) {
      const states = opts.jail === undefined ? [...this.jails.values()] : [this.jail(opts.jail)];
      const inside = target && states.map((j) => covering(j, target)).find((b) => b !== undefined);
      throw new AsteriskBanError('E_NOT_BANNED', `${target?.text ?? 'nothing'} is not banned${opts.jail ? ` in jail ${opts.jail}` : ''}`,
        inside ? { hint: `it lies inside ${inside.ip}, banned in jail ${inside.jail}: unban that prefix` } : {});
    }
    await this.lift(matched, 'unbanned');
    return matched;
  }

  /** Actions of `jail` whose last attempts failed, with how many in a row. */
  failingActions(jail: string): ReadonlyMap<string, { failures: number; error: string }> {
    return this.dispatcher.failing(jail);
  }

  /** The ban in force in `jail` that covers address `ip`, if any. */
  banCovering(jail: string, ip: string): Ban | undefined {
    const state = this.jails.get(jail);
    const addr = parseAddress(ip);
    return state && addr ? covering(state, targetOf(addr, 128)) : undefined;
  }

  active(jail?: string): Ban[] {
    const states = jail === undefined ? [...this.jails.values()] : [this.jail(jail)];
    return states.flatMap((j) => [...j.bans.values()]);
  }

  stats(jail: string): { currentlyBanned: number; totalBanned: number } {
    const j = this.jail(jail);
    return { currentlyBanned: j.bans.size, totalBanned: j.total };
  }

  /** Settles pending requests and stops timers. The store belongs to the caller and stays open; bans stay in the kernel. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.queue.length > 0) await this.flush();
    await this.flushing;
    await this.reconciled();
    this.closed = true;
    this.expiry.close();
    this.history.stop();
    this.dispatcher.close();
    this.persistence.stop();
  }

  /** False while the ban is enforced but not yet written to the state database. */
  isPersisted(ban: Ban): boolean {
    return this.persistence.isPersisted(ban);
  }

  persistenceState(): PersistenceState {
    return this.persistence.state();
  }

  private async restoreJail(jail: JailState, stored: StoredBan[]): Promise<void> {
    const plan = splitByExpiry(stored, this.opts.clock.now());
    // Memory first, synchronously: a request arriving during the awaits below sees these bans.
    for (const b of plan.live) {
      jail.bans.set(b.ip, b);
      const bits = isPrefixText(b.ip) ? parseBanTarget(b.ip)?.bits : undefined;
      if (bits !== undefined) jail.prefixLengths.add(bits);
    }
    this.expiry.add(plan.live);
    jail.total += plan.live.length;
    this.persistence.delete(plan.due);
    metrics.banned.set({ jail: jail.name }, jail.bans.size);
    metrics.unbans.inc({ jail: jail.name }, plan.due.length);
    await this.restoreActions(jail, jail.policy.actions, plan);
    if (plan.live.length + plan.due.length > 0) this.opts.logger.info(`restored ${plan.live.length} ban(s), lifted ${plan.due.length} overdue`, { jail: jail.name });
  }

  /** Enforces the plan through each action, then reconciles with the kernel in the background. */
  private async restoreActions(jail: JailState, actions: Action[], plan: RestorePlan): Promise<void> {
    const { logger } = this.opts;
    await Promise.all(actions.map(async (a) => {
      await restoreAction(jail.name, a, plan, this.dispatcher, logger);
      if (this.closed || !a.list) return;
      const job = reconcileWithKernel(jail.name, a, () => this.jails.get(jail.name)?.bans ?? new Map(), this.dispatcher, logger)
        .catch((err: unknown) => logger.error(`reconciling ${a.id} with the kernel failed`, { jail: jail.name, error: String(err) }))
        .finally(() => this.background.delete(job));
      this.background.add(job);
    }));
  }

  /** Resolves once the kernel reconciliations started by start()/setJail() have finished. */
  async reconciled(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private enqueue(req: BanRequest, manual?: { seconds?: number }, remote?: RemoteBan): Promise<Ban | null> {
    return new Promise((resolve) => {
      this.queue.push({ req, manual, remote, resolve });
      // setImmediate runs after the current I/O phase: a flood's events land in one batch.
      if (this.queue.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const work = this.commit(batch).catch((err: unknown) => {
      // Never leave a jail waiting on a promise that cannot settle.
      this.opts.logger.error(`ban batch of ${batch.length} failed`, { error: err instanceof Error ? err.message : String(err) });
      for (const p of batch) p.resolve(null);
    });
    this.flushing = work;
    await work;
    if (this.flushing === work) this.flushing = null;
  }

  private async commit(batch: Pending[]): Promise<void> {
    const now = this.opts.clock.now();
    const made: { p: Pending; ban: Ban }[] = [];
    const narrower: Ban[] = [];
    for (const p of batch) {
      const jail = this.jails.get(p.req.jail);
      const target = mustParseBanTarget(p.req.ip);
      if (!jail || covering(jail, target)) {
        p.resolve(null);
        continue;
      }
      const inc = jail.policy.increment;
      const own = this.ownBantime(jail, p.req.ip);
      const previous = own.previous;
      const seconds = boundedSeconds(p.manual?.seconds ?? own.seconds);
      const jitter = p.manual?.seconds !== undefined ? 0 : expiryJitterMs(seconds, inc.rndtime, this.random, this.opts.spread);
      const ban: Ban = {
        jail: jail.name, ip: p.req.ip, family: p.req.family, start: now,
        end: seconds < 0 ? null : now + Math.round(seconds * 1000) + jitter,
        count: previous + 1, source: p.req.source, reason: p.req.reason, failures: p.req.failures.slice(-MAX_FAILURES_KEPT),
      };
      if (p.remote) {
        // The origin decided how long: every node lifts it at the same moment.
        ban.end = p.remote.end;
        ban.count = p.remote.count;
        ban.node = p.remote.node;
      }
      jail.bans.set(ban.ip, ban);
      made.push({ p, ban });
      if (target.first !== target.last) {
        jail.prefixLengths.add(target.bits);
        narrower.push(...subsumed(jail, ban, target));
      }
    }
    if (made.length === 0) return;
    // Lifted first: their removal is queued on every action before the wider ban.
    if (narrower.length > 0) void this.lift(narrower, 'inside a wider ban');
    for (const { ban } of made) this.opts.logger.info(banLine(ban), { jail: ban.jail, ip: ban.ip });
    const all = made.map((m) => m.ban);
    this.persistence.save(all);
    this.expiry.add(all);
    this.tell('ban', all.filter((b) => b.node === undefined), null);
    for (const [node, list] of groupBy(all.filter((b) => b.node !== undefined), (b) => b.node!)) this.tell('ban', list, node);
    const firewall: Promise<boolean>[] = [];
    for (const [name, bans] of groupByJail(all)) {
      const jail = this.jails.get(name)!;
      jail.total += bans.length;
      metrics.bans.inc({ jail: name }, bans.length);
      metrics.banned.set({ jail: name }, jail.bans.size);
      const calledAt = this.opts.clock.now();
      // From the failure that made the ban; an administrator's ban has no such moment.
      for (const b of made) if (b.ban.jail === name && b.ban.source !== 'manual') metrics.banLatency.observe({ jail: name }, Math.max(0, calledAt - b.p.req.time) / 1000);
      for (const action of jail.policy.actions) {
        const run = this.dispatcher.run(name, action, 'ban', bans);
        if (action.kind === 'firewall') firewall.push(run);
      }
    }
    // Callers learn of the ban once the firewall has had its first try; mail is not waited for.
    await Promise.all(firewall);
    for (const { p, ban } of made) p.resolve(ban);
  }

  private async lift(bans: Ban[], why: 'expired' | 'unbanned' | 'inside a wider ban', from: string | null = null, publish = true): Promise<void> {
    // One pass, so a ban listed twice is lifted once.
    const lifted = bans.filter((b) => this.isLive(b) && this.jails.get(b.jail)!.bans.delete(b.ip));
    if (lifted.length === 0) return;
    for (const b of lifted) this.opts.logger.info(`Unban ${b.ip} [${b.jail}] ${why}${from !== null ? ` by fleet node ${from}` : ''}`, { jail: b.jail, ip: b.ip });
    this.persistence.delete(lifted);
    // Expiry happens on every node by itself; an unban is news.
    if (why === 'unbanned' && publish) this.tell('unban', lifted, from);
    const runs: Promise<boolean>[] = [];
    for (const [name, list] of groupByJail(lifted)) {
      const jail = this.jails.get(name)!;
      metrics.unbans.inc({ jail: name }, list.length);
      metrics.banned.set({ jail: name }, jail.bans.size);
      for (const action of jail.policy.actions) runs.push(this.dispatcher.run(name, action, 'unban', list));
    }
    this.expiry.reschedule();
    await Promise.all(runs);
  }

  /**
   * A ban another node made. Own ignore list first; a ban in force already
   * (the same or a covering one) is kept as it is. Single addresses only.
   */
  async remoteBan(r: RemoteBan): Promise<{ applied: Ban | null; why?: string; extended?: Ban }> {
    const jail = this.jails.get(r.jail);
    if (!jail) return { applied: null, why: `no jail ${r.jail} here` };
    const target = parseBanTarget(r.ip);
    if (!target || target.first !== target.last) return { applied: null, why: 'not a single address' };
    const ignored = jail.policy.ignore?.overlapping(target);
    if (ignored) return { applied: null, why: `ignored here (${ignored})` };
    const same = jail.bans.get(target.text);
    if (same && endsLater(r.end, same.end)) return { applied: null, why: 'extended', extended: await this.extend(jail, same, r) };
    if (covering(jail, target)) return { applied: null, why: 'already banned' };
    const why = notASource({ text: target.text, family: target.family, value: target.first });
    if (why !== null) return { applied: null, why: `${why}` };
    if (r.end !== null && r.end <= this.opts.clock.now()) return { applied: null, why: 'already expired' };
    const req: BanRequest = { jail: r.jail, ip: target.text, family: target.family, time: this.opts.clock.now(), source: 'fleet', reason: r.reason, failures: [] };
    return { applied: await this.enqueue(req, undefined, { ...r, ip: target.text }) };
  }

  /**
   * Another node holds the address longer (its bantime grew, or it is
   * permanent there): the ban here lasts as long. A new ban record replaces
   * the old one (whose expiry then no longer counts), and the firewall
   * actions apply it again, which renews a kernel timeout.
   */
  private async extend(jail: JailState, old: Ban, r: RemoteBan): Promise<Ban> {
    const ban: Ban = { ...old, end: r.end };
    jail.bans.set(ban.ip, ban);
    const until = ban.end === null ? 'permanent' : `until ${new Date(ban.end).toISOString()}`;
    this.opts.logger.info(`Ban ${ban.ip} [${ban.jail}] extended by fleet node ${r.node}: ${until}`, { jail: ban.jail, ip: ban.ip, node: r.node });
    this.persistence.save([ban], { history: false });
    this.expiry.add([ban]);
    const runs = jail.policy.actions.filter((a) => a.kind === 'firewall').map((a) => this.dispatcher.run(jail.name, a, 'ban', [ban]));
    await Promise.all(runs);
    return ban;
  }

  /** This node's bantime for a new ban of `ip` (bantime.increment included), in seconds, -1 for permanent; null for an unknown jail. */
  bantimeFor(jailName: string, ip: string): number | null {
    const jail = this.jails.get(jailName);
    return jail ? boundedSeconds(this.ownBantime(jail, ip).seconds) : null;
  }

  private ownBantime(jail: JailState, ip: string): { seconds: number; previous: number } {
    const previous = this.history.previous(ip, jail.policy.increment.overalljails ? null : jail.name);
    return { seconds: jail.bantimeFn(jail.policy.bantime, previous), previous };
  }

  /** An unban another node made: lifts the address's ban in that jail, if any. */
  async remoteUnban(jailName: string, ip: string, node: string): Promise<Ban[]> {
    const jail = this.jails.get(jailName);
    const target = parseBanTarget(ip);
    if (!jail || !target) return [];
    const ban = jail.bans.get(target.text);
    if (!ban) return [];
    await this.lift([ban], 'unbanned', node);
    return [ban];
  }

  /** `unban --node NAME`: lifts every ban that came from one fleet node. */
  async unbanNode(node: string): Promise<Ban[]> {
    const matched = this.active().filter((b) => b.node === node);
    if (matched.length === 0) throw new AsteriskBanError('E_NOT_BANNED', `no ban came from node ${node}`);
    // Here only: the other nodes decide about that node for themselves.
    await this.lift(matched, 'unbanned', null, false);
    return matched;
  }

  private tell(op: 'ban' | 'unban', bans: Ban[], from: string | null): void {
    if (bans.length === 0 || !this.opts.onChange) return;
    try {
      this.opts.onChange(op, bans, from);
    } catch (err) {
      this.opts.logger.error(`fleet: cannot hand over ${bans.length} ${op}(s): ${(err as Error).message}`);
    }
  }

  private isLive(ban: Ban): boolean {
    return this.jails.get(ban.jail)?.bans.get(ban.ip) === ban;
  }

  private stillWanted(op: Operation, bans: Ban[]): Ban[] {
    return op === 'ban' ? bans.filter((b) => this.isLive(b)) : bans.filter((b) => !this.jails.get(b.jail)?.bans.has(b.ip));
  }

  private jail(name: string): JailState {
    return this.jails.get(name) ?? this.fail('E_UNKNOWN_JAIL', `no jail named ${name}`);
  }

  private fail(code: 'E_UNKNOWN_JAIL' | 'E_INTERNAL', message: string): never {
    throw new AsteriskBanError(code, message);
  }
}

/** Whether a ban ending at `next` outlasts one ending at `current` by more than clock noise (null: permanent). */
function endsLater(next: number | null, current: number | null): boolean {
  if (current === null) return false;
  return next === null || next > current + 1_000;
}
