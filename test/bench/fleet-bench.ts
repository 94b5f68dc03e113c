/**
 * Fleet mode: from a ban's commit on one node to its commit on another,
 * through a real redis-server on loopback (started and stopped here).
 * Three nodes in this process, each with its own ban manager and state;
 * one ban at a time, then a burst of 5,000.
 *
 *   npm run bench -- fleet [bans=300]
 */
import { BanManager } from '../../src/bans/manager.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { DEFAULT_INCREMENT } from '../../src/settings/defaults.js';
import { Store } from '../../src/store/store.js';
import { FakeAction } from '../bans/fakes.js';
import { noRedis, TestRedis } from '../helpers/redis-server.js';
import { loadavg } from 'node:os';

const N = Number(process.argv[2] ?? 300);
const why = noRedis();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const redis = await TestRedis.start();
const logger = silentLogger();
const applied = new Map<string, Map<string, number>>();

async function node(name: string) {
  const store = Store.open(':memory:');
  let fleet: Fleet | null = null;
  const seen = new Map<string, number>();
  applied.set(name, seen);
  const manager = new BanManager({
    store, clock: systemClock, logger,
    onChange: (op, bans, from) => {
      if (from !== null) for (const b of bans) seen.set(b.ip, performance.now());
      fleet?.publish(op, bans, from);
    },
  });
  await manager.setJail('asterisk', { bantime: 3600, increment: DEFAULT_INCREMENT, actions: [new FakeAction()], ignore: await IgnoreList.resolve([], { logger }) });
  await manager.start();
  fleet = new Fleet({
    settings: { redis: redis.url, password: null, sentinels: [], sentinelName: 'm', node: name, prefix: 'bench:', tls: null, remoteBansPerMinute: 1_000_000, remoteUnbansPerMinute: 1000, streamMaxlen: 100_000, where: { file: 'bench', line: 0 } },
    modes: () => new Map([['asterisk', 'bans' as const]]), manager, state: store.fleet, clock: systemClock, logger,
  });
  await fleet.start();
  return { name, manager, fleet };
}

const nodes = [await node('n1'), await node('n2'), await node('n3')];
for (let i = 0; i < 200 && !(await Promise.all(nodes.map(async (n) => (await n.fleet.status()).state === 'connected'))).every(Boolean); i++) await new Promise((r) => setTimeout(r, 50));
const req = (ip: string) => ({ jail: 'asterisk', ip, family: 4 as const, time: Date.now(), source: 'ami' as const, reason: 'bench', failures: [] });
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

const single: number[] = [];
for (let i = 0; i < N; i++) {
  const ip = `10.90.${i >> 8}.${i & 255}`;
  const t0 = performance.now();
  await nodes[0]!.manager.request(req(ip));
  // Polled with a 1 ms timer: a setImmediate spin would keep the event loop from the sockets.
  while (!(applied.get('n2')!.has(ip) && applied.get('n3')!.has(ip))) await new Promise((r) => setTimeout(r, 1));
  single.push(Math.max(applied.get('n2')!.get(ip)!, applied.get('n3')!.get(ip)!) - t0);
  await new Promise((r) => setTimeout(r, 5));
}
const BURST = 5_000;
const t0 = performance.now();
await Promise.all(Array.from({ length: BURST }, (_, i) => nodes[1]!.manager.request(req(`10.91.${i >> 8}.${i & 255}`))));
// n1's own bans of the first part are not remote there: it receives the burst only.
while (applied.get('n1')!.size < BURST || applied.get('n3')!.size < N + BURST) await new Promise((r) => setTimeout(r, 5));
const burstMs = performance.now() - t0;

console.log(`fleet-bench: 3 nodes in one process, redis-server 7 on loopback; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('| case | bans | p50 | p99 | max | target |');
console.log('|---|---|---|---|---|---|');
console.log(`| one ban: commit on n1 → committed on n2 and n3 | ${N} | ${pct(single, 50).toFixed(2)} ms | ${pct(single, 99).toFixed(2)} ms | ${Math.max(...single).toFixed(2)} ms | ≤ 50 ms |`);
console.log(`| burst: ${BURST} bans on n2 → all on n1 and n3 | ${BURST} | - | - | ${burstMs.toFixed(0)} ms | - |`);
for (const n of nodes) {
  await n.fleet.stop();
  await n.manager.close();
}
await redis.close();
