import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { addressBytes } from '../../src/actions/nft-netlink.js';
import { ADDR, TestNet, haveTool, isRoot } from '../helpers/netns.js';
import { repoRoot } from '../helpers/paths.js';

describe('addresses as nf_tables keys', () => {
  it('are 4 or 16 bytes in network order, and anything else is refused', () => {
    assert.equal(addressBytes('192.0.2.10')!.toString('hex'), 'c000020a');
    assert.equal(addressBytes('2001:db8::5')!.toString('hex'), '20010db8000000000000000000000005');
    assert.equal(addressBytes('::ffff:192.0.2.10')!.toString('hex'), 'c000020a', 'a mapped address is its IPv4 address');
    for (const bad of ['', '192.0.2', '2001:db8::1::2', 'fe80::1%eth0', 'x'.repeat(80), '2001:db8::/64']) assert.equal(addressBytes(bad), null, bad);
  });
});

const skip = !isRoot() ? 'needs root: creates network namespaces' : !haveTool('nft') ? 'needs nft' : false;

/** The action, run by a process inside the namespace: its netlink socket is that namespace's. */
class Inside {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly answers: AsyncIterator<string>;
  constructor(ns: string) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(repoRoot, 'test', 'helpers', 'action-in-netns.ts')], { cwd: repoRoot });
    this.child.stderr.resume();
    this.answers = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }
  async send(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    const next = await this.answers.next();
    assert.ok(!next.done, 'the action process ended');
    return JSON.parse(next.value) as Record<string, unknown>;
  }
  async end(): Promise<void> {
    this.child.stdin.end();
    await new Promise((r) => this.child.once('close', r));
  }
}

describe('the nftables action over netlink, in a namespace of its own', { skip }, () => {
  let net: TestNet;
  let inside: Inside;
  const set = (name: string): string => execFileSync('ip', ['netns', 'exec', net.pbx, 'nft', 'list', 'set', 'inet', 'asban-NL', name], { encoding: 'utf8' });
  before(async () => {
    net = await TestNet.create();
    inside = new Inside(net.pbx);
  });
  after(async () => {
    await inside?.end();
    await net?.destroy();
  });

  it('bans and unbans without nft: packets from the banned dropped, others let through, timeouts as asked', async () => {
    assert.deepEqual(await inside.send({ op: 'start' }), { ok: true });
    const before = (await inside.send({ op: 'metrics' })).paths as Record<string, number>;
    assert.deepEqual(await inside.send({ op: 'ban', addrs: [ADDR.att4, ADDR.att6] }), { ok: true });
    for (const a of [ADDR.att4, ADDR.att6]) assert.deepEqual(await net.reachable(a), { udp: false, tcp: false }, a);
    assert.deepEqual(await net.reachable(ADDR.other4), { udp: true, tcp: true });
    assert.match(set('addr-v4'), new RegExp(`${ADDR.att4.replace(/\./g, '\\.')} timeout 10m`));
    assert.match(set('addr-v6'), /timeout 10m/);
    const after = (await inside.send({ op: 'metrics' })).paths as Record<string, number>;
    assert.equal((after.netlink ?? 0) - (before.netlink ?? 0), 1, 'one netlink batch');
    assert.equal(after.session ?? 0, before.session ?? 0, 'nft -i not used for the ban');
    assert.equal(after.process ?? 0, before.process ?? 0, 'no nft process for the ban');

    // A longer ban replaces the element's timeout; a permanent one has none.
    await inside.send({ op: 'ban', addrs: [ADDR.att4], seconds: 7200 });
    assert.match(set('addr-v4'), /timeout 2h/);
    await inside.send({ op: 'ban', addrs: [ADDR.att4], seconds: null });
    assert.match(set('addr-v4'), new RegExp(`elements = \\{ ${ADDR.att4.replace(/\./g, '\\.')} \\}`));

    assert.deepEqual(await inside.send({ op: 'unban', addrs: [ADDR.att4] }), { ok: true });
    assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
    assert.doesNotMatch(set('addr-v4'), new RegExp(ADDR.att4.replace(/\./g, '\\.')));
    assert.deepEqual(await net.reachable(ADDR.att6), { udp: false, tcp: false }, 'the other ban stays');
  });

  it('a change the kernel refuses (our table deleted behind our back) is tried with nft, which says why', async () => {
    execFileSync('ip', ['netns', 'exec', net.pbx, 'nft', 'delete', 'table', 'inet', 'asban-NL']);
    const before = (await inside.send({ op: 'metrics' })).paths as Record<string, number>;
    const r = await inside.send({ op: 'ban', addrs: [ADDR.att4] });
    assert.equal(r.ok, false);
    assert.match(String(r.error), /No such file or directory/);
    const after = (await inside.send({ op: 'metrics' })).paths as Record<string, number>;
    assert.equal(after.netlink ?? 0, before.netlink ?? 0, 'the refused batch is not counted as made over netlink');
    // start() puts the table back, and netlink carries the next ban.
    await inside.send({ op: 'start' });
    assert.deepEqual(await inside.send({ op: 'ban', addrs: [ADDR.att4] }), { ok: true });
    assert.deepEqual(await net.reachable(ADDR.att4), { udp: false, tcp: false });
    assert.equal(((await inside.send({ op: 'metrics' })).paths as Record<string, number>).netlink, (after.netlink ?? 0) + 1);
    await inside.send({ op: 'stop' });
  });
});
