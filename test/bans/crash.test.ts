import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BanManager } from '../../src/bans/manager.js';
import { Store } from '../../src/store/store.js';
import { systemClock } from '../../src/core/clock.js';
import { repoRoot } from '../helpers/paths.js';
import { FakeAction, inc, logger } from './fakes.js';

const base = mkdtempSync(join(tmpdir(), 'asb-crash-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** Runs the child until it has reported `enough` committed bans, then SIGKILLs it. */
function runAndKill(path: string, enough: number): Promise<{ committed: Set<string>; applied: Set<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/bans/crash-child.ts'), path], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const committed = new Set<string>();
    const applied = new Set<string>();
    let rest = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('C ')) committed.add(line.slice(2));
        else if (line.startsWith('A ')) applied.add(line.slice(2));
      }
      if (!killed && committed.size >= enough) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own: code ${code}, signal ${signal}`));
      else resolve({ committed, applied });
    });
  });
}

test('SIGKILL mid-stream: every ban reported committed (or handed to an action) is restored once', async () => {
  const path = join(base, 'state.sqlite3');
  const { committed, applied } = await runAndKill(path, 3000);
  assert.ok(committed.size >= 3000);
  const store = Store.open(path);
  const inDb = new Set(store.loadBans().map((b) => b.ip));
  for (const ip of committed) assert.ok(inDb.has(ip), `committed ${ip} lost`);
  for (const ip of applied) assert.ok(inDb.has(ip), `${ip} reached an action but is not in the database`);

  const fw = new FakeAction('fw');
  const m = new BanManager({ store, clock: systemClock, logger });
  await m.setJail('asterisk', { bantime: 3600, increment: inc({ enabled: true }), actions: [fw] });
  await m.start();
  const restored = fw.bansOf('ban');
  assert.equal(restored.length, 1, 'one restore batch');
  assert.equal(restored[0]!.ips.length, inDb.size);
  assert.equal(new Set(restored[0]!.ips).size, restored[0]!.ips.length, 'none applied twice');
  await m.close();
  store.close();

  // The lock died with the process: a second run opens the file and carries on.
  const again = await runAndKill(path, 100);
  assert.ok(again.committed.size >= 100);
});
