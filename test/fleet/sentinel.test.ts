import { it, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BanManager } from '../../src/bans/manager.js';
import { systemClock } from '../../src/core/clock.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { DEFAULT_INCREMENT } from '../../src/settings/defaults.js';
import { Store } from '../../src/store/store.js';
import { FakeAction } from '../bans/fakes.js';
import { waitFor } from '../helpers/daemon.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { noRedis, TestRedis, TestSentinel } from '../helpers/redis-server.js';

const JAIL = 'asterisk';

interface Node { manager: BanManager; fleet: Fleet }

async function startNode(sentinels: TestSentinel[], node: string): Promise<Node> {
  const { logger } = memoryLogger();
  const store = Store.open(':memory:');
  let fleet: Fleet | null = null;
  const manager = new BanManager({ store, clock: systemClock, logger, onChange: (op, bans, from) => fleet?.publish(op, bans, from) });
  await manager.setJail(JAIL, { bantime: 3600, increment: DEFAULT_INCREMENT, actions: [new FakeAction()], ignore: await IgnoreList.resolve([], { logger }) });
  await manager.start();
  fleet = new Fleet({
    settings: {
      redis: null, password: null, sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), sentinelName: 'mymaster', node, prefix: 'sent:', tls: null,
      remoteBansPerMinute: 1000, remoteUnbansPerMinute: 100, streamMaxlen: 100_000, where: { file: 'x', line: 1 },
    },
    modes: () => new Map([[JAIL, 'bans' as const]]), manager, state: store.fleet, clock: systemClock, logger,
  });
  await fleet.start();
  return { manager, fleet };
}

const req = (ip: string) => ({ jail: JAIL, ip, family: 4 as const, time: Date.now(), source: 'ami' as const, reason: 'InvalidPassword', failures: [] });
const banned = (n: Node, ip: string) => n.manager.active(JAIL).some((b) => b.ip === ip);
const connected = async (n: Node) => (await n.fleet.status()).state === 'connected';

describe('fleet mode through Sentinel: the primary dies, no ban is lost', { skip: noRedis(true) }, () => {
  let primary: TestRedis;
  let replica: TestRedis;
  const sentinels: TestSentinel[] = [];
  const nodes: Node[] = [];

  before(async () => {
    primary = await TestRedis.start();
    replica = await TestRedis.start(['--replicaof', '127.0.0.1', String(primary.port)]);
    for (let i = 0; i < 3; i++) sentinels.push(await TestSentinel.start(primary.port));
    nodes.push(await startNode(sentinels, 'sa'), await startNode(sentinels, 'sb'));
    await waitFor(async () => (await connected(nodes[0]!)) && (await connected(nodes[1]!)), 15_000);
  });

  after(async () => {
    for (const n of nodes) {
      await n.fleet.stop();
      await n.manager.close();
    }
    for (const s of sentinels) await s.close();
    await replica?.close();
    await primary?.close();
  });

  it('bans made before and after the failover are on every node', async () => {
    const [a, b] = nodes as [Node, Node];
    await a.manager.request(req('203.0.113.90'));
    await waitFor(() => banned(b, '203.0.113.90'), 5_000);
    // Let the replica catch up before the primary goes.
    await new Promise((r) => setTimeout(r, 1_500));
    await primary.kill('SIGKILL');
    await b.manager.request(req('203.0.113.91'));
    await a.manager.request(req('203.0.113.92'));
    await waitFor(() => banned(a, '203.0.113.91') && banned(b, '203.0.113.92'), 40_000);
    for (const n of nodes) for (const ip of ['203.0.113.90', '203.0.113.91', '203.0.113.92']) assert.ok(banned(n, ip), ip);
  });
});
