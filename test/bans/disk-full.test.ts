// The state database on a full disk (a real 1 MB tmpfs, in a private mount
// namespace): bans are enforced and answered "not persisted", the error is
// said once a minute, and every held change is written when space returns.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BanManager } from '../../src/bans/manager.js';
import { Store } from '../../src/store/store.js';
import { AsteriskBanError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/core/clock.js';
import { metrics } from '../../src/control/metrics.js';
import { repoRoot } from '../helpers/paths.js';
import { isRoot, haveTool } from '../helpers/netns.js';
import { memoryLogger } from '../sources/ami/util.js';
import { FakeAction, inc, req, v4 } from './fakes.js';

const base = mkdtempSync(join(tmpdir(), 'asb-full-'));
after(() => rmSync(base, { recursive: true, force: true }));

test('a database that refuses writes: bans enforced, said to be unpersisted, written once it accepts them', async () => {
  const clock = new ManualClock();
  const { logger, lines } = memoryLogger();
  const store = Store.open(':memory:');
  let full = true;
  const refuse = <T extends unknown[]>(real: (...a: T) => void) => (...a: T) => {
    if (full) throw new AsteriskBanError('E_STORE', 'database or disk is full');
    real.apply(store, a);
  };
  store.saveBans = refuse(store.saveBans);
  store.deleteBans = refuse(store.deleteBans);
  const fw = new FakeAction('fw');
  const manager = new BanManager({ store, clock, logger, random: () => 0, spread: { fraction: 0, maxSeconds: 0 } });
  await manager.setJail('asterisk', { bantime: 3600, increment: inc(), actions: [fw] });
  await manager.start();
  const bans = await Promise.all(Array.from({ length: 500 }, (_, i) => manager.request(req(v4(i), clock.now()))));
  assert.equal(fw.kernel.size, 500, 'enforced');
  assert.ok(bans.every((b) => b !== null && !manager.isPersisted(b)));
  assert.deepEqual(manager.persistenceState(), { since: clock.now(), pending: 500 });
  assert.equal((await metrics.stateUnsaved.get()).values[0]!.value, 500);
  const errors = lines.filter((l) => /"level":"error"/.test(l));
  assert.equal(errors.length, 1, 'said once, not once per ban');
  assert.match(errors[0]!, /500 change\(s\) enforced in memory only since/);

  await manager.unban({ ip: v4(1) });
  full = false;
  clock.advance(5_000);
  assert.deepEqual(manager.persistenceState(), { since: null, pending: 0 });
  assert.ok(bans.every((b) => b!.ip === v4(1) || manager.isPersisted(b!)));
  assert.equal(store.countBans(), 499, 'all held bans written, the lifted one not');
  assert.equal((await metrics.stateUnsavedSince.get()).values[0]!.value, 0);
  assert.ok(lines.some((l) => /writable again: 500 ban change\(s\)/.test(l)));
  await manager.close();
});

const skip = !isRoot() ? 'needs root (mounts a tmpfs in a private mount namespace)' : !haveTool('unshare') ? 'needs unshare (util-linux)' : false;

test('on a real full disk: nothing lost when space returns', { skip }, () => {
  const dir = mkdtempSync(join(base, 'mnt-'));
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', process.execPath, '--import', 'tsx', join(repoRoot, 'test/bans/disk-full-child.ts'), dir], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const [full, minute, freed, reopened] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(full.answered, 3000);
  assert.equal(full.unpersisted, 3000, 'each answer says it was not persisted');
  assert.equal(full.inKernel, 3001);
  assert.equal(full.state.pending, 3000);
  assert.equal(full.errors, 1, full.said);
  assert.match(full.said, /full/i);
  assert.equal(minute.errors, 2);
  assert.match(minute.said, /failed writes since last said/);
  assert.deepEqual(freed.state, { since: null, pending: 0 });
  assert.equal(freed.info, 1);
  assert.deepEqual(reopened, { phase: 'reopened', stored: 3000, lifted: false, first: true });
});
