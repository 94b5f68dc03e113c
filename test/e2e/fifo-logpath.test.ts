// A FIFO at a logpath (or anything that blocks on open) must not wedge the
// daemon: it is refused as no regular file, the other jails start, "ready"
// comes, and SIGTERM stops it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DaemonHarness, sipWrongPassword, waitFor } from '../helpers/daemon.js';

let h: DaemonHarness | null = null;
after(async () => {
  await h?.cleanup();
});

test('a FIFO at one jail\'s logpath: that jail says why, the other bans, SIGTERM stops at once', async () => {
  let fifo = '';
  h = new DaemonHarness((x) => {
    fifo = join(x.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const jail = (name: string, path: string) => `[${name}]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${path}\naction = dry-run\nmaxretry = 2\nverify = off\n`;
    return `${jail('fifo', fifo)}\n${jail('asterisk', x.log)}`;
  });
  await h.start();
  const d = h;
  d.append([sipWrongPassword('203.0.113.98'), sipWrongPassword('203.0.113.98')]);
  await waitFor(() => /would ban 203\.0\.113\.98/.test(d.output), 10_000, () => d.output);
  const st = await d.cli('status', 'fifo', '--json');
  const src = (JSON.parse(st.stdout.trim().split('\n')[0]!) as { sources: { state: string; detail: string }[] }).sources[0]!;
  assert.equal(src.state, 'error');
  assert.match(src.detail, /not a regular file$/);
  const started = Date.now();
  await d.stop('SIGTERM');
  assert.ok(Date.now() - started < 5_000, `stop took ${Date.now() - started} ms`);
});
