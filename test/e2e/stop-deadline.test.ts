// SIGTERM stops the daemon within its 10 s promise, whatever a child does:
// here a sendmail that never returns (and started a child of its own).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonHarness, waitFor } from '../helpers/daemon.js';

let h: DaemonHarness | null = null;
after(async () => {
  await h?.cleanup();
});

function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('SIGTERM with a sendmail that never returns: stopped within 10 s, sendmail and its child killed', { timeout: 60_000 }, async () => {
  let pids = '';
  h = new DaemonHarness((x) => {
    const sendmail = join(x.dir, 'sendmail');
    pids = join(x.dir, 'sendmail.pids');
    writeFileSync(sendmail, `#!/usr/bin/env node
const child = require('child_process').spawn('sleep', ['1000'], { stdio: 'ignore' });
require('fs').writeFileSync(${JSON.stringify(pids)}, JSON.stringify([process.pid, child.pid]));
setInterval(() => {}, 1000);
`);
    chmodSync(sendmail, 0o755);
    return `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = sendmail[dest=root, sendmail_path=${sendmail}]\nverify = off\n`;
  });
  await h.start();
  const r = await h.cli('ban', 'asterisk', '203.0.113.80');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => {
    try {
      return (JSON.parse(readFileSync(pids, 'utf8')) as number[]).every(running);
    } catch {
      return false;
    }
  }, 10_000, () => h!.output);
  const [mailer, child] = JSON.parse(readFileSync(pids, 'utf8')) as number[];
  const started = Date.now();
  const code = await h.stop('SIGTERM');
  const took = Date.now() - started;
  assert.ok(took < 11_000, `stop took ${took} ms:\n${h.output}`);
  assert.notEqual(code, null);
  await waitFor(() => !running(mailer!) && !running(child!), 3_000, () => 'sendmail or its child still running');
  assert.match(h.output, /killed 1 command\(s\) still running/);
});
