/**
 * Fleet mode against the issue's targets, through real redis-server (and
 * redis-sentinel) processes on loopback, started and stopped here. Nodes
 * run in this process (test/bench/fleet-nodes.ts); as root each node's
 * firewall is a real nftables table in a network namespace of its own,
 * otherwise a recording fake (said in the table).
 *
 *   npm run bench -- fleet [seconds=5] [hop|trip|fanout|counts|local|loss ...]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { encodeEntry } from '../../src/fleet/entry.js';
import { haveTool, isRoot } from '../helpers/netns.js';
import { noRedis, TestRedis, TestSentinel } from '../helpers/redis-server.js';
import { allConnected, benchNode, ipOf, JAIL, pct, request, sleep, until, type BenchNode } from './fleet-nodes.js';

const SECONDS = Number(process.argv[2] ?? 5);
/** Parts to run (all when none named): hop trip fanout counts local loss. */
const parts = process.argv.slice(3);
const want = (part: string) => parts.length === 0 || parts.includes(part);
const why = noRedis();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const kernel = isRoot() && haveTool('nft');
const spaces: string[] = [];
function netns(): string | undefined {
  if (!kernel) return undefined;
  const name = `asb-fleet-${process.pid}-${spaces.length}`;
  spawnSync('ip', ['netns', 'add', name]);
  spaces.push(name);
  return name;
}
process.on('exit', () => {
  for (const ns of spaces) spawnSync('ip', ['netns', 'del', ns]);
});

const rows: string[][] = [];
const ms = (x: number) => `${x.toFixed(2)} ms`;
const rate = (n: number, msTaken: number) => `${Math.round((n * 1000) / msTaken).toLocaleString('en-US')} /s`;
async function closeAll(nodes: BenchNode[]) {
  for (const n of nodes) await n.close();
}

const redis = await TestRedis.start();

// 1. The engine alone: XADD on one connection, XREAD BLOCK on another.
if (want('hop')) {
  const w = new Redis(redis.url);
  const r = new Redis(redis.url);
  const hops: number[] = [];
  // An explicit cursor: an XADD that reaches Redis before the XREAD is still read.
  let cursor = (await w.xadd('hop', '*', 'i', 'start'))!;
  for (let i = 0; i < 2000; i++) {
    const read = r.xread('BLOCK', 1000, 'STREAMS', 'hop', cursor);
    await sleep(0);
    const t0 = performance.now();
    await w.xadd('hop', '*', 'i', String(i));
    const res = await read;
    hops.push(performance.now() - t0);
    cursor = res![0]![1].at(-1)![0];
  }
  w.disconnect();
  r.disconnect();
  rows.push(['engine hop: XADD on one client → XREAD BLOCK returns on another', '2,000', `p50 ${ms(pct(hops, 50))}, p99 ${ms(pct(hops, 99))}`, 'p99 ≤ 5 ms', pct(hops, 99) <= 5 ? 'met' : 'not met']);
}

// 2. fleet = counts: the failure that trips the count on n1 → the ban in n2's and n3's firewalls.
if (want('trip')) {
  const nodes = [await benchNode('n1', { redis: redis.url, mode: 'counts', netns: netns(), prefix: 'trip:' }), await benchNode('n2', { redis: redis.url, mode: 'counts', netns: netns(), prefix: 'trip:' }), await benchNode('n3', { redis: redis.url, mode: 'counts', netns: netns(), prefix: 'trip:' })];
  await allConnected(nodes);
  const [n1, n2, n3] = nodes as [BenchNode, BenchNode, BenchNode];
  const f = (ip: string) => ({ jail: JAIL, ip, findtimeMs: 600_000, maxretry: 5, bantimeMs: 3_600_000, reason: 'InvalidPassword' });
  const lat: number[] = [];
  let missed = 0;
  for (let i = 0; i < 300; i++) {
    const ip = ipOf(1, i);
    for (const n of [n2, n2, n3, n3]) n.fleet!.count(f(ip));
    await sleep(5);
    const t0 = performance.now();
    n1.fleet!.count(f(ip));
    if (!(await until(() => n2.inFirewall.has(ip) && n3.inFirewall.has(ip), 2000))) {
      missed++;
      continue;
    }
    lat.push(Math.max(n2.inFirewall.get(ip)!, n3.inFirewall.get(ip)!) - t0);
    await sleep(3);
  }
  const where = kernel ? "n2's and n3's nft sets (nft -i in their namespaces)" : "n2's and n3's firewall (fake: not root)";
  rows.push([`trip on n1 (2+2 failures on n2, n3 first) → ban in ${where}`, `300${missed ? `, ${missed} missed` : ''}`, `p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}`, '≤ 20 ms / ≤ 50 ms', pct(lat, 50) <= 20 && pct(lat, 99) <= 50 && !missed ? 'met' : 'not met']);
  await closeAll(nodes);
}

// 3. Sustained fan-out: a publisher writes ban entries at a steady rate; three nodes apply them all.
if (want('fanout')) {
  const RATE = 6_000;
  const nodes = [await benchNode('f1', { redis: redis.url, prefix: 'fan:' }), await benchNode('f2', { redis: redis.url, prefix: 'fan:' }), await benchNode('f3', { redis: redis.url, prefix: 'fan:' })];
  await allConnected(nodes);
  const w = new Redis(redis.url);
  const total = RATE * SECONDS;
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE) + RATE / 100);
    const p = w.pipeline();
    for (; sent < due; sent++) p.xadd('fan:events', '*', ...encodeEntry({ op: 'ban', jail: JAIL, ip: ipOf(2 + (sent >> 16), sent & 0xffff), end: Date.now() + 3_600_000, reason: 'bench', count: 1, node: 'f0', at: Date.now() }));
    await p.exec();
    await sleep(10);
  }
  const publishMs = performance.now() - t0;
  await until(() => nodes.every((n) => n.inFirewall.size >= total), 30_000);
  const lastAt = Math.max(...nodes.flatMap((n) => [...n.inFirewall.values()]));
  const lost = Math.max(...nodes.map((n) => total - n.inFirewall.size));
  rows.push([`fan-out: ${RATE.toLocaleString('en-US')} bans/s published for ${SECONDS} s → applied on 3 nodes (one process)`, total.toLocaleString('en-US'), `${rate(total, lastAt - t0)} sustained (published in ${(publishMs / 1000).toFixed(1)} s), ${lost} lost`, '≥ 5,000 /s, none lost', (total * 1000) / (lastAt - t0) >= 5000 && lost === 0 ? 'met' : 'not met']);
  w.disconnect();
  await closeAll(nodes);
}

// 4. Shared counting: three nodes send failures from a million addresses at a steady rate.
if (want('counts')) {
  const RATE = 24_000;
  const nodes = [await benchNode('c1', { redis: redis.url, mode: 'counts', prefix: 'cnt:' }), await benchNode('c2', { redis: redis.url, mode: 'counts', prefix: 'cnt:' }), await benchNode('c3', { redis: redis.url, mode: 'counts', prefix: 'cnt:' })];
  await allConnected(nodes);
  const total = RATE * SECONDS;
  let seed = 7;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) % 1_000_000);
  const t0 = performance.now();
  let made = 0;
  while (made < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE) + RATE / 100);
    for (; made < due; made++) nodes[made % 3]!.fleet!.count({ jail: JAIL, ip: ipOf(100 + (rnd() >> 16), rnd()), findtimeMs: 600_000, maxretry: 5, bantimeMs: 3_600_000, reason: 'bench' });
    await sleep(10);
  }
  const counted = async () => (await Promise.all(nodes.map((n) => n.fleet!.status()))).reduce((a, s) => ({ sent: a.sent + s.counted.sent, dropped: a.dropped + s.counted.dropped }), { sent: 0, dropped: 0 });
  let c = await counted();
  while (c.sent + c.dropped < total && performance.now() - t0 < SECONDS * 1000 + 30_000) {
    await sleep(5);
    c = await counted();
  }
  const took = performance.now() - t0;
  rows.push([`shared counts: ${RATE.toLocaleString('en-US')} failures/s from 3 nodes for ${SECONDS} s, 1M addresses`, total.toLocaleString('en-US'), `${rate(c.sent, took)} counted, ${c.dropped} dropped`, '≥ 20,000 /s', (c.sent * 1000) / took >= 20_000 && c.dropped === 0 ? 'met' : 'not met']);
  await closeAll(nodes);
}

// 5. Time to ban locally, fleet off against fleet on with Redis down (state on disk, as the daemon keeps it).
if (want('local')) {
  const dir = mkdtempSync(join(tmpdir(), 'asb-fleet-bench-'));
  const down = await TestRedis.start();
  const off = await benchNode('off', { redis: null, netns: netns(), dbfile: join(dir, 'off.db') });
  const on = await benchNode('on', { redis: down.url, mode: 'bans', netns: netns(), dbfile: join(dir, 'on.db'), prefix: 'down:' });
  await allConnected([on]);
  await down.kill('SIGKILL');
  while ((await on.fleet!.status()).state === 'connected') await sleep(20);
  const times = { off: [] as number[], on: [] as number[] };
  for (let round = 0; round < 10; round++) {
    for (const [key, n] of [['off', off], ['on', on]] as const) {
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        await n.manager.request(request(ipOf(50, round * 100 + i)));
        times[key].push(performance.now() - t0);
      }
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ratio = mean(times.on) / mean(times.off);
  const outbox = (await on.fleet!.status()).outbox;
  rows.push([`local ban, request → ${kernel ? 'nft set' : 'fake firewall'}: fleet off vs fleet on with Redis SIGKILLed (outbox ${outbox})`, '1,000 each', `off: mean ${ms(mean(times.off))} p99 ${ms(pct(times.off, 99))}; down: mean ${ms(mean(times.on))} p99 ${ms(pct(times.on, 99))}; ${((ratio - 1) * 100).toFixed(1)} %`, 'within 10 %', ratio <= 1.1 ? 'met' : 'not met']);
  await closeAll([off, on]);
  await down.close();
  rmSync(dir, { recursive: true, force: true });
}

// 6. No ban lost: bans keep coming on every node while Redis is SIGKILLed and restarted, then while a Sentinel primary dies.
async function lossRun(label: string, where: string | { sentinels: number[] }, disrupt: () => Promise<void>): Promise<void> {
  const nodes = [await benchNode('l1', { redis: where, prefix: 'loss:' }), await benchNode('l2', { redis: where, prefix: 'loss:' }), await benchNode('l3', { redis: where, prefix: 'loss:' })];
  await allConnected(nodes);
  const made: string[] = [];
  let stop = false;
  const maker = (async () => {
    for (let i = 0; !stop; i++) {
      const ip = ipOf(60 + (i >> 16), i & 0xffff);
      made.push(ip);
      void nodes[i % 3]!.manager.request(request(ip));
      await sleep(3);
    }
  })();
  await sleep(1000);
  await disrupt();
  await sleep(1000);
  stop = true;
  await maker;
  const held = (n: BenchNode) => new Set(n.manager.active(JAIL).map((b) => b.ip));
  await until(() => nodes.every((n) => held(n).size >= made.length), 60_000);
  const lost = Math.max(...nodes.map((n) => made.filter((ip) => !held(n).has(ip)).length));
  if (process.env.DEBUG_LOSS) for (const n of nodes) console.log(n.name, made.filter((ip) => !held(n).has(ip)).map((ip) => `${ip}@l${(made.indexOf(ip) % 3) + 1}`).join(' '), JSON.stringify(await n.fleet!.status()));
  rows.push([`${label}: bans made on 3 nodes throughout, then every node holds every ban`, made.length.toLocaleString('en-US'), `${lost} lost`, '0', lost === 0 ? 'met' : 'not met']);
  await closeAll(nodes);
}
if (want('loss')) {
  const victim = await TestRedis.start();
  await lossRun('Redis SIGKILLed, restarted 1 s later', victim.url, async () => {
    await victim.kill('SIGKILL');
    await sleep(1000);
    await victim.run();
  });
  await victim.close();
}
if (want('loss') && !noRedis(true)) {
  const primary = await TestRedis.start();
  const replica = await TestRedis.start(['--replicaof', '127.0.0.1', String(primary.port)]);
  const sentinels = [await TestSentinel.start(primary.port), await TestSentinel.start(primary.port), await TestSentinel.start(primary.port)];
  await lossRun('Sentinel: primary SIGKILLed, replica promoted', { sentinels: sentinels.map((s) => s.port) }, async () => {
    await primary.kill('SIGKILL');
    const s = new Redis({ port: sentinels[0]!.port, host: '127.0.0.1' });
    const end = Date.now() + 30_000;
    while (Date.now() < end && Number((await s.call('SENTINEL', 'get-master-addr-by-name', 'mymaster') as string[])[1]) === primary.port) await sleep(100);
    s.disconnect();
  });
  for (const s of sentinels) await s.close();
  await replica.close();
  await primary.close();
}

await redis.close();
console.log(`fleet-bench: redis-server ${spawnSync('/usr/bin/redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1] ?? '?'} on loopback, nodes in one Node process; firewall: ${kernel ? 'nftables in a namespace per node' : 'fake (not root)'}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('| measure | samples | measured | target | |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
process.exit(0);
