/**
 * Fleet nodes for the fleet benchmark: a ban manager with its own state and
 * a Fleet, in this process; with `netns`, its firewall is a real
 * nftables-allports action in that network namespace. Every ban's moment in
 * the firewall (the action's call done) is recorded per address.
 */
import type { Action, BanOptions } from '../../src/actions/types.js';
import { createAction } from '../../src/actions/registry.js';
import { BanManager } from '../../src/bans/manager.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Ban } from '../../src/core/types.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { DEFAULT_INCREMENT, defaultJailSettings } from '../../src/settings/defaults.js';
import type { FleetSettings } from '../../src/settings/fleet-settings.js';
import type { FleetMode } from '../../src/settings/types.js';
import { Store } from '../../src/store/store.js';
import { FakeAction } from '../bans/fakes.js';

export const JAIL = 'asterisk';
const logger = silentLogger();

/** Records when each address's ban call returned. */
class Timed implements Action {
  readonly at = new Map<string, number>();
  constructor(private readonly inner: Action) {}
  get id() { return this.inner.id; }
  get kind() { return this.inner.kind; }
  start() { return this.inner.start(); }
  check(c: Ban[]) { return this.inner.check(c); }
  async ban(bans: Ban[], o: BanOptions) {
    await this.inner.ban(bans, o);
    const t = performance.now();
    for (const b of bans) this.at.set(b.ip, t);
  }
  unban(bans: Ban[]) { return this.inner.unban(bans); }
  flush() { return this.inner.flush(); }
  stop() { return this.inner.stop(); }
}

export interface BenchNode {
  name: string;
  manager: BanManager;
  fleet: Fleet | null;
  /** Address → performance.now() when its ban was in the firewall. */
  inFirewall: Map<string, number>;
  close(): Promise<void>;
}

export interface NodeOptions {
  mode?: FleetMode;
  /** Where Redis is: a URL or sentinel ports; null: fleet off. */
  redis: string | { sentinels: number[] } | null;
  netns?: string;
  dbfile?: string;
  prefix?: string;
}

export async function benchNode(name: string, o: NodeOptions): Promise<BenchNode> {
  const store = Store.open(o.dbfile ?? ':memory:');
  const inner = o.netns
    ? createAction({ name: 'nftables-allports', params: { name: 'FLEET', flushconntrack: 'no', netns: o.netns }, file: 'bench', line: 0 }, { jail: defaultJailSettings(JAIL), logger, clock: systemClock, env: {} })
    : new FakeAction();
  const action = new Timed(inner);
  await action.start();
  let fleet: Fleet | null = null;
  const manager = new BanManager({ store, clock: systemClock, logger, onChange: (op, bans, from) => fleet?.publish(op, bans, from) });
  await manager.setJail(JAIL, { bantime: 3600, increment: DEFAULT_INCREMENT, actions: [action], ignore: await IgnoreList.resolve([], { logger }) });
  await manager.start();
  if (o.redis !== null) {
    const where = typeof o.redis === 'string' ? { redis: o.redis, sentinels: [] } : { redis: null, sentinels: o.redis.sentinels.map((port) => ({ host: '127.0.0.1', port })) };
    const settings: FleetSettings = {
      ...where, password: null, sentinelName: 'mymaster', node: name, prefix: o.prefix ?? 'bench:', tls: null,
      remoteBansPerMinute: 10_000_000, remoteUnbansPerMinute: 1000, streamMaxlen: 1_000_000, where: { file: 'bench', line: 0 },
    };
    fleet = new Fleet({ settings, modes: () => new Map([[JAIL, o.mode ?? 'bans']]), manager, state: store.fleet, clock: systemClock, logger });
    await fleet.start();
  }
  return {
    name, manager, fleet, inFirewall: action.at,
    async close() {
      await fleet?.stop();
      await manager.close();
      await action.stop().catch(() => {});
    },
  };
}

export async function allConnected(nodes: BenchNode[], ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await Promise.all(nodes.map(async (n) => (await n.fleet!.status()).state === 'connected'))).every(Boolean)) {
    if (Date.now() > until) throw new Error('nodes did not join the fleet');
    await sleep(50);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
export const ipOf = (base: number, i: number) => `10.${base}.${(i >> 8) & 255}.${i & 255}`;
export const request = (ip: string) => ({ jail: JAIL, ip, family: 4 as const, time: Date.now(), source: 'ami' as const, reason: 'bench', failures: [] });

/** Polls (1 ms timers: a setImmediate spin would starve the sockets) until `done` or the deadline. */
export async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) return false;
    await sleep(1);
  }
  return true;
}
