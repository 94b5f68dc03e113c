import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ConntrackEvents, RecentSources, StreamedWitness } from '../../src/jail/conntrack-events.js';
import type { PacketWitness } from '../../src/daemon/ban-gate.js';
import { ManualClock } from '../../src/core/clock.js';
import { metrics } from '../../src/control/metrics.js';
import { ADDR, TestNet, haveTool, isRoot } from '../helpers/netns.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { waitFor } from '../helpers/daemon.js';
import { fixture } from '../helpers/paths.js';

describe('RecentSources', () => {
  it('is bounded: the oldest source goes first, a source seen again moves to the end', () => {
    const r = new RecentSources(3, 60_000);
    for (const [ip, t] of [['192.0.2.1', 1], ['192.0.2.2', 2], ['192.0.2.3', 3]] as const) r.add(ip, t);
    r.add('192.0.2.1', 4);
    r.add('192.0.2.4', 5);
    assert.equal(r.size, 3);
    assert.equal(r.has('192.0.2.2', 5), false, 'the oldest went out');
    assert.deepEqual(['192.0.2.1', '192.0.2.3', '192.0.2.4'].map((ip) => r.has(ip, 5)), [true, true, true]);
  });

  it('forgets what is older than its window', () => {
    const r = new RecentSources(10, 1_000);
    r.add('192.0.2.1', 0);
    assert.equal(r.has('192.0.2.1', 1_000), true);
    assert.equal(r.has('192.0.2.1', 1_001), false);
  });
});

describe('StreamedWitness', () => {
  it('answers from the record, asking the fallback only about what it missed', async () => {
    const clock = new ManualClock(10_000);
    const events = new ConntrackEvents({ logger: memoryLogger().logger, clock });
    events.recent.add('203.0.113.5', 9_000);
    events.recent.add('2001:db8::5', 9_000);
    const asked: string[][] = [];
    const fallback: PacketWitness = { seen: async (ips) => { asked.push(ips); return new Set(ips.filter((i) => i === '198.51.100.7')); } };
    const w = new StreamedWitness(events, fallback, clock);
    assert.deepEqual([...(await w.seen(['203.0.113.5', '2001:DB8::5']))], ['203.0.113.5', '2001:db8::5']);
    assert.deepEqual(asked, [], 'no query when the stream saw every address');
    assert.deepEqual([...(await w.seen(['203.0.113.5', '198.51.100.7', '10.99.99.99', 'junk']))].sort(), ['198.51.100.7', '203.0.113.5']);
    assert.deepEqual(asked, [['198.51.100.7', '10.99.99.99']]);
    assert.deepEqual([w.hits, w.misses], [3, 2]);
    const lookups = (await metrics.verifyLookups.get()).values;
    assert.ok((lookups.find((v) => v.labels.via === 'stream')?.value ?? 0) >= 3);
    assert.ok((lookups.find((v) => v.labels.via === 'conntrack')?.value ?? 0) >= 2);
  });
});

describe('a conntrack event stream that cannot run here', () => {
  it('is restarted with backoff, then given up after five quick deaths, said once', async () => {
    const { logger, lines } = memoryLogger();
    const events = new ConntrackEvents({ logger, prefix: [process.execPath], conntrack: fixture('actions', 'exit-at-once.mjs'), restartMs: 5 });
    events.start();
    await waitFor(() => lines.join('').includes('no conntrack events here'), 5_000, () => lines.join(''));
    const said = lines.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(events.running, false);
    assert.equal(lines.length, said, 'nothing more once given up');
    assert.match(lines.join(''), /conntrack -E exited \(exit 1\); verification asks conntrack per batch until it runs again/);
    events.close();
  });
});

const skip = !isRoot() ? 'needs root: creates network namespaces' : !haveTool('conntrack') ? 'needs conntrack' : false;

describe('the conntrack event stream on a real kernel', { skip }, () => {
  let net: TestNet;
  let events: ConntrackEvents;
  const { logger, lines } = memoryLogger();

  before(async () => {
    net = await TestNet.create();
    events = new ConntrackEvents({ logger, prefix: ['ip', 'netns', 'exec', net.pbx] });
    events.start();
    // The stream subscribes asynchronously: wait until it reports a flow opened after it started.
    await waitFor(async () => {
      await net.probe('udp', ADDR.other4);
      return events.recent.has(ADDR.other4, Date.now());
    });
  });
  after(async () => {
    events?.close();
    await net?.destroy();
  });

  it('records the sources of new flows, v4 and v6, and nothing else', async () => {
    await net.probe('udp', ADDR.att4);
    await net.probe('tcp', ADDR.att6);
    await waitFor(() => events.recent.has(ADDR.att4, Date.now()) && events.recent.has(ADDR.att6, Date.now()));
    assert.equal(events.recent.has('198.51.100.77', Date.now()), false);
    const noQuery: PacketWitness = { seen: async () => { throw new Error('the fallback was asked'); } };
    assert.deepEqual([...(await new StreamedWitness(events, noQuery).seen([ADDR.att4, ADDR.att6]))].sort(), [ADDR.att4, ADDR.att6].sort());
    assert.equal((await metrics.conntrackStreamUp.get()).values[0]?.value, 1);
  });

  it('starts again when conntrack -E dies, and says so', async () => {
    const pids = execFileSync('ip', ['netns', 'pids', net.pbx], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const stream = pids.find((pid) => execFileSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).split('\0').join(' ').includes('conntrack -E'));
    assert.ok(stream, 'conntrack -E runs in the namespace');
    process.kill(Number(stream), 'SIGKILL');
    await waitFor(() => lines.join('').includes('conntrack -E exited'));
    await waitFor(async () => {
      await net.probe('udp', ADDR.in6a);
      return events.running && events.recent.has(ADDR.in6a, Date.now());
    }, 10_000);
  });
});
