// A source with a /64 that uses a new address for every guess is banned as
// its /64 (ipv6_prefix default), in a real kernel: every address of the
// prefix is dropped, the /64 beside it is not. A /64 holding an ignored
// address is never banned whole: the crossing address alone is, and the log
// says why. ban/unban/list speak prefixes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonHarness, stamp, waitFor } from '../helpers/daemon.js';
import { ADDR, PREFIX6, TestNet, haveTool, isRoot } from '../helpers/netns.js';

const skip = !isRoot() ? 'needs root (network namespaces, nftables)' : !haveTool('nft') || !haveTool('conntrack') ? 'needs nftables and conntrack installed' : false;
/** Inside the /64 of ADDR.out6: keeps that prefix from being banned whole. */
const IGNORED = '2001:db8:52:2::99';

let net: TestNet;
let h: DaemonHarness;

function wrongPassword(ip: string): string {
  return `${stamp()} NOTICE[2211] chan_sip.c: Registration from '<sip:100@192.0.2.1:5060>' failed for '[${ip}]:5060' - Wrong password`;
}

function verifiedLog(x: DaemonHarness): string {
  return join(x.dir, 'messages-verified');
}

async function banned(jail = 'asterisk'): Promise<string[]> {
  const r = await h.cli('list', '--json');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ip: string; jail: string }).filter((b) => b.jail === jail).map((b) => b.ip).sort();
}

async function kernel(): Promise<string> {
  return (await net.pbxRun('nft', ['list', 'table', 'inet', 'asban-asterisk'])).stdout;
}

before(async () => {
  if (skip) return;
  net = await TestNet.create();
  h = new DaemonHarness((x) =>
    `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\nmaxretry = 3\nignoreip = ${IGNORED}\naction = nftables-allports[name=asterisk]\nverify = off\n\n` +
    `[verified]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${verifiedLog(x)}\nmaxretry = 3\naction = nftables-allports[name=verified]\nverify = conntrack\n`);
  writeFileSync(verifiedLog(h), '');
  await h.start({}, ['ip', 'netns', 'exec', net.pbx]);
});

after(async () => {
  if (skip) return;
  await h?.cleanup();
  await net?.destroy();
});

test('a /64 rotating its source address is banned as the /64: every address in it dropped, the /64 beside it not', { skip }, async () => {
  // Three guesses, three addresses, none of them the ones probed below.
  h.append(['2001:db8:52:1::1', '2001:db8:52:1:1::2', '2001:db8:52:1:2::3'].map(wrongPassword));
  await waitFor(async () => (await banned()).includes(PREFIX6), 10_000, () => h.output);
  assert.deepEqual(await banned(), [PREFIX6]);
  assert.match(h.output, /Ban 2001:db8:52:1::\/64 \[asterisk\] 3 failures/);
  for (const a of [ADDR.in6a, ADDR.in6b]) assert.deepEqual(await net.reachable(a), { udp: false, tcp: false }, a);
  for (const a of [ADDR.out6, ADDR.att6, ADDR.att4]) assert.deepEqual(await net.reachable(a), { udp: true, tcp: true }, a);
  assert.match(await kernel(), /2001:db8:52:1::\/64/);
  const status = await h.cli('status', 'asterisk');
  assert.match(status.stdout, /2001:db8:52:1::\/64/);
  const which = await h.cli('banned', ADDR.in6a, ADDR.out6);
  assert.equal(which.stdout, `${ADDR.in6a}: asterisk (${PREFIX6})\n${ADDR.out6}: not banned\n`);
});

test('a /64 holding an ignored address: only the crossing address is banned, and the log says why', { skip }, async () => {
  h.append(['2001:db8:52:2::1', '2001:db8:52:2::2', IGNORED, '2001:db8:52:2::3'].map(wrongPassword));
  await waitFor(async () => (await banned()).includes('2001:db8:52:2::3'), 10_000, () => h.output);
  assert.deepEqual(await banned(), [PREFIX6, '2001:db8:52:2::3'].sort());
  assert.match(h.output, /banning 2001:db8:52:2::3 alone, not 2001:db8:52:2::\/64: the prefix holds an ignored address \(2001:db8:52:2::99\)/);
  assert.deepEqual(await net.reachable(ADDR.out6), { udp: true, tcp: true }, 'the rest of that /64 still passes');
  assert.doesNotMatch(await kernel(), /2001:db8:52:2::\/64/);
});

test('ban and unban take a prefix; an address inside a banned prefix names it', { skip }, async () => {
  const inside = await h.cli('unban', ADDR.in6a);
  assert.notEqual(inside.code, 0);
  assert.match(inside.stderr, /inside 2001:db8:52:1::\/64/);
  const lifted = await h.cli('unban', '2001:db8:52:1:ffff::/64');
  assert.equal(lifted.code, 0, lifted.stderr);
  assert.deepEqual(await net.reachable(ADDR.in6a), { udp: true, tcp: true });
  const again = await h.cli('ban', 'asterisk', '2001:db8:52:1::/64');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await net.reachable(ADDR.in6b), { udp: false, tcp: false });
  const covered = await h.cli('ban', 'asterisk', ADDR.in6a);
  assert.equal(covered.code, 0, covered.stderr);
  assert.match(covered.stdout, /2001:db8:52:1::\/64 is already banned/);
  const overIgnored = await h.cli('ban', 'asterisk', '2001:db8:52:2::/64');
  assert.notEqual(overIgnored.code, 0);
  assert.match(overIgnored.stderr, /overlaps the ignore list.*2001:db8:52:2::99/);
});

test('with verification, a prefix is banned when the address that crossed maxretry sent packets; rotating forged addresses ban nothing', { skip }, async () => {
  const all = await h.cli('unban', '--all');
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(await net.reachable(ADDR.in6b), { udp: true, tcp: true }, 'real packets first: conntrack sees ADDR.in6b');
  const lines = ['2001:db8:52:1::1', '2001:db8:52:1::2', ADDR.in6b, '2001:db8:52:3::1', '2001:db8:52:3::2', '2001:db8:52:3::3'].map(wrongPassword);
  writeFileSync(verifiedLog(h), lines.map((l) => `${l}\n`).join(''), { flag: 'a' });
  await waitFor(async () => (await banned('verified')).includes(PREFIX6) && /REFUSED ban of 2001:db8:52:3::\/64/.test(h.output), 10_000, () => h.output);
  assert.deepEqual(await banned('verified'), [PREFIX6]);
  assert.match(h.output, /REFUSED ban of 2001:db8:52:3::\/64: 2001:db8:52:3::3 never sent packets to this host/);
  assert.deepEqual(await net.reachable(ADDR.in6a), { udp: false, tcp: false });
});
