// Three PBXes, three `asterisk-ban run` daemons sharing one real
// redis-server, each with its own nftables table in its own network
// namespace (the action's netns= parameter): what one node decides is
// enforced in the other nodes' kernels, and failures add up across nodes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DaemonHarness, sipWrongPassword, waitFor } from '../helpers/daemon.js';
import { ADDR, TestNet, haveTool, isRoot, sleep } from '../helpers/netns.js';
import { noRedis, TestRedis } from '../helpers/redis-server.js';

const skip = !isRoot() ? 'needs root (network namespaces, nftables)' : !haveTool('nft') ? 'needs nftables installed' : noRedis();
const TRUNK = '203.0.113.9';

let redis: TestRedis;
const nets: TestNet[] = [];
const nodes: DaemonHarness[] = [];

const jail = (net: TestNet, ignore: string) => (h: DaemonHarness) => `[asterisk]
enabled = true
backend = log
filter = asterisk
logpath = ${h.log}
action = nftables-allports[name=asterisk, netns=${net.pbx}]
maxretry = 5
findtime = 10m
bantime = 1h
verify = off
ignoreip = ${ignore}
fleet = counts
`;

async function listed(h: DaemonHarness): Promise<{ ip: string; node?: string }[]> {
  const r = await h.cli('list', '--json');
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ip: string; node?: string });
}

/** Whether `ip` (an attacker-side address of each node's own namespace pair) still gets through. */
async function passes(i: number, ip: string): Promise<boolean> {
  return (await nets[i]!.reachable(ip, undefined, 2)).udp;
}

before(async () => {
  if (skip) return;
  redis = await TestRedis.start();
  for (let i = 0; i < 3; i++) {
    const net = await TestNet.create();
    nets.push(net);
    const h = new DaemonHarness(jail(net, i === 1 ? `127.0.0.1/8 ${TRUNK}` : '127.0.0.1/8'), `\n[Fleet]\nredis = ${redis.url}\nnode = pbx-${i + 1}\nprefix = fw:\n`);
    await h.start();
    nodes.push(h);
  }
  await waitFor(async () => {
    const r = await nodes[2]!.cli('fleet', 'status', '--json');
    return r.code === 0 && (JSON.parse(r.stdout) as { nodes: unknown[] }).nodes.length === 3;
  }, 20_000, () => nodes.map((n) => n.output).join('\n'));
});

after(async () => {
  for (const h of nodes) await h.cleanup();
  for (const n of nets) await n.destroy();
  await redis?.close();
});

test('a ban on node 1 drops the attacker in the kernels of nodes 2 and 3; others pass', { skip }, async () => {
  const [n1] = nodes as [DaemonHarness];
  for (let i = 0; i < 3; i++) assert.ok(await passes(i, ADDR.att4), `before: reaches pbx-${i + 1}`);
  n1.append(Array.from({ length: 5 }, () => sipWrongPassword(ADDR.att4)));
  await waitFor(async () => !(await passes(1, ADDR.att4)) && !(await passes(2, ADDR.att4)), 10_000, () => nodes.map((n) => n.output).join('\n'));
  assert.equal(await passes(0, ADDR.att4), false, 'and on node 1 itself');
  for (let i = 0; i < 3; i++) assert.ok(await passes(i, ADDR.other4), `a bystander still reaches pbx-${i + 1}`);
  assert.ok((await listed(nodes[2]!)).some((b) => b.ip === ADDR.att4 && b.node === 'pbx-1'));
});

test('2 + 2 + 1 failures on three nodes drop the address on all three; 4 do not', { skip }, async () => {
  const [n1, n2, n3] = nodes as [DaemonHarness, DaemonHarness, DaemonHarness];
  n1.append([sipWrongPassword(ADDR.other4), sipWrongPassword(ADDR.other4)]);
  n2.append([sipWrongPassword(ADDR.other4), sipWrongPassword(ADDR.other4)]);
  await sleep(1_000);
  for (let i = 0; i < 3; i++) {
    assert.ok(await passes(i, ADDR.other4), `4 failures: still reaches pbx-${i + 1}`);
    assert.ok(!(await listed(nodes[i]!)).some((b) => b.ip === ADDR.other4));
  }
  n3.append([sipWrongPassword(ADDR.other4)]);
  await waitFor(async () => !(await passes(0, ADDR.other4)) && !(await passes(1, ADDR.other4)) && !(await passes(2, ADDR.other4)), 10_000, () => nodes.map((n) => n.output).join('\n'));
  const onN1 = (await listed(n1)).find((b) => b.ip === ADDR.other4);
  assert.equal(onN1?.node, 'pbx-3', 'the node whose failure tripped the count is the origin');
  const status = JSON.parse((await n3.cli('fleet', 'status', '--json')).stdout) as { counted: { sent: number; tripped: number } };
  assert.equal(status.counted.tripped, 1);
  assert.ok(status.counted.sent >= 1);
});

test("node 2's ignoreip keeps its trunk unbanned there when node 1 bans it", { skip }, async () => {
  const [n1, n2, n3] = nodes as [DaemonHarness, DaemonHarness, DaemonHarness];
  const r = await n1.cli('ban', 'asterisk', TRUNK);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(async () => (await listed(n3)).some((b) => b.ip === TRUNK), 10_000, () => n3.output);
  await waitFor(() => /not banning 203\.0\.113\.9 \[asterisk\] from node pbx-1: ignored here/.test(n2.output), 10_000, () => n2.output);
  assert.ok(!(await listed(n2)).some((b) => b.ip === TRUNK));
});
