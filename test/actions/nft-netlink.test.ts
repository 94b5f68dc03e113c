import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { addressBytes, NetlinkLost, NftNetlink, type RawSocket } from '../../src/actions/nft-netlink.js';
import { isAsteriskBanError } from '../../src/core/errors.js';
import { memoryLogger } from '../helpers/memory-logger.js';
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

/** A socket that records what is sent and answers as `reply` says (null: never). */
function fakeSocket(reply: (seqs: number[]) => Buffer | null, sent: Buffer[], opened: { n: number }): () => RawSocket {
  return () => {
    opened.n++;
    const ee = new EventEmitter();
    return {
      send(msg, _o, cb) {
        sent.push(msg);
        cb();
        const seqs: number[] = [];
        for (let at = 0; at + 16 <= msg.length; at += msg.readUInt32LE(at)) if (msg.readUInt16LE(at + 6) & 0x4) seqs.push(msg.readUInt32LE(at + 8));
        const answer = reply(seqs);
        if (answer) setImmediate(() => ee.emit('message', answer));
      },
      on(event: string, fn: (...a: unknown[]) => void) {
        ee.on(event, fn);
      },
      close() {},
      unref() {},
    } as RawSocket;
  };
}

/** NLMSG_ERROR answers, one per acknowledged message: errno 0 is an acknowledgement. */
function acks(seqs: number[], errno = (_i: number) => 0): Buffer {
  return Buffer.concat(seqs.map((seq, i) => {
    const b = Buffer.alloc(36);
    b.writeUInt32LE(36, 0);
    b.writeUInt16LE(2, 4);
    b.writeUInt32LE(seq, 8);
    b.writeInt32LE(-errno(i), 16);
    return b;
  }));
}

describe('the netlink path against a scripted socket', () => {
  it('sends one batch (begin, changes, end) with the table, set, key and timeout, and resolves on the acknowledgement', async () => {
    const sent: Buffer[] = [];
    const nl = new NftNetlink('asban-T', memoryLogger().logger, { socket: fakeSocket((s) => acks(s), sent, { n: 0 }) });
    await nl.apply([{ verb: 'add', set: 'addr-v4', address: '192.0.2.7', timeoutMs: 600_000 }, { verb: 'delete', set: 'addr-v6', address: '2001:db8::7' }]);
    assert.equal(sent.length, 1);
    const msg = sent[0]!;
    const types: number[] = [];
    for (let at = 0; at + 16 <= msg.length; at += msg.readUInt32LE(at)) types.push(msg.readUInt16LE(at + 4));
    assert.deepEqual(types, [0x10, 0x0a0c, 0x0a0e, 0x11]);
    const hex = msg.toString('hex');
    for (const part of ['asban-T\0', 'addr-v4\0', 'addr-v6\0']) assert.ok(hex.includes(Buffer.from(part, 'latin1').toString('hex')), part);
    assert.ok(hex.includes('c0000207'), 'the IPv4 key');
    assert.ok(hex.includes('20010db8000000000000000000000007'), 'the IPv6 key');
    assert.ok(hex.includes('00000000000927c0'), 'the timeout: 600,000 ms, big-endian');
    nl.close();
  });

  it('reports what the kernel refused, and carries on', async () => {
    const nl = new NftNetlink('asban-T', memoryLogger().logger, { socket: fakeSocket((s) => acks(s, () => 2), [], { n: 0 }) });
    await assert.rejects(nl.apply([{ verb: 'add', set: 'addr-v4', address: '192.0.2.7' }]), (e) => isAsteriskBanError(e, 'E_ACTION') && /ENOENT/.test(e.message));
    assert.equal(nl.usable, true, 'a refusal is an answer, not a lost socket');
    nl.close();
  });

  it('a batch refused as a whole (EPERM on its BEGIN, as without CAP_NET_ADMIN) fails at once, not after the timeout', async () => {
    const nl = new NftNetlink('asban-T', memoryLogger().logger, {
      socket: fakeSocket((s) => acks([s[0]! - 1], () => 1), [], { n: 0 }),
      answerMs: 60_000,
    });
    const t0 = Date.now();
    await assert.rejects(nl.apply([{ verb: 'add', set: 'addr-v4', address: '192.0.2.7' }]), (e) => isAsteriskBanError(e, 'E_ACTION') && /EPERM/.test(e.message));
    assert.ok(Date.now() - t0 < 1_000);
    nl.close();
  });

  it('a socket that never answers is lost after its timeout, opened again for the next batch, and given up after three in a row', async () => {
    const { logger, lines } = memoryLogger();
    const opened = { n: 0 };
    const nl = new NftNetlink('asban-T', logger, { socket: fakeSocket(() => null, [], opened), answerMs: 50 });
    for (let i = 0; i < 3; i++) await assert.rejects(nl.apply([{ verb: 'add', set: 'addr-v4', address: '192.0.2.7' }]), (e) => e instanceof NetlinkLost && /no answer within 50 ms/.test(e.message));
    assert.equal(opened.n, 3);
    assert.equal(nl.usable, false);
    await assert.rejects(nl.apply([{ verb: 'add', set: 'addr-v4', address: '192.0.2.7' }]), NetlinkLost);
    assert.equal(opened.n, 3, 'given up: no fourth socket');
    assert.match(lines.join(''), /netlink: no answer within 50 ms/);
  });

  it('a batch too big for one datagram goes elsewhere, without counting against the socket', async () => {
    const sent: Buffer[] = [];
    const nl = new NftNetlink('asban-T', memoryLogger().logger, { socket: fakeSocket((s) => acks(s), sent, { n: 0 }) });
    const many = Array.from({ length: 4000 }, (_x, i) => ({ verb: 'add' as const, set: 'addr-v6', address: `2001:db8::${i.toString(16)}`, timeoutMs: 600_000 }));
    for (let i = 0; i < 4; i++) await assert.rejects(nl.apply(many), (e) => e instanceof NetlinkLost && /more than one datagram/.test(e.message));
    assert.equal(sent.length, 0);
    assert.equal(nl.usable, true);
    await nl.apply(many.slice(0, 100));
    assert.equal(sent.length, 1);
    nl.close();
  });

  it('an address that does not parse never reaches the socket', async () => {
    const sent: Buffer[] = [];
    const nl = new NftNetlink('asban-T', memoryLogger().logger, { socket: fakeSocket((s) => acks(s), sent, { n: 0 }) });
    await assert.rejects(nl.apply([{ verb: 'add', set: 'addr-v4', address: '192.0.2.7; flush ruleset' }]), NetlinkLost);
    assert.equal(sent.length, 0);
    nl.close();
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

    // 4,000 IPv6 bans at once (160 KB): too big a datagram, so nft takes the batch, and netlink the next one.
    const many = Array.from({ length: 4000 }, (_x, i) => `2001:db8:77::${(i + 1).toString(16)}`);
    const n0 = (await inside.send({ op: 'metrics' })).paths as Record<string, number>;
    assert.deepEqual(await inside.send({ op: 'ban', addrs: many }), { ok: true });
    assert.equal(set('addr-v6').match(/2001:db8:77::/g)?.length, 4000);
    assert.deepEqual(await inside.send({ op: 'unban', addrs: [ADDR.att6] }), { ok: true });
    const n1 = (await inside.send({ op: 'metrics' })).paths as Record<string, number>;
    assert.equal((n1.process ?? 0) - (n0.process ?? 0), 1, 'the big batch through nft -f');
    assert.equal((n1.netlink ?? 0) - (n0.netlink ?? 0), 1, 'the next through netlink');
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
