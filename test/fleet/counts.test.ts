import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { BanManager } from '../../src/bans/manager.js';
import { systemClock } from '../../src/core/clock.js';
import { Fleet } from '../../src/fleet/fleet.js';
import type { SharedFailure } from '../../src/fleet/shared-count.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { DEFAULT_INCREMENT } from '../../src/settings/defaults.js';
import { Store } from '../../src/store/store.js';
import { FakeAction } from '../bans/fakes.js';
import { waitFor } from '../helpers/daemon.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { noRedis, TestRedis } from '../helpers/redis-server.js';

const JAIL = 'asterisk';

interface Node { name: string; manager: BanManager; fleet: Fleet; action: FakeAction; lines: string[] }

async function startNode(url: string, name: string, ignoreip: string[] = [], increment = DEFAULT_INCREMENT): Promise<Node> {
  const { logger, lines } = memoryLogger();
  const store = Store.open(':memory:');
  const action = new FakeAction();
  let fleet: Fleet | null = null;
  const manager = new BanManager({ store, clock: systemClock, logger, onChange: (op, bans, from) => fleet?.publish(op, bans, from) });
  const ignore = await IgnoreList.resolve(ignoreip, { ignoreself: false, logger, peers: [] });
  await manager.setJail(JAIL, { bantime: 3600, increment, actions: [action], ignore });
  await manager.start();
  fleet = new Fleet({
    settings: { redis: url, password: null, sentinels: [], sentinelName: 'm', node: name, prefix: 'cnt:', tls: null, remoteBansPerMinute: 1000, remoteUnbansPerMinute: 100, streamMaxlen: 100_000, where: { file: 'x', line: 1 } },
    modes: () => new Map([[JAIL, 'counts' as const]]), manager, state: store.fleet, clock: systemClock, logger,
  });
  await fleet.start();
  return { name, manager, fleet, action, lines };
}

const failure = (ip: string, over: Partial<SharedFailure> = {}): SharedFailure => ({ jail: JAIL, ip, findtimeMs: 600_000, maxretry: 5, bantimeMs: 3_600_000, reason: 'InvalidPassword', ...over });
const banned = (n: Node, ip: string) => n.manager.active(JAIL).find((b) => b.ip === ip);
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('fleet = counts: failures add up across nodes in Redis', { skip: noRedis() }, () => {
  let redis: TestRedis;
  let nodes: Node[];

  before(async () => {
    redis = await TestRedis.start();
    nodes = [await startNode(redis.url, 'n1'), await startNode(redis.url, 'n2', ['198.51.100.0/24']), await startNode(redis.url, 'n3')];
    await waitFor(async () => (await Promise.all(nodes.map((n) => n.fleet.status()))).every((s) => s.state === 'connected'), 10_000);
  });

  after(async () => {
    for (const n of nodes ?? []) {
      await n.fleet.stop().catch(() => {});
      await n.manager.close().catch(() => {});
    }
    await redis?.close();
  });

  it('2 + 2 + 1 failures on three nodes ban on all three; 4 do not', async () => {
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    for (const n of [n1, n1, n2, n2]) n.fleet.count(failure('203.0.113.50'));
    for (const n of [n1, n2, n3, n3]) n.fleet.count(failure('203.0.113.51'));
    await settle();
    for (const n of nodes) assert.ok(!banned(n, '203.0.113.50') && !banned(n, '203.0.113.51'), `4 failures ban nobody on ${n.name}`);
    n3.fleet.count(failure('203.0.113.50'));
    await waitFor(() => nodes.every((n) => banned(n, '203.0.113.50')), 5_000);
    for (const n of nodes) assert.ok(n.action.kernel.has('203.0.113.50'), `in ${n.name}'s firewall`);
    const onN1 = banned(n1, '203.0.113.50')!;
    assert.equal(onN1.node, 'n3', 'the node whose failure tripped the count is its origin');
    assert.match(onN1.reason, /fleet count: 5 failures across the fleet \(InvalidPassword\)/);
    assert.equal(banned(n3, '203.0.113.50')!.end, onN1.end, 'one end time fleet-wide');
    assert.ok(!banned(n1, '203.0.113.51'));
    assert.equal((await n3.fleet.status()).counted.tripped, 1);
  });

  it('failures racing on every node make exactly one ban, published once', async () => {
    for (let i = 0; i < 30; i++) nodes[i % 3]!.fleet.count(failure('203.0.113.60'));
    await waitFor(() => nodes.every((n) => banned(n, '203.0.113.60')), 5_000);
    await settle();
    const r = new Redis(redis.url);
    const entries = await r.xrange('cnt:events', '-', '+');
    const left = await r.exists('cnt:count:asterisk:203.0.113.60');
    await r.quit();
    assert.equal(entries.filter(([, f]) => f.includes('203.0.113.60')).length, 1, 'one stream entry');
    assert.equal(left, 0, 'failures after the ban, while it is in force, do not start a second one');
  });

  it('the window slides: failures older than findtime no longer count', async () => {
    for (let i = 0; i < 4; i++) nodes[i % 3]!.fleet.count(failure('203.0.113.70', { findtimeMs: 400 }));
    await new Promise((r) => setTimeout(r, 700));
    nodes[0]!.fleet.count(failure('203.0.113.70', { findtimeMs: 400 }));
    await settle();
    assert.ok(nodes.every((n) => !banned(n, '203.0.113.70')));
    for (let i = 0; i < 4; i++) nodes[i % 3]!.fleet.count(failure('203.0.113.70', { findtimeMs: 400 }));
    await waitFor(() => nodes.every((n) => banned(n, '203.0.113.70')), 5_000);
  });

  it("a node's own ignore list still wins over a ban the fleet count made", async () => {
    for (let i = 0; i < 5; i++) nodes[i % 3]!.fleet.count(failure('198.51.100.9'));
    await waitFor(() => banned(nodes[0]!, '198.51.100.9') !== undefined && banned(nodes[2]!, '198.51.100.9') !== undefined, 5_000);
    await settle();
    assert.ok(!banned(nodes[1]!, '198.51.100.9'));
  });

  it('fleet_maxretry and bantime travel with each failure; a permanent ban stays permanent', async () => {
    nodes[0]!.fleet.count(failure('203.0.113.80', { maxretry: 2, bantimeMs: -1 }));
    nodes[1]!.fleet.count(failure('203.0.113.80', { maxretry: 2, bantimeMs: -1 }));
    await waitFor(() => nodes.every((n) => banned(n, '203.0.113.80')), 5_000);
    assert.equal(banned(nodes[2]!, '203.0.113.80')!.end, null);
  });

  it('an unban of a count-made ban on its origin node propagates', async () => {
    const origin = nodes.find((n) => banned(n, '203.0.113.50')!.node === n.name)!;
    await origin.manager.unban({ ip: '203.0.113.50' });
    await waitFor(() => nodes.every((n) => !banned(n, '203.0.113.50')), 5_000);
  });

  it("the tripping node's bantime.increment lengthens the ban on every node", async () => {
    const n4 = await startNode(redis.url, 'n4', [], { ...DEFAULT_INCREMENT, enabled: true, multipliers: [1, 4] });
    try {
      await waitFor(async () => (await n4.fleet.status()).state === 'connected', 10_000);
      await n4.manager.manualBan(JAIL, '203.0.113.95', { seconds: 60 });
      await n4.manager.unban({ ip: '203.0.113.95' });
      await waitFor(() => nodes.every((n) => !banned(n, '203.0.113.95')), 5_000);
      for (const n of [...nodes, nodes[0]!]) n.fleet.count(failure('203.0.113.95'));
      await settle();
      n4.fleet.count(failure('203.0.113.95'));
      const hours = (n: Node) => {
        const b = banned(n, '203.0.113.95');
        return b && b.end !== null ? (b.end - Date.now()) / 3_600_000 : 0;
      };
      await waitFor(() => [...nodes, n4].every((n) => hours(n) > 3.9), 5_000, () => [...nodes, n4].map((n) => `${n.name} ${hours(n)}`).join(', '));
      assert.ok([...nodes, n4].every((n) => hours(n) <= 4), 'four times the bantime: the second ban of this address on n4');
    } finally {
      await n4.fleet.stop();
      await n4.manager.close();
    }
  });

  it('while Redis is down failures are counted here only, said once, and nothing waits', async () => {
    await redis.kill('SIGKILL');
    await waitFor(async () => (await nodes[0]!.fleet.status()).state !== 'connected', 5_000);
    for (let i = 0; i < 10; i++) nodes[0]!.fleet.count(failure('203.0.113.90'));
    const s = await nodes[0]!.fleet.status();
    assert.equal(s.counted.dropped >= 10, true);
    assert.equal(nodes[0]!.lines.filter((l) => /counted here only, not fleet-wide/.test(l)).length, 1);
    await redis.run();
    await waitFor(async () => (await Promise.all(nodes.map((n) => n.fleet.status()))).every((x) => x.state === 'connected'), 15_000);
    for (let i = 0; i < 5; i++) nodes[i % 3]!.fleet.count(failure('203.0.113.91'));
    await waitFor(() => nodes.every((n) => banned(n, '203.0.113.91')), 5_000);
  });
});

describe('the bans in force in Redis', { skip: noRedis() }, () => {
  it('expired bans are dropped from the hash and the end-time index; those in force and permanent ones stay', async () => {
    const redis = await TestRedis.start();
    const n = await startNode(redis.url, 'trim');
    const r = new Redis(redis.url);
    try {
      await waitFor(async () => (await n.fleet.status()).state === 'connected', 10_000);
      await n.manager.manualBan(JAIL, '203.0.113.1', { seconds: 1 });
      await n.manager.manualBan(JAIL, '203.0.113.2', { seconds: 3600 });
      await n.manager.manualBan(JAIL, '203.0.113.3', { seconds: -1 });
      await n.manager.manualBan(JAIL, '203.0.113.4', { seconds: 1 });
      n.fleet.count(failure('203.0.113.5', { maxretry: 1 }));
      await waitFor(async () => (await r.hlen('cnt:bans')) === 5, 5_000);
      assert.deepEqual(await r.zrange('cnt:until', 0, -1, 'WITHSCORES').then((x) => x.at(-1)), 'inf', 'a permanent ban ends at +inf');
      await new Promise((res) => setTimeout(res, 1_200));
      // The node's own minute timer may have taken some already.
      assert.ok((await n.fleet.trimExpired()) <= 2);
      const kept = ['asterisk 203.0.113.2', 'asterisk 203.0.113.3', 'asterisk 203.0.113.5'];
      assert.deepEqual((await r.hkeys('cnt:bans')).sort(), kept);
      assert.deepEqual((await r.zrange('cnt:until', 0, -1)).sort(), kept, 'a ban the shared count made is indexed too');
      assert.equal(await n.fleet.trimExpired(), 0);
    } finally {
      r.disconnect();
      await n.fleet.stop();
      await n.manager.close();
      await redis.close();
    }
  });
});
