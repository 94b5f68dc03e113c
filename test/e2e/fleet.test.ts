// Fleet mode as admins run it: two `asterisk-ban run` daemons, each with its
// own log and state, sharing bans through a real redis-server on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonHarness, sipWrongPassword, waitFor } from '../helpers/daemon.js';
import { noRedis, TestRedis } from '../helpers/redis-server.js';
import { freePort, scrape } from '../helpers/metrics.js';

let redis: TestRedis;
const nodes: DaemonHarness[] = [];
let metricsPort = 0;

const jail = (h: DaemonHarness) => `[asterisk]
enabled = true
backend = log
filter = asterisk
logpath = ${h.log}
action = dry-run
maxretry = 3
findtime = 10m
bantime = 1h
verify = off
fleet = bans
`;

interface BanLine { ip: string; node?: string }
async function bans(h: DaemonHarness): Promise<BanLine[]> {
  const r = await h.cli('list', '--json');
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as BanLine);
}

before(async () => {
  if (noRedis()) return;
  redis = await TestRedis.start();
  metricsPort = await freePort();
  for (const name of ['pbx-a', 'pbx-b']) {
    const h = new DaemonHarness(jail, `${name === 'pbx-b' ? `metrics = 127.0.0.1:${metricsPort}\n` : ''}\n[Fleet]\nredis = ${redis.url}\nnode = ${name}\nprefix = e2e:\n`);
    await h.start();
    nodes.push(h);
  }
  await waitFor(async () => {
    const r = await nodes[1]!.cli('fleet', 'status', '--json');
    return r.code === 0 && (JSON.parse(r.stdout) as { nodes: unknown[] }).nodes.length === 2;
  }, 15_000, () => nodes.map((n) => n.output).join('\n'));
});

after(async () => {
  for (const h of nodes) await h.cleanup();
  await redis?.close();
});

test('a ban made from one PBX\'s log is in force on the other, with its origin', { skip: noRedis() }, async () => {
  const [a, b] = nodes as [DaemonHarness, DaemonHarness];
  a.append(Array.from({ length: 3 }, () => sipWrongPassword('203.0.113.70')));
  await waitFor(async () => (await bans(b)).some((x) => x.ip === '203.0.113.70' && x.node === 'pbx-a'), 10_000, () => b.output);
  assert.ok((await bans(a)).some((x) => x.ip === '203.0.113.70' && x.node === undefined));
  const status = JSON.parse((await b.cli('fleet', 'status', '--json')).stdout) as { state: string; remoteApplied: number };
  assert.equal(status.state, 'connected');
  assert.ok(status.remoteApplied >= 1);
  const list = await b.cli('list');
  assert.match(list.stdout, /203\.0\.113\.70 .*\(from node pbx-a\)/);
  assert.match((await b.cli('status')).stdout, /^ {2}fleet: +bans; connected since .*; bans here from other nodes: pbx-a 1$/m);
  assert.match(await scrape(metricsPort), /asterisk_ban_fleet_remote_total\{op="ban",outcome="applied",node="pbx-a"\} 1/);
});

test('Redis down: the local ban goes on and waits; after Redis is back the other PBX has it', { skip: noRedis() }, async () => {
  const [a, b] = nodes as [DaemonHarness, DaemonHarness];
  await redis.kill('SIGKILL');
  await waitFor(async () => (JSON.parse((await a.cli('fleet', 'status', '--json')).stdout) as { state: string }).state !== 'connected', 10_000);
  const r = await a.cli('ban', 'asterisk', '198.51.100.71');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse((await a.cli('fleet', 'status', '--json')).stdout) as { outbox: number }).outbox, 1);
  assert.match((await a.cli('status')).stdout, /^ {2}fleet: +bans; DISCONNECTED since [0-9-]+ [0-9:]+: banning locally/m);
  await redis.run();
  await waitFor(async () => (await bans(b)).some((x) => x.ip === '198.51.100.71'), 20_000, () => a.output);
  assert.ok((await bans(b)).some((x) => x.ip === '203.0.113.70'), 'earlier bans kept');
});

test('unban --node lifts, on one PBX, every ban that came from the other', { skip: noRedis() }, async () => {
  const [, b] = nodes as [DaemonHarness, DaemonHarness];
  const r = await b.cli('unban', '--node', 'pbx-a');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Unbanned 203\.0\.113\.70 from asterisk/);
  assert.ok(!(await bans(b)).some((x) => x.node === 'pbx-a'));
});

test('a reload that turns fleet mode on joins the fleet at once and takes the bans in force', { skip: noRedis() }, async () => {
  const off = (h: DaemonHarness) => jail(h).replace('fleet = bans', 'fleet = off');
  const c = new DaemonHarness(off, `\n[Fleet]\nredis = ${redis.url}\nnode = pbx-c\nprefix = e2e:\n`);
  nodes.push(c);
  await c.start();
  assert.match(c.output, /no jail has fleet = bans or counts: Redis is not contacted/);
  c.writeJails(jail(c));
  const r = await c.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(async () => (JSON.parse((await c.cli('fleet', 'status', '--json')).stdout) as { state: string }).state === 'connected', 10_000, () => c.output);
  await waitFor(async () => (await bans(c)).some((x) => x.ip === '198.51.100.71' && x.node === 'pbx-a'), 10_000, () => c.output);
});

test('a reload that changes [Fleet] joins again with the new settings; one that turns fleet mode off leaves', { skip: noRedis() }, async () => {
  const [a, , c] = nodes as [DaemonHarness, DaemonHarness, DaemonHarness];
  writeFileSync(join(c.config, 'asterisk-ban.local'), '[Fleet]\nnode = pbx-c2\n');
  let r = await c.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  const fleet = async () => JSON.parse((await c.cli('fleet', 'status', '--json')).stdout) as { node: string; state: string };
  await waitFor(async () => { const f = await fleet(); return f.node === 'pbx-c2' && f.state === 'connected'; }, 10_000, () => c.output);
  assert.equal((await a.cli('ban', 'asterisk', '198.51.100.72')).code, 0);
  await waitFor(async () => (await bans(c)).some((x) => x.ip === '198.51.100.72' && x.node === 'pbx-a'), 10_000, () => c.output);
  c.writeJails(jail(c).replace('fleet = bans', 'fleet = off'));
  r = await c.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  r = await c.cli('fleet', 'status');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /fleet mode is off/);
  assert.match(c.output, /fleet mode off after the reload: Redis is no longer contacted/);
});
