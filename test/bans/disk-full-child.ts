// Runs inside `unshare -m` (a private mount namespace): mounts a 1 MB tmpfs,
// puts the state database on it, fills the disk, bans, frees space, and
// prints one JSON line per phase for the parent to check.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BanManager } from '../../src/bans/manager.js';
import { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/core/clock.js';
import { memoryLogger } from '../sources/ami/util.js';
import { FakeAction, inc, req, v4 } from './fakes.js';

const dir = process.argv[2]!;
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'asb-disk-full', dir]);
const report = (o: unknown): void => {
  writeSync(1, `${JSON.stringify(o)}\n`);
};

try {
  const dbPath = join(dir, 'state.sqlite3');
  const clock = new ManualClock();
  const { logger, lines } = memoryLogger();
  let store = Store.open(dbPath);
  const fw = new FakeAction('fw');
  const manager = new BanManager({ store, clock, logger, random: () => 0, spread: { fraction: 0, maxSeconds: 0 } });
  await manager.setJail('asterisk', { bantime: 3600, increment: inc(), actions: [fw] });
  await manager.start();
  await manager.request(req('192.0.2.200', clock.now()));

  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  closeSync(fd);

  const bans = await Promise.all(Array.from({ length: 3000 }, (_, i) => manager.request(req(v4(i), clock.now()))));
  const errorLines = () => lines.filter((l) => /"level":"error"/.test(l));
  report({
    phase: 'full',
    answered: bans.filter((b) => b !== null).length,
    unpersisted: bans.filter((b) => b !== null && !manager.isPersisted(b)).length,
    inKernel: fw.kernel.size,
    state: manager.persistenceState(),
    errors: errorLines().length,
    said: errorLines()[0] ?? '',
  });

  // Still full a minute later: said once more, with the count of failed writes.
  await manager.unban({ ip: v4(0) });
  clock.advance(61_000);
  report({ phase: 'minute', errors: errorLines().length, said: errorLines().at(-1) ?? '' });

  unlinkSync(filler);
  clock.advance(5_000);
  report({ phase: 'freed', state: manager.persistenceState(), persistedNow: bans.filter((b) => b !== null && manager.isPersisted(b)).length, info: lines.filter((l) => /writable again/.test(l)).length });
  await manager.close();
  store.close();
  store = Store.open(dbPath);
  const stored = store.loadBans().map((b) => b.ip);
  report({ phase: 'reopened', stored: stored.length, lifted: stored.includes(v4(0)), first: stored.includes('192.0.2.200') });
  store.close();
} finally {
  execFileSync('umount', [dir]);
}
