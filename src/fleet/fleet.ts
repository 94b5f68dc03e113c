import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isPrefixText } from '../core/address.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { ThrottledLog, type Logger } from '../core/logger.js';
import { scrubSecret } from '../core/scrub.js';
import type { Ban } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import type { BanManager } from '../bans/manager.js';
import type { FleetSettings } from '../settings/fleet-settings.js';
import { redisLabel } from '../settings/fleet-settings.js';
import type { FleetMode } from '../settings/types.js';
import type { FleetStateStore } from '../store/fleet-state.js';
import { encodeEntry, type FleetEntry } from './entry.js';
import { createRedis } from './link.js';
import { NodeCaps } from './node-caps.js';
import { RemoteApplier } from './remote-apply.js';
import { HEARTBEAT_TTL_S, NodeClaim } from './node-claim.js';
import { StreamFollower } from './follow.js';
import { SharedCounter, type SharedFailure } from './shared-count.js';
import { BansInForce } from './bans-in-force.js';

export interface FleetDeps {
  settings: FleetSettings;
  /** Each jail's fleet mode now (a reload may change them). */
  modes(): ReadonlyMap<string, FleetMode>;
  manager: BanManager;
  state: FleetStateStore;
  clock: Clock;
  logger: Logger;
  /** Test seam: clients to use instead of new ones. */
  redis?: { cmd: Redis; reader: Redis };
}

export interface FleetStatus {
  node: string;
  engine: string;
  state: 'connecting' | 'connected' | 'disconnected' | 'refused' | 'stopped';
  connectedSince: string | null;
  disconnectedSince: string | null;
  nodes: { node: string; heartbeatAgeSeconds: number }[];
  streamLag: number | null;
  outbox: number;
  remoteApplied: number;
  remoteRefused: number;
  /** fleet = counts: failures sent to the shared count, dropped (Redis away), and bans this node's failure tripped. */
  counted: { sent: number; dropped: number; tripped: number };
}

/** On reconnect, this node's bans of the last minute go out again: Redis may have lost them (appendfsync everysec, a failover). */
const REPLAY_MS = 60_000;
const OUTBOX_BATCH = 500;
const TRIM_EVERY_MS = 60_000;

/**
 * Fleet mode's shared bans: this node's bans and unbans go into a Redis
 * stream (and a hash of the bans in force, for a full resync); every node
 * reads the stream from its own cursor and applies what other nodes
 * published through its ban manager, under its own ignore list. Redis is
 * never in the path of a local ban: while it is away, this node's changes
 * wait in an outbox in SQLite and go out on reconnect.
 */
export class Fleet {
  private readonly cmd: Redis;
  private readonly reader: Redis;
  private readonly instance = randomUUID();
  private readonly logger: Logger;
  private readonly throttled: ThrottledLog;
  private readonly keys: { stream: string; bans: string; until: string; node: (n: string) => string; nodes: string };
  private readonly inForce: BansInForce;
  private trimTimer: TimerHandle | null = null;
  private state: FleetStatus['state'] = 'connecting';
  private connectedSince: number | null = null;
  private disconnectedSince: number | null = null;
  private readonly name: NodeClaim;
  private readonly remote: RemoteApplier;
  private readonly counter: SharedCounter;
  private readonly follower: StreamFollower;
  private stopped = false;
  private joining: Promise<void> | null = null;
  /** This node's changes go straight to Redis: linked, and the outbox drained (so nothing overtakes what waits in it). */
  private direct = false;

  constructor(private readonly deps: FleetDeps) {
    const s = deps.settings;
    this.logger = deps.logger.child({ source: 'fleet' });
    this.throttled = new ThrottledLog(this.logger, 60_000, deps.clock);
    this.keys = { stream: `${s.prefix}events`, bans: `${s.prefix}bans`, until: `${s.prefix}until`, node: (n) => `${s.prefix}node:${n}`, nodes: `${s.prefix}node:*` };
    this.cmd = deps.redis?.cmd ?? createRedis(s, false);
    this.reader = deps.redis?.reader ?? createRedis(s, true);
    for (const c of [this.cmd, this.reader]) c.on('error', (err: Error) => this.throttled.warn('redis-error', `fleet: Redis: ${this.scrub(err.message)}`));
    this.inForce = new BansInForce(this.cmd, this.keys);
    this.name = new NodeClaim(this.cmd, this.keys.node(s.node), this.instance, deps.clock);
    this.remote = new RemoteApplier({ manager: deps.manager, modes: deps.modes, clock: deps.clock, logger: this.logger, throttled: this.throttled, caps: new NodeCaps(s.remoteBansPerMinute, s.remoteUnbansPerMinute) });
    this.follower = new StreamFollower({
      cmd: this.cmd, reader: this.reader, stream: this.keys.stream, inForce: this.inForce, state: deps.state, remote: this.remote,
      node: s.node, clock: deps.clock, logger: this.logger, throttled: this.throttled, scrub: (t) => this.scrub(t),
    });
    this.counter = new SharedCounter({
      redis: this.cmd, keys: this.keys, prefix: s.prefix, node: s.node, instance: this.instance.slice(0, 8), streamMaxlen: s.streamMaxlen,
      live: () => this.state === 'connected', tripped: (e) => void this.applyTripped(e),
      logger: this.logger, throttled: this.throttled, scrub: (t) => this.scrub(t), now: () => deps.clock.now(),
    });
    this.cmd.on('ready', () => void this.join());
    this.cmd.on('close', () => this.lost());
  }

  private get engine(): string {
    const s = this.deps.settings;
    return s.sentinels.length > 0 ? `sentinel ${s.sentinelName} via ${s.sentinels.map((x) => `${x.host}:${x.port}`).join(' ')}` : redisLabel(s.redis!);
  }

  async start(): Promise<void> {
    metrics.fleetOutbox.set(this.deps.state.size());
    this.logger.info(`fleet: node ${this.deps.settings.node} connecting to ${this.engine}`);
    // Not awaited: a Redis that is down must not hold up the daemon's start.
    this.cmd.connect().catch((err: Error) => this.throttled.warn('connect', `fleet: cannot reach Redis yet (${this.scrub(err.message)}); bans stay local and are kept for it`));
    this.reader.connect().catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    this.name.stop();
    if (this.trimTimer) this.deps.clock.clearTimeout(this.trimTimer);
    metrics.fleetConnected.set(0);
    try {
      if (this.cmd.status === 'ready') await this.name.release();
    } catch {
      // The heartbeat expires by itself.
    }
    this.cmd.disconnect();
    this.reader.disconnect();
  }

  /** A failure of a `fleet = counts` jail, already through this node's own checks, for the fleet-wide count. */
  count(f: SharedFailure): void {
    if (this.stopped || this.deps.modes().get(f.jail) !== 'counts' || isPrefixText(f.ip)) return;
    this.counter.add(f);
  }

  /** The fleet-wide count tripped on this node's failure: the script published the ban; here it is applied like any fleet ban. */
  private async applyTripped(e: FleetEntry): Promise<void> {
    metrics.fleetTripped.inc();
    // The script knows the jail's bantime only; this node's history may make it longer (bantime.increment).
    const seconds = this.deps.manager.bantimeFor(e.jail, e.ip);
    let end = e.end;
    if (seconds !== null && e.end !== null) end = seconds < 0 ? null : Math.max(e.end, e.at + seconds * 1000);
    const longer = end !== e.end;
    const entry = longer ? { ...e, end } : e;
    const r = await this.deps.manager.remoteBan(entry).catch((err: Error) => ({ applied: null, why: err.message, extended: undefined }));
    const ban = r.applied ?? r.extended;
    // The other nodes learn the longer end as an extension of the ban they got from the script.
    if (longer && ban) this.publish('ban', [ban], null);
    if (!ban && r.why && r.why !== 'already banned') this.logger.info(`fleet: not banning ${e.ip} [${e.jail}] here on the fleet count: ${r.why}`, { jail: e.jail, ip: e.ip });
  }

  /** The ban manager's changes: this node's own are published (or kept for later); remote ones are not echoed. */
  publish(op: 'ban' | 'unban', bans: Ban[], from: string | null): void {
    if (from !== null || this.stopped || this.state === 'refused') return;
    const modes = this.deps.modes();
    const self = this.deps.settings.node;
    const entries: FleetEntry[] = [];
    for (const b of bans) {
      const mode = modes.get(b.jail);
      // Prefixes stay local: a node may only ever make others ban single addresses.
      if (mode === undefined || mode === 'off' || isPrefixText(b.ip) || (b.node !== undefined && b.node !== self)) continue;
      entries.push({ op, jail: b.jail, ip: b.ip, end: b.end, reason: b.reason, count: b.count, node: this.deps.settings.node, at: this.deps.clock.now() });
    }
    if (entries.length === 0) return;
    if (!this.direct) {
      this.keep(entries);
      return;
    }
    this.send(entries).catch((err: Error) => {
      this.throttled.warn('send', `fleet: ${entries.length} change(s) not published (${this.scrub(err.message)}); kept for Redis`);
      this.keep(entries);
      this.direct = false;
      this.retryDrain();
    });
  }

  /** After a failed publish on a live link: the outbox goes out again shortly (a dead link drains on reconnect instead). */
  private retryDrain(): void {
    const t = this.deps.clock.setTimeout(() => {
      if (this.stopped || this.direct || this.state !== 'connected') return;
      this.drain().catch((err: Error) => {
        this.throttled.warn('drain', `fleet: the outbox is still waiting (${this.scrub(err.message)})`);
        this.retryDrain();
      });
    }, 1_000);
    t.unref?.();
  }

  /** Expired bans out of the bans in force, a while after joining and then every minute or so (every node does it: it is idempotent). */
  private scheduleTrim(delay: number): void {
    if (this.trimTimer) this.deps.clock.clearTimeout(this.trimTimer);
    this.trimTimer = this.deps.clock.setTimeout(() => {
      this.trimTimer = null;
      if (this.stopped || this.state !== 'connected') return;
      this.trimExpired()
        .then((n) => n > 0 && this.logger.debug(`fleet: ${n} expired ban(s) dropped from the bans in force`))
        .catch((err: Error) => this.throttled.warn('trim', `fleet: dropping expired bans failed (${this.scrub(err.message)})`))
        .finally(() => this.scheduleTrim(TRIM_EVERY_MS + Math.floor(Math.random() * 10_000)));
    }, delay);
    this.trimTimer.unref?.();
  }

  /** Drops expired bans from the fleet's bans in force; returns how many. */
  trimExpired(): Promise<number> {
    return this.inForce.trim();
  }

  /** The link to Redis now, for `status`: the state and since when. */
  link(): { state: FleetStatus['state']; since: string | null } {
    const t = this.state === 'connected' ? this.connectedSince : this.disconnectedSince;
    return { state: this.state, since: t === null ? null : new Date(t).toISOString() };
  }

  status(): Promise<FleetStatus> {
    return this.describe();
  }

  private async describe(): Promise<FleetStatus> {
    const nodes: FleetStatus['nodes'] = [];
    if (this.state === 'connected') {
      try {
        // SCAN, not KEYS: a shared Redis may hold many keys, and KEYS blocks it while it looks.
        const names: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await this.cmd.scan(cursor, 'MATCH', this.keys.nodes, 'COUNT', 1000);
          names.push(...found);
          cursor = next;
        } while (cursor !== '0' && names.length < 1000);
        for (const key of names.slice(0, 1000)) {
          const ttl = await this.cmd.ttl(key);
          nodes.push({ node: key.slice(this.keys.node('').length), heartbeatAgeSeconds: Math.max(0, HEARTBEAT_TTL_S - ttl) });
        }
      } catch {
        // Status without the node list.
      }
    }
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return {
      node: this.deps.settings.node, engine: this.engine, state: this.state,
      connectedSince: iso(this.connectedSince), disconnectedSince: iso(this.disconnectedSince),
      nodes: nodes.sort((a, b) => a.node.localeCompare(b.node)), streamLag: this.follower.lag,
      outbox: this.deps.state.size(), remoteApplied: this.remote.counts.applied, remoteRefused: this.remote.counts.refused,
      counted: { ...this.counter.counts },
    };
  }

  private scrub(text: string): string {
    return scrubSecret(scrubSecret(text, this.deps.settings.password), passwordOf(this.deps.settings.redis));
  }

  private keep(entries: FleetEntry[]): void {
    try {
      this.deps.state.push(entries.map((e) => JSON.stringify(e)));
      metrics.fleetOutbox.set(this.deps.state.size());
    } catch (err) {
      this.logger.error(`fleet: cannot keep ${entries.length} change(s) for Redis: ${(err as Error).message}`);
    }
  }

  private async send(entries: FleetEntry[]): Promise<void> {
    const m = this.cmd.multi();
    for (const e of entries) {
      const fields = encodeEntry(e);
      m.xadd(this.keys.stream, 'MAXLEN', '~', String(this.deps.settings.streamMaxlen), '*', ...fields);
      this.inForce.record(m, e, fields);
    }
    const res = await m.exec();
    const failed = res?.find(([err]) => err !== null);
    if (!res || failed) throw failed?.[0] ?? new Error('transaction discarded');
  }

  private lost(): void {
    if (this.stopped || this.state === 'refused') return;
    if (this.state === 'connected') {
      this.disconnectedSince = this.deps.clock.now();
      this.logger.warn('fleet: disconnected from Redis; banning locally, keeping this node\'s changes for it');
    }
    this.state = 'disconnected';
    this.direct = false;
    this.connectedSince = null;
    metrics.fleetConnected.set(0);
  }

  /** On every (re)connection: claim the node name, replay the outbox and the last minute, catch up or resync, then read. */
  private join(): Promise<void> {
    this.joining ??= this.joinNow().finally(() => (this.joining = null));
    return this.joining;
  }

  private async joinNow(): Promise<void> {
    if (this.stopped || this.state === 'refused') return;
    const s = this.deps.settings;
    try {
      if (!(await this.name.claim())) return this.refuse();
      await this.replay();
      await this.follower.catchUp();
      this.state = 'connected';
      this.connectedSince = this.deps.clock.now();
      this.disconnectedSince = null;
      metrics.fleetConnected.set(1);
      this.logger.info(`fleet: node ${s.node} joined through ${this.engine}`);
      this.name.keep(() => this.refuse(), () => !this.stopped && this.state === 'connected');
      this.scheduleTrim(1_000);
      void this.follower.read(() => !this.stopped && this.state === 'connected');
    } catch (err) {
      this.throttled.warn('join', `fleet: joining failed (${this.scrub((err as Error).message)}); retrying on the next connection`);
      this.cmd.disconnect(true);
    }
  }

  private refuse(): void {
    this.state = 'refused';
    metrics.fleetConnected.set(0);
    this.logger.error(`fleet: another live node already runs as "${this.deps.settings.node}" (a cloned host?): not joining; give each node its own name (node = in [Fleet]) and restart`);
    this.cmd.disconnect();
    this.reader.disconnect();
  }

  /**
   * Publishes the outbox in order. Changes made meanwhile join its end; the
   * moment it is found empty, new changes go straight to Redis (one
   * synchronous step, so none is left behind in between).
   */
  private async drain(): Promise<void> {
    for (;;) {
      const rows = this.deps.state.peek(OUTBOX_BATCH);
      if (rows.length === 0) {
        this.direct = true;
        metrics.fleetOutbox.set(0);
        return;
      }
      const entries = rows.map((r) => JSON.parse(r.entry) as FleetEntry);
      await this.send(entries);
      this.deps.state.done(rows.at(-1)!.id);
      this.logger.info(`fleet: published ${entries.length} change(s) kept while Redis was away`);
    }
  }

  /** The outbox, then this node's bans of the last minute (idempotent on every receiver). */
  private async replay(): Promise<void> {
    await this.drain();
    const since = this.deps.clock.now() - REPLAY_MS;
    const self = this.deps.settings.node;
    const recent = this.deps.manager.active().filter((b) => (b.node === undefined || b.node === self) && b.start >= since);
    const modes = this.deps.modes();
    const entries = recent
      .filter((b) => (modes.get(b.jail) ?? 'off') !== 'off' && !isPrefixText(b.ip))
      .map((b): FleetEntry => ({ op: 'ban', jail: b.jail, ip: b.ip, end: b.end, reason: b.reason, count: b.count, node: this.deps.settings.node, at: this.deps.clock.now() }));
    if (entries.length > 0) await this.send(entries);
  }
}

function passwordOf(url: string | null): string | null {
  const m = url ? /^\w+:\/\/[^:@/]*:([^@/]*)@/.exec(url) : null;
  return m ? decodeURIComponent(m[1]!) : null;
}
