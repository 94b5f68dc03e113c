import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BanManager, type JailPolicy } from '../../src/bans/manager.js';
import { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/core/clock.js';
import { isAsteriskBanError } from '../../src/core/errors.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { metrics } from '../../src/control/metrics.js';
import { FakeAction, inc, logger, req, tick, v4 } from './fakes.js';

const NO_SPREAD = { fraction: 0, maxSeconds: 0 };

function setup(policy: Partial<JailPolicy> = {}, opts: { spread?: typeof NO_SPREAD; random?: () => number } = {}) {
  const clock = new ManualClock();
  const store = Store.open(':memory:');
  const fw = new FakeAction('fw');
  const mail = new FakeAction('mail', 'notify');
  const manager = new BanManager({ store, clock, logger, random: opts.random ?? (() => 0), spread: opts.spread ?? NO_SPREAD });
  void manager.setJail('asterisk', { bantime: 600, increment: inc(), actions: [fw, mail], ...policy });
  return { clock, store, fw, mail, manager };
}

async function errorCount(jail: string, action: string): Promise<number> {
  const v = (await metrics.actionErrors.get()).values.find((x) => x.labels.jail === jail && x.labels.action === action);
  return v?.value ?? 0;
}

test('requests in the same tick share one transaction and one batch per action', async () => {
  const { manager, fw, mail, store, clock } = setup();
  await manager.start();
  const results = await Promise.all([...Array.from({ length: 1000 }, (_, i) => manager.request(req(v4(i), clock.now()))), manager.request(req(v4(0), clock.now()))]);
  assert.equal(results.filter((r) => r !== null).length, 1000, 'the duplicate request yields null');
  assert.equal(fw.bansOf('ban').length, 1);
  assert.equal(fw.calls[0]!.ips.length, 1000);
  assert.equal(fw.calls[0]!.restored, false);
  assert.equal(mail.bansOf('ban').length, 1);
  assert.equal(store.countBans(), 1000);
  assert.equal(await manager.request(req(v4(5), clock.now())), null, 'already banned');
  assert.deepEqual(manager.stats('asterisk'), { currentlyBanned: 1000, totalBanned: 1000 });
  const b = results[0]!;
  assert.deepEqual([b.count, b.end! - b.start, b.source], [1, 600_000, 'ami']);
  await manager.close();
});

test('an ignored address is never banned by a request; a manual ban needs force', async () => {
  const ignore = IgnoreList.fromEntries(['192.0.2.0/24'], { ignoreself: false });
  const { manager, fw } = setup({ ignore });
  await manager.start();
  assert.equal(await manager.request(req('192.0.2.10', 0)), null);
  await assert.rejects(manager.manualBan('asterisk', '192.0.2.10'), (e) => isAsteriskBanError(e, 'E_IGNORED'));
  assert.equal(fw.calls.length, 0);
  const forced = await manager.manualBan('asterisk', '192.0.2.10', { force: true, seconds: 60 });
  assert.deepEqual([forced.source, forced.end! - forced.start], ['manual', 60_000]);
  assert.deepEqual(fw.calls, [{ op: 'ban', ips: ['192.0.2.10'], restored: false }]);
  assert.equal(await manager.manualBan('asterisk', '192.0.2.10'), forced, 'banning again returns the ban in force');
  await assert.rejects(manager.manualBan('nope', '198.51.100.1'), (e) => isAsteriskBanError(e, 'E_UNKNOWN_JAIL'));
  await assert.rejects(manager.manualBan('asterisk', 'not-an-ip'), (e) => isAsteriskBanError(e, 'E_ADDRESS'));
  await manager.close();
});

test('addresses that never send a packet are never banned, not even by hand', async () => {
  const { manager, fw, store, clock } = setup();
  await manager.start();
  for (const ip of ['0.0.0.0', '255.255.255.255', '224.0.0.1', '239.255.255.250', '::', 'ff02::1']) {
    assert.equal(await manager.request(req(ip, clock.now())), null, ip);
    await assert.rejects(manager.manualBan('asterisk', ip, { force: true }), (e) => isAsteriskBanError(e, 'E_ADDRESS') && /protect nothing/.test(e.message), ip);
  }
  assert.equal(fw.calls.length, 0);
  assert.equal(store.countBans(), 0);
  assert.ok(await manager.manualBan('asterisk', '223.255.255.254'), 'the last unicast address below multicast is bannable');
  await manager.close();
});

test('a growing bantime stops at ten years', async () => {
  const { manager, clock } = setup({ increment: inc({ enabled: true, factor: 1e300 }) });
  await manager.start();
  const first = (await manager.request(req('198.51.100.9', clock.now())))!;
  assert.equal(first.end! - first.start, 600_000, 'a first ban is not grown');
  await manager.unban({ ip: '198.51.100.9' });
  const b = (await manager.request(req('198.51.100.9', clock.now())))!;
  assert.ok(b.end !== null && Number.isFinite(b.end));
  assert.equal(b.end - b.start, 3650 * 86400 * 1000);
  await manager.close();
});

test('unban by address, by jail and all; E_NOT_BANNED when nothing matches', async () => {
  const { manager, fw, store, clock } = setup();
  const other = new FakeAction('other-fw');
  await manager.setJail('other', { bantime: 600, increment: inc(), actions: [other] });
  await manager.start();
  await Promise.all([manager.request(req('198.51.100.1', 0)), manager.request(req('198.51.100.2', 0)), manager.request(req('198.51.100.1', clock.now(), 'other'))]);
  const one = await manager.unban({ ip: '198.51.100.1', jail: 'asterisk' });
  assert.deepEqual(one.map((b) => b.jail), ['asterisk']);
  assert.deepEqual(fw.bansOf('unban'), [{ op: 'unban', ips: ['198.51.100.1'] }]);
  assert.equal(fw.kernel.has('198.51.100.1'), false);
  assert.equal(other.kernel.has('198.51.100.1'), true);
  await assert.rejects(manager.unban({ ip: '198.51.100.1', jail: 'asterisk' }), (e) => isAsteriskBanError(e, 'E_NOT_BANNED'));
  const rest = await manager.unban({ all: true });
  assert.equal(rest.length, 2);
  assert.equal(store.countBans(), 0);
  await assert.rejects(manager.unban({ all: true }), (e) => isAsteriskBanError(e, 'E_NOT_BANNED'));
  await manager.close();
});

test('expiry is driven by the clock, to the second, in batches; permanent bans stay', async () => {
  const { manager, fw, store, clock } = setup();
  await manager.start();
  await Promise.all([manager.request(req('203.0.113.1', 0)), manager.request(req('203.0.113.2', 0))]);
  await manager.manualBan('asterisk', '203.0.113.3', { seconds: -1 });
  clock.advance(599_000);
  await tick();
  assert.equal(fw.bansOf('unban').length, 0);
  clock.advance(1_000);
  await tick();
  assert.deepEqual(fw.bansOf('unban'), [{ op: 'unban', ips: ['203.0.113.1', '203.0.113.2'] }]);
  assert.deepEqual(manager.active().map((b) => b.ip), ['203.0.113.3']);
  assert.equal(store.countBans(), 1);
  clock.advance(10 * 365 * 86_400_000);
  await tick();
  assert.equal(manager.active().length, 1, 'a permanent ban never expires');
  assert.equal(clock.pending() <= 1, true, 'no timer for a permanent ban except the hourly purge');
  await manager.close();
});

test('bans created together expire spread out, never earlier than bantime', async () => {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const { manager, fw, clock } = setup({ increment: inc({ rndtime: 30 }) }, { spread: { fraction: 0.01, maxSeconds: 60 }, random });
  await manager.start();
  const start = clock.now();
  const bans = await Promise.all(Array.from({ length: 500 }, (_, i) => manager.request(req(v4(i), start))));
  const ends = bans.map((b) => b!.end! - start);
  assert.ok(Math.min(...ends) >= 600_000);
  assert.ok(Math.max(...ends) <= 600_000 + 36_000);
  assert.ok(Math.max(...ends) - Math.min(...ends) > 20_000, 'spread over more than 20 s');
  for (let s = 0; s < 40; s++) {
    clock.advance(1000 * (s === 0 ? 600 : 1));
    await tick();
  }
  assert.equal(manager.active().length, 0);
  const batches = fw.bansOf('unban');
  assert.ok(batches.length > 10, `unbanned in ${batches.length} batches`);
  assert.equal(batches.reduce((n, c) => n + c.ips.length, 0), 500);
  await manager.close();
});

test('a failing action is retried with backoff; the record and other actions are unaffected', async () => {
  const { manager, fw, mail, store, clock } = setup();
  await manager.start();
  fw.failNext = 2;
  const before = await errorCount('asterisk', 'fw');
  const ban = await manager.request(req('198.51.100.77', clock.now()));
  assert.ok(ban);
  assert.equal(store.countBans(), 1, 'the ban is recorded although the firewall failed');
  assert.equal(mail.bansOf('ban').length, 1, 'mail got it at once');
  assert.equal(fw.kernel.has('198.51.100.77'), false);
  assert.deepEqual(store.loadBans()[0]!.applied, ['mail']);
  clock.advance(500); // first retry (random 0 → base delay)
  await tick();
  assert.equal(fw.bansOf('ban').length, 2);
  assert.equal(fw.kernel.has('198.51.100.77'), false);
  clock.advance(1000);
  await tick();
  assert.equal(fw.kernel.has('198.51.100.77'), true);
  assert.equal(fw.bansOf('ban').length, 3);
  assert.equal(await errorCount('asterisk', 'fw') - before, 2);
  assert.deepEqual(store.loadBans()[0]!.applied.sort(), ['fw', 'mail']);
  await manager.close();
});

test('a retry is dropped when the ban was lifted meanwhile', async () => {
  const { manager, fw, clock } = setup();
  await manager.start();
  fw.failNext = 1;
  await manager.request(req('198.51.100.78', clock.now()));
  await manager.unban({ ip: '198.51.100.78' });
  clock.advance(60_000);
  await tick();
  assert.deepEqual(fw.bansOf('ban').map((c) => c.ips), [['198.51.100.78']], 'no re-ban of a lifted address');
  await manager.close();
});

test('a flood is one store transaction; metrics count bans, the gauge and latency from the failure', async () => {
  const { manager, store, clock } = setup();
  await manager.start();
  let saves = 0;
  const save = store.saveBans.bind(store);
  store.saveBans = (bans, opts) => {
    saves++;
    save(bans, opts);
  };
  const gauge = async () => (await metrics.banned.get()).values.find((v) => v.labels.jail === 'asterisk')?.value;
  const latencyCount = async () => (await metrics.banLatency.get()).values.find((v) => v.labels.jail === 'asterisk' && (v as { metricName?: string }).metricName?.endsWith('_count'))?.value ?? 0;
  const bansBefore = (await metrics.bans.get()).values.find((v) => v.labels.jail === 'asterisk')?.value ?? 0;
  const latBefore = await latencyCount();
  const failedAt = clock.now();
  clock.advance(2); // the failure happened 2 ms before the ban is applied
  await Promise.all(Array.from({ length: 300 }, (_, i) => manager.request(req(v4(i), failedAt))));
  assert.equal(saves, 1);
  assert.equal(await gauge(), 300);
  assert.equal(((await metrics.bans.get()).values.find((v) => v.labels.jail === 'asterisk')?.value ?? 0) - bansBefore, 300);
  assert.equal((await latencyCount()) - latBefore, 300);
  await manager.close();
});

test('addresses are normalised before banning; unknown jails are refused', async () => {
  const { manager, fw } = setup();
  await manager.start();
  const ban = await manager.request(req('2001:DB8:0:0::0001', 0));
  assert.equal(ban!.ip, '2001:db8::1');
  assert.equal(await manager.request(req('2001:db8::1', 0)), null, 'same address, other spelling');
  const mapped = await manager.request(req('::ffff:198.51.100.4', 0));
  assert.deepEqual([mapped!.ip, mapped!.family], ['198.51.100.4', 4]);
  assert.deepEqual(fw.calls.map((c) => c.ips), [['2001:db8::1'], ['198.51.100.4']]);
  await assert.rejects(manager.request(req('198.51.100.5', 0, 'nope')), (e) => isAsteriskBanError(e, 'E_UNKNOWN_JAIL'));
  await assert.rejects(manager.request(req('999.1.1.1', 0)), (e) => isAsteriskBanError(e, 'E_ADDRESS'));
  await manager.close();
});

test('when the database cannot be written, the ban is still enforced (and logged)', async () => {
  const { manager, store, fw, clock } = setup();
  await manager.start();
  store.saveBans = () => {
    throw new Error('disk full');
  };
  store.previousBans = () => {
    throw new Error('disk I/O error');
  };
  const ban = await manager.request(req('203.0.113.99', clock.now()));
  assert.ok(ban);
  assert.equal(fw.kernel.has('203.0.113.99'), true);
  clock.advance(600_000);
  await tick();
  assert.equal(fw.kernel.has('203.0.113.99'), false, 'and lifted on time');
  await manager.close();
});

test('IPv6 prefixes: banned, covering narrower requests, never over an ignored address, unbanned by prefix', async () => {
  const ignore = IgnoreList.fromEntries(['2001:db8:99:1::5060'], { ignoreself: false });
  const { manager, fw, store, clock } = setup({ ignore });
  await manager.start();
  const ban = await manager.request(req('2001:db8:aa:bb:1::/64', clock.now()));
  assert.equal(ban!.ip, '2001:db8:aa:bb::/64', 'canonical, host bits cleared');
  assert.deepEqual(fw.calls, [{ op: 'ban', ips: ['2001:db8:aa:bb::/64'], restored: false }]);
  // Inside the banned prefix: nothing more to do.
  assert.equal(await manager.request(req('2001:db8:aa:bb::7', clock.now())), null);
  assert.equal(await manager.manualBan('asterisk', '2001:db8:aa:bb::7'), ban, 'a manual ban inside returns the covering ban');
  // A prefix over an ignored address: never by a request, by hand only with force.
  assert.equal(await manager.request(req('2001:db8:99:1::/64', clock.now())), null);
  await assert.rejects(manager.manualBan('asterisk', '2001:db8:99:1::/64'), (e) => isAsteriskBanError(e, 'E_IGNORED') && /overlaps the ignore list/.test(e.message) && /2001:db8:99:1::5060/.test(e.message));
  assert.ok(await manager.request(req('2001:db8:99:1::66', clock.now())), 'the address beside it alone is bannable');
  // Unban: by the prefix; an address inside it says where it is banned.
  await assert.rejects(manager.unban({ ip: '2001:db8:aa:bb::7' }), (e) => isAsteriskBanError(e, 'E_NOT_BANNED') && /inside 2001:db8:aa:bb::\/64/.test(e.hint ?? ''));
  const lifted = await manager.unban({ ip: '2001:db8:aa:bb::/64' });
  assert.deepEqual(lifted.map((b) => b.ip), ['2001:db8:aa:bb::/64']);
  assert.equal(store.countBans(), 1);
  await manager.close();
});

test('a wider prefix lifts the narrower ones it covers first (an nftables interval set refuses overlaps)', async () => {
  const { manager, fw, clock } = setup();
  await manager.start();
  await manager.request(req('2001:db8:7:1::/64', clock.now()));
  await manager.request(req('2001:db8:7:2::/64', clock.now()));
  assert.equal(await manager.request(req('2001:db8:7:2::9', clock.now())), null, 'inside a banned /64');
  await manager.request(req('2001:db8:7:3::9', clock.now()));
  const wide = await manager.manualBan('asterisk', '2001:db8:7::/48');
  assert.equal(wide.ip, '2001:db8:7::/48');
  await tick();
  const order = fw.calls.slice(3).map((c) => `${c.op} ${c.ips.join(' ')}`);
  assert.deepEqual(order, ['unban 2001:db8:7:1::/64 2001:db8:7:2::/64', 'ban 2001:db8:7::/48']);
  // Addresses inside stay: they sit in a set of their own and expire as they were.
  assert.deepEqual(manager.active().map((b) => b.ip).sort(), ['2001:db8:7:3::9', '2001:db8:7::/48']);
  await manager.close();
});

test('prefix bans survive a restart as prefixes', async () => {
  const { manager, store, clock } = setup();
  await manager.start();
  await manager.request(req('2001:db8:5:5::/64', clock.now()));
  await manager.close();
  const fw2 = new FakeAction('fw');
  const again = new BanManager({ store, clock, logger, random: () => 0, spread: NO_SPREAD });
  void again.setJail('asterisk', { bantime: 600, increment: inc(), actions: [fw2] });
  await again.start();
  assert.deepEqual(fw2.calls, [{ op: 'ban', ips: ['2001:db8:5:5::/64'], restored: true }]);
  assert.equal(await again.request(req('2001:db8:5:5::1', clock.now())), null, 'an address inside is covered after the restart');
  await again.close();
});
