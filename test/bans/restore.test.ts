import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BanManager } from '../../src/bans/manager.js';
import { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Ban } from '../../src/core/types.js';
import type { IncrementSettings } from '../../src/settings/types.js';
import { FakeAction, inc, logger, req, tick, v4 } from './fakes.js';

const base = mkdtempSync(join(tmpdir(), 'asb-restore-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const dbPath = (): string => join(base, `s${n++}.sqlite3`);
const NO_SPREAD = { fraction: 0, maxSeconds: 0 };

function manager(store: Store, clock: ManualClock): BanManager {
  return new BanManager({ store, clock, logger, random: () => 0, spread: NO_SPREAD });
}

function stored(ip: string, start: number, end: number | null, jail = 'asterisk'): Ban {
  return { jail, ip, family: 4, start, end, count: 1, source: 'ami', reason: 'InvalidPassword', failures: [] };
}

test('restart with 10,000 bans: one restored batch per action, overdue lifted, none duplicated', async () => {
  const path = dbPath();
  const clock = new ManualClock();
  const now = clock.now();
  const seed = Store.open(path);
  seed.saveBans(Array.from({ length: 10_000 }, (_, i) => stored(v4(i), now - 1000, now + 3_600_000 + i)));
  seed.saveBans(Array.from({ length: 500 }, (_, i) => stored(v4(20_000 + i), now - 7_200_000, now - 1)));
  seed.close();

  for (let round = 0; round < 2; round++) {
    const store = Store.open(path);
    const fw = new FakeAction('fw');
    const mail = new FakeAction('mail', 'notify');
    const m = manager(store, clock);
    await m.setJail('asterisk', { bantime: 600, increment: inc(), actions: [fw, mail] });
    await m.start();
    for (const a of [fw, mail]) {
      assert.equal(a.starts, 1);
      const bans = a.bansOf('ban');
      assert.equal(bans.length, 1, `${a.id}: one ban batch`);
      assert.equal(bans[0]!.restored, true, 'restored: notify actions stay quiet');
      assert.equal(bans[0]!.ips.length, 10_000);
      assert.equal(new Set(bans[0]!.ips).size, 10_000, 'no duplicates');
      const unbans = a.bansOf('unban');
      assert.equal(unbans.length, round === 0 ? 1 : 0, 'overdue lifted once, then gone');
      if (round === 0) assert.equal(unbans[0]!.ips.length, 500);
    }
    assert.equal(store.countBans(), 10_000);
    assert.equal(m.active('asterisk').length, 10_000);
    await m.close();
    store.close();
  }
});

test('reconcile with the kernel: strays lifted, missing ones banned, present ones left alone', async () => {
  const clock = new ManualClock();
  const now = clock.now();
  const store = Store.open(dbPath());
  store.saveBans([stored('198.51.100.1', now, now + 60_000), stored('198.51.100.2', now, now + 60_000), stored('198.51.100.3', now - 10, now - 5)]);
  const fw = new FakeAction('fw', 'firewall', { listable: true });
  for (const ip of ['198.51.100.1', '198.51.100.3', '203.0.113.66']) fw.kernel.add(ip);
  const m = manager(store, clock);
  await m.setJail('asterisk', { bantime: 600, increment: inc(), actions: [fw] });
  await m.start();
  // Enforcement first: everything unexpired in one batch, the overdue lifted.
  assert.deepEqual(fw.bansOf('ban').map((c) => [c.ips.sort(), c.restored]), [[['198.51.100.1', '198.51.100.2'], true]]);
  await m.reconciled();
  assert.deepEqual(fw.bansOf('unban'), [{ op: 'unban', ips: ['198.51.100.3'] }, { op: 'unban', ips: ['203.0.113.66'] }], 'overdue lifted, then the stray');
  assert.deepEqual([...fw.kernel].sort(), ['198.51.100.1', '198.51.100.2']);
  // An element dropped behind our back (here: between the restore batch and the listing) is put back.
  const fw2 = new FakeAction('fw2', 'firewall', { listable: true });
  fw2.list = async () => {
    fw2.kernel.delete('198.51.100.1');
    return [...fw2.kernel];
  };
  await m.setJail('asterisk', { bantime: 600, increment: inc(), actions: [fw, fw2] });
  await m.reconciled();
  assert.deepEqual([...fw2.kernel].sort(), ['198.51.100.1', '198.51.100.2'], 'a new action gets the current bans');
  assert.deepEqual(fw2.bansOf('ban').map((c) => c.ips.length), [2, 1], 'the missing one re-applied alone');
  assert.deepEqual(store.loadBans().map((b) => b.applied.sort()), [['fw', 'fw2'], ['fw', 'fw2']]);
  await m.close();
  store.close();
});

test('restored bans still expire on time after the restart', async () => {
  const path = dbPath();
  const clock = new ManualClock();
  const first = Store.open(path);
  const m1 = manager(first, clock);
  await m1.setJail('asterisk', { bantime: 600, increment: inc(), actions: [new FakeAction()] });
  await m1.start();
  await m1.request(req('192.0.2.44', clock.now()));
  await m1.close();
  first.close();
  clock.advance(300_000);
  const store = Store.open(path);
  const fw = new FakeAction();
  const m2 = manager(store, clock);
  await m2.setJail('asterisk', { bantime: 600, increment: inc(), actions: [fw] });
  await m2.start();
  clock.advance(299_000);
  await tick();
  assert.equal(fw.bansOf('unban').length, 0);
  clock.advance(1000);
  await tick();
  assert.deepEqual(fw.bansOf('unban'), [{ op: 'unban', ips: ['192.0.2.44'] }]);
  assert.equal(store.countBans(), 0);
  await m2.close();
  store.close();
});

async function banRoundsAcrossRestarts(increment: IncrementSettings, rounds: number, jails: string[] = ['asterisk']): Promise<{ seconds: number; count: number }[]> {
  const path = dbPath();
  const clock = new ManualClock();
  const out: { seconds: number; count: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const store = Store.open(path);
    const m = manager(store, clock);
    for (const j of jails) await m.setJail(j, { bantime: 600, increment, actions: [new FakeAction()] });
    await m.start();
    const ban = (await m.request(req('203.0.113.200', clock.now(), jails[i % jails.length])))!;
    out.push({ seconds: ban.end === null ? -1 : (ban.end - ban.start) / 1000, count: ban.count });
    await m.unban({ ip: '203.0.113.200' });
    await m.close();
    store.close();
    clock.advance(60_000);
  }
  return out;
}

test('bantime.increment: a repeat offender\'s ban grows across restarts (default formula)', async () => {
  const r = await banRoundsAcrossRestarts(inc({ enabled: true }), 4);
  assert.deepEqual(r, [{ seconds: 600, count: 1 }, { seconds: 1200, count: 2 }, { seconds: 2400, count: 3 }, { seconds: 4800, count: 4 }]);
});

test('bantime.increment: multipliers, factor and maxtime', async () => {
  const r = await banRoundsAcrossRestarts(inc({ enabled: true, multipliers: [1, 5, 30], factor: 2, maxtime: 30_000 }), 4);
  assert.deepEqual(r.map((x) => x.seconds), [600, 6000, 30_000, 30_000]);
});

test('bantime.increment: overalljails counts bans from every jail; otherwise per jail', async () => {
  const per = await banRoundsAcrossRestarts(inc({ enabled: true }), 3, ['a', 'b']);
  assert.deepEqual(per.map((x) => x.seconds), [600, 600, 1200]);
  const all = await banRoundsAcrossRestarts(inc({ enabled: true, overalljails: true }), 3, ['a', 'b']);
  assert.deepEqual(all.map((x) => x.seconds), [600, 1200, 2400]);
});

test('increment disabled: same bantime, the count still grows', async () => {
  const r = await banRoundsAcrossRestarts(inc(), 3);
  assert.deepEqual(r, [{ seconds: 600, count: 1 }, { seconds: 600, count: 2 }, { seconds: 600, count: 3 }]);
});

test('bans of a jail no longer configured stay in the database, and come back with the jail', async () => {
  const path = dbPath();
  const clock = new ManualClock();
  const now = clock.now();
  const store = Store.open(path);
  store.saveBans([stored('192.0.2.9', now, now + 60_000, 'gone')]);
  const m = manager(store, clock);
  await m.setJail('asterisk', { bantime: 600, increment: inc(), actions: [] });
  await m.start();
  assert.equal(m.active().length, 0);
  assert.equal(store.countBans(), 1);
  const fw = new FakeAction();
  await m.setJail('gone', { bantime: 600, increment: inc(), actions: [fw] });
  assert.deepEqual(fw.bansOf('ban'), [{ op: 'ban', ips: ['192.0.2.9'], restored: true }]);
  assert.equal(m.active('gone').length, 1);
  await m.close();
  store.close();
});

test('a reload that rebuilds actions under the same ids re-applies the current bans to the new objects', async () => {
  const clock = new ManualClock();
  const store = Store.open(':memory:');
  const m = manager(store, clock);
  const before = new FakeAction('nftables[ASTERISK]');
  await m.setJail('asterisk', { bantime: 600, increment: inc(), actions: [before] });
  await m.start();
  await m.request(req('192.0.2.50', clock.now()));
  const after = new FakeAction('nftables[ASTERISK]');
  await m.setJail('asterisk', { bantime: 1200, increment: inc(), actions: [after] });
  assert.equal(after.starts, 1);
  assert.deepEqual(after.bansOf('ban'), [{ op: 'ban', ips: ['192.0.2.50'], restored: true }]);
  const next = await m.request(req('192.0.2.51', clock.now()));
  assert.equal(next!.end! - next!.start, 1_200_000, 'the new bantime applies to new bans');
  assert.equal(before.bansOf('ban').length, 1, 'the old action object gets nothing more');
  await m.close();
  store.close();
});
