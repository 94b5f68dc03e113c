import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { BanManager } from '../../src/bans/manager.js';
import { systemClock } from '../../src/core/clock.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { DEFAULT_INCREMENT } from '../../src/settings/defaults.js';
import type { FleetSettings } from '../../src/settings/fleet-settings.js';
import type { FleetMode } from '../../src/settings/types.js';
import { Store } from '../../src/store/store.js';
import { FakeAction } from '../bans/fakes.js';
import { waitFor } from '../helpers/daemon.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { noRedis, TestRedis } from '../helpers/redis-server.js';

interface Node {
  name: string;
  store: Store;
  manager: BanManager;
  fleet: Fleet;
  action: FakeAction;
  lines: string[];
}

const JAIL = 'asterisk';

function settings(url: string, node: string, over: Partial<FleetSettings> = {}): FleetSettings {
  return {
    redis: url, password: null, sentinels: [], sentinelName: 'mymaster', node, prefix: 'test:', tls: null,
    remoteBansPerMinute: 1000, remoteUnbansPerMinute: 100, streamMaxlen: 100_000, where: { file: 'asterisk-ban.local', line: 1 }, ...over,
  };
}

async function startNode(url: string, name: string, opts: { ignoreip?: string[]; store?: Store; fleet?: Partial<FleetSettings>; mode?: FleetMode } = {}): Promise<Node> {
  const { logger, lines } = memoryLogger();
  const store = opts.store ?? Store.open(':memory:');
  const action = new FakeAction();
  let fleet: Fleet | null = null;
  const manager = new BanManager({ store, clock: systemClock, logger, onChange: (op, bans, from) => fleet?.publish(op, bans, from) });
  const ignore = await IgnoreList.resolve(opts.ignoreip ?? [], { ignoreself: false, logger, peers: [] });
  await manager.setJail(JAIL, { bantime: 3600, increment: DEFAULT_INCREMENT, actions: [action], ignore });
  await manager.start();
  fleet = new Fleet({ settings: settings(url, name, opts.fleet), modes: () => new Map([[JAIL, opts.mode ?? 'bans']]), manager, state: store.fleet, clock: systemClock, logger });
  await fleet.start();
  return { name, store, manager, fleet, action, lines };
}

const connected = async (n: Node): Promise<boolean> => (await n.fleet.status()).state === 'connected';
const banned = (n: Node, ip: string): boolean => n.manager.active(JAIL).some((b) => b.ip === ip);
const req = (ip: string) => ({ jail: JAIL, ip, family: 4 as const, time: Date.now(), source: 'ami' as const, reason: 'InvalidPassword', failures: [] });

async function stopNode(n: Node): Promise<void> {
  await n.fleet.stop();
  await n.manager.close();
}

describe('fleet mode against a real redis-server', { skip: noRedis() }, () => {
  let redis: TestRedis;
  let a: Node;
  let b: Node;
  let c: Node;

  before(async () => {
    redis = await TestRedis.start();
    a = await startNode(redis.url, 'node-a');
    b = await startNode(redis.url, 'node-b', { ignoreip: ['198.51.100.7'] });
    c = await startNode(redis.url, 'node-c');
    await waitFor(async () => (await connected(a)) && (await connected(b)) && (await connected(c)), 10_000);
  });

  after(async () => {
    for (const n of [a, b, c]) if (n) await stopNode(n).catch(() => {});
    await redis?.close();
  });

  it('a ban on one node reaches the others, through their own actions, with its origin and end', async () => {
    const ban = await a.manager.request(req('203.0.113.10'));
    assert.ok(ban);
    await waitFor(() => banned(b, '203.0.113.10') && banned(c, '203.0.113.10'), 5_000);
    const onB = b.manager.active(JAIL).find((x) => x.ip === '203.0.113.10')!;
    assert.equal(onB.node, 'node-a');
    assert.equal(onB.end, ban.end, 'every node lifts it at the same moment');
    assert.ok(b.action.kernel.has('203.0.113.10'));
    assert.ok(b.lines.some((l) => /Ban 203\.0\.113\.10 \[asterisk\] from fleet node node-a/.test(l)));
    // Not echoed back: a's stream holds one entry for it.
    const r = new Redis(redis.url);
    const entries = await r.xrange('test:events', '-', '+');
    await r.quit();
    assert.equal(entries.filter(([, f]) => f.includes('203.0.113.10')).length, 1);
  });

  it("a node's own ignore list wins over a remote ban", async () => {
    await a.manager.request(req('198.51.100.7'));
    await waitFor(() => banned(c, '198.51.100.7'), 5_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!banned(b, '198.51.100.7'));
    assert.ok(b.lines.some((l) => /not banning 198\.51\.100\.7 \[asterisk\] from node node-a: ignored here/.test(l)));
  });

  it('an unban propagates; a ban received twice changes nothing', async () => {
    await a.manager.unban({ ip: '203.0.113.10' });
    await waitFor(() => !banned(b, '203.0.113.10') && !banned(c, '203.0.113.10'), 5_000);
    assert.ok(!b.action.kernel.has('203.0.113.10'));
    const before = c.action.bansOf('ban').length;
    const again = { op: 'ban' as const, jail: JAIL, ip: '203.0.113.11', end: Date.now() + 3_600_000, reason: 'x', count: 1, node: 'node-a', at: Date.now() };
    const r = new Redis(redis.url);
    const { encodeEntry } = await import('../../src/fleet/entry.js');
    await r.xadd('test:events', '*', ...encodeEntry(again));
    await r.xadd('test:events', '*', ...encodeEntry(again));
    await r.quit();
    await waitFor(() => banned(c, '203.0.113.11'), 5_000);
    await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(c.action.bansOf('ban').slice(before).flatMap((x) => x.ips), ['203.0.113.11']);
  });

  it('a later end from another node holds the ban longer, in the firewall too; an earlier one changes nothing', async () => {
    const ban = await a.manager.request(req('203.0.113.12'));
    await waitFor(() => banned(c, '203.0.113.12'), 5_000);
    const r = new Redis(redis.url);
    const { encodeEntry } = await import('../../src/fleet/entry.js');
    const entry = (end: number | null) => encodeEntry({ op: 'ban', jail: JAIL, ip: '203.0.113.12', end, reason: 'x', count: 2, node: 'node-z', at: Date.now() });
    await r.xadd('test:events', '*', ...entry(ban!.end! - 600_000));
    await r.xadd('test:events', '*', ...entry(ban!.end! + 3_600_000));
    await r.quit();
    const end = () => c.manager.active(JAIL).find((x) => x.ip === '203.0.113.12')?.end;
    await waitFor(() => end() === ban!.end! + 3_600_000, 5_000, () => String(end()));
    assert.equal(c.action.bansOf('ban').filter((x) => x.ips.includes('203.0.113.12')).length, 2, 'applied again: a kernel timeout is renewed');
    assert.ok(c.lines.some((l) => /Ban 203\.0\.113\.12 \[asterisk\] extended by fleet node node-z: until /.test(l)));
    await waitFor(() => c.store.loadBans({ jail: JAIL }).find((x) => x.ip === '203.0.113.12')?.end === ban!.end! + 3_600_000, 5_000);
    assert.equal(c.store.previousBans('203.0.113.12', JAIL, 0), 1, 'an extension is not a second ban for bantime.increment');
  });

  it('malformed entries, prefixes, ranges and bad fields are logged and skipped, never applied', async () => {
    const r = new Redis(redis.url);
    const base = ['v', '1', 'op', 'ban', 'jail', JAIL, 'end', String(Date.now() + 600_000), 'reason', 'x', 'count', '1', 'node', 'evil', 'at', String(Date.now())];
    await r.xadd('test:events', '*', ...base, 'ip', '10.0.0.0/8');
    await r.xadd('test:events', '*', ...base, 'ip', '10.0.0.1-10.0.0.9');
    await r.xadd('test:events', '*', ...base, 'ip', 'not-an-address');
    await r.xadd('test:events', '*', 'v', '1', 'op', 'ban', 'ip', '192.0.2.66');
    await r.xadd('test:events', '*', 'garbage', '\u0000\r\n');
    await r.xadd('test:events', '*', ...base.map((x) => (x === 'evil' ? 'bad node\r\nname' : x)), 'ip', '192.0.2.67');
    await r.xadd('test:events', '*', ...base, 'ip', '192.0.2.68');
    await r.quit();
    await waitFor(() => banned(b, '192.0.2.68'), 5_000);
    for (const ip of ['10.0.0.0', '10.0.0.1', '192.0.2.66', '192.0.2.67']) assert.ok(!banned(b, ip), ip);
    assert.ok(b.manager.active(JAIL).every((x) => !x.ip.includes('/')));
    assert.ok(b.lines.some((l) => /fleet: skipped stream entry .*10\.0\.0\.0\/8.* from node evil is not a single address/.test(l)), b.lines.filter((l) => /skipped/.test(l)).join('\n'));
  });

  it('a node over its per-minute cap: the rest is skipped and said', async () => {
    const d = await startNode(redis.url, 'node-d', { fleet: { remoteBansPerMinute: 10 } });
    await waitFor(() => connected(d), 5_000);
    const r = new Redis(redis.url);
    const { encodeEntry } = await import('../../src/fleet/entry.js');
    for (let i = 0; i < 40; i++) await r.xadd('test:events', '*', ...encodeEntry({ op: 'ban', jail: JAIL, ip: `100.70.0.${i + 1}`, end: Date.now() + 600_000, reason: 'x', count: 1, node: 'flooder', at: Date.now() }));
    await r.quit();
    await waitFor(() => banned(b, '100.70.0.40'), 5_000);
    await new Promise((res) => setTimeout(res, 300));
    const got = d.manager.active(JAIL).filter((x) => x.ip.startsWith('100.70.0.')).length;
    assert.ok(got <= 10, `${got} applied`);
    assert.ok(d.lines.some((l) => /node flooder sent more bans than 10 a minute/.test(l)));
    await stopNode(d);
  });

  it('a second node under a live node\'s name refuses to join and says so', async () => {
    const clone = await startNode(redis.url, 'node-a');
    await waitFor(async () => (await clone.fleet.status()).state === 'refused', 5_000);
    assert.ok(clone.lines.some((l) => /another live node already runs as \\"node-a\\"/.test(l)));
    await stopNode(clone);
    assert.ok(await connected(a), 'the first one stays');
  });

  it('Redis SIGKILLed: bans go on locally into the outbox; after restart the outbox replays and every node holds every ban', async () => {
    await redis.kill('SIGKILL');
    await waitFor(async () => !(await connected(a)), 5_000);
    const local = await a.manager.request(req('203.0.113.20'));
    assert.ok(local && a.action.kernel.has('203.0.113.20'), 'the local ban does not wait for Redis');
    assert.equal((await a.fleet.status()).outbox, 1);
    assert.match((await a.fleet.status()).disconnectedSince ?? '', /^\d{4}-/);
    await redis.run();
    await waitFor(async () => banned(b, '203.0.113.20') && banned(c, '203.0.113.20'), 15_000);
    assert.equal((await a.fleet.status()).outbox, 0);
    for (const ip of ['198.51.100.7', '203.0.113.11', '192.0.2.68']) assert.ok(banned(c, ip), `${ip} still there`);
  });

  it('bans made while a node rejoins are neither left in the outbox nor sent ahead of it', async () => {
    await redis.kill('SIGKILL');
    await waitFor(async () => !(await connected(a)), 5_000);
    const made: string[] = [];
    let stop = false;
    const maker = (async () => {
      for (let i = 0; !stop; i++) {
        made.push(`100.66.${i >> 8}.${i & 255}`);
        void a.manager.request(req(made.at(-1)!));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await redis.run();
    await waitFor(() => connected(a), 15_000);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await maker;
    await waitFor(() => made.every((ip) => banned(b, ip)), 10_000, () => `missing on b: ${made.filter((ip) => !banned(b, ip)).join(' ')}`);
    assert.equal((await a.fleet.status()).outbox, 0);
  });

  it('a node started while Redis is down bans locally, then joins and publishes once Redis is up', async () => {
    await redis.kill('SIGKILL');
    const late = await startNode(redis.url, 'node-late');
    const ban = await late.manager.request(req('203.0.113.30'));
    assert.ok(ban && late.action.kernel.has('203.0.113.30'));
    assert.equal((await late.fleet.status()).state, 'connecting');
    await redis.run();
    await waitFor(async () => (await connected(late)) && banned(b, '203.0.113.30'), 20_000);
    await stopNode(late);
  });

  it('a node offline while the stream was trimmed resyncs fully from the bans in force', async () => {
    const store = c.store;
    await c.fleet.stop();
    // Enough entries that MAXLEN ~ 1000 trims past c's cursor.
    const small = await startNode(redis.url, 'node-e', { fleet: { streamMaxlen: 1000 } });
    await waitFor(() => connected(small), 5_000);
    for (let i = 0; i < 30; i++) await Promise.all(Array.from({ length: 100 }, (_, k) => small.manager.request(req(`100.80.${i}.${k + 1}`))));
    const r = new Redis(redis.url);
    const first = (await r.xrange('test:events', '-', '+', 'COUNT', 1))[0]![0];
    await r.quit();
    assert.ok(BigInt(first.split('-')[0]!) > 0n);
    const cursor = store.fleet.get('cursor')!;
    assert.ok(cursor < first || cursor.length < first.length, `cursor ${cursor} trimmed away (first ${first})`);
    const back = await startNode(redis.url, 'node-c2', { store });
    await waitFor(() => back.lines.some((l) => /full resync: \d+ ban\(s\) from other nodes applied/.test(l)), 15_000);
    for (let i = 0; i < 30; i++) for (let k = 1; k <= 100; k++) assert.ok(banned(back, `100.80.${i}.${k}`), `100.80.${i}.${k}`);
    await stopNode(back);
    await stopNode(small);
  });
});

describe('deploy/fleet/users.acl: each node as its own restricted Redis user', { skip: noRedis() }, () => {
  it('bans and shared counts travel between two ACL users, who can touch nothing outside the fleet\'s keys', async () => {
    const { copyFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { repoRoot } = await import('../helpers/paths.js');
    const dir = mkdtempSync(join(tmpdir(), 'asb-acl-'));
    copyFileSync(join(repoRoot, 'deploy', 'fleet', 'users.acl'), join(dir, 'users.acl'));
    const redis = await TestRedis.start(['--aclfile', join(dir, 'users.acl')]);
    const started: Node[] = [];
    try {
      const url = (user: string) => `redis://${user}:change-me-${user}@127.0.0.1:${redis.port}`;
      const one = await startNode(url('pbx-1'), 'pbx-1', { fleet: { prefix: 'ab:' }, mode: 'counts' });
      started.push(one);
      const two = await startNode(url('pbx-2'), 'pbx-2', { fleet: { prefix: 'ab:' }, mode: 'counts' });
      started.push(two);
      await waitFor(async () => (await connected(one)) && (await connected(two)), 10_000);
      await one.manager.request(req('203.0.113.40'));
      await waitFor(() => banned(two, '203.0.113.40'), 5_000);
      assert.deepEqual((await one.fleet.status()).nodes.map((n) => n.node), ['pbx-1', 'pbx-2'], 'the node list, by SCAN');
      const f = { jail: JAIL, ip: '203.0.113.41', findtimeMs: 60_000, maxretry: 5, bantimeMs: 600_000, reason: 'InvalidPassword' };
      for (const n of [one, one, one, two, two]) n.fleet.count(f);
      await waitFor(() => banned(one, '203.0.113.41') && banned(two, '203.0.113.41'), 5_000);
      assert.ok(![...one.lines, ...two.lines].some((l) => /NOPERM|counted here only/.test(l)), [...one.lines, ...two.lines].filter((l) => /NOPERM|counted here only/.test(l)).join('\n'));
      assert.ok(![...one.lines, ...two.lines].some((l) => l.includes('change-me')), 'no password in the log');
      const r = new Redis(url('pbx-1'));
      await assert.rejects(r.set('other', 'x'), /NOPERM/);
      await assert.rejects(r.flushall(), /NOPERM/);
      await r.quit();
    } finally {
      // Also after a failed assertion: a node left running reconnects forever and keeps the test process alive.
      for (const n of started) await stopNode(n).catch(() => {});
      await redis.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
