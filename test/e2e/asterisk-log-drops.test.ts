// When Asterisk writes that its logger discarded messages, the daemon says
// so: one warning a minute, status (JSON and human) and metrics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, scrape } from '../helpers/metrics.js';
import { DaemonHarness, stamp, waitFor } from '../helpers/daemon.js';

let h: DaemonHarness | null = null;
after(async () => {
  await h?.cleanup();
});



async function status(d: DaemonHarness): Promise<{ asteriskLogDiscarded: number; asteriskLogDiscardingSince: string | null }> {
  const r = await d.cli('status', 'asterisk', '--json');
  return JSON.parse(r.stdout.trim()) as { asteriskLogDiscarded: number; asteriskLogDiscardingSince: string | null };
}

test('Asterisk discarding log messages: a warning, status and a metric', async () => {
  const port = await freePort();
  h = new DaemonHarness(
    (x) => `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = dry-run\nverify = off\n`,
    `metrics = 127.0.0.1:${port}\n`,
  );
  await h.start();
  const d = h;
  d.append([`${stamp()} WARNING[4411] logger: Log queue threshold (1000) exceeded.  Discarding new messages.`]);
  await waitFor(async () => (await status(d)).asteriskLogDiscardingSince !== null, 10_000, () => d.output);
  const human = await d.cli('status', 'asterisk');
  assert.match(human.stdout, /Asterisk log: +DISCARDING messages since/);
  d.append([`${stamp()} WARNING[4411] logger: Logging resumed.  2514 messages discarded.`, `${stamp()} WARNING[4411] logger: Log queue threshold (1000) exceeded.  Discarding new messages.`, `${stamp()} WARNING[4411] logger: Logging resumed.  6 messages discarded.`]);
  await waitFor(async () => (await status(d)).asteriskLogDiscarded === 2520, 10_000, () => d.output);
  assert.equal((await status(d)).asteriskLogDiscardingSince, null);
  assert.match((await d.cli('status', 'asterisk')).stdout, /Asterisk dropped: +2520 log message\(s\)/);
  const metrics = await scrape(port);
  assert.match(metrics, /asterisk_ban_asterisk_log_discarded_total\{jail="asterisk"\} 2520/);
  assert.match(metrics, /asterisk_ban_asterisk_log_overflows_total\{jail="asterisk"\} 2/);
  // Once a minute, not once a line.
  assert.equal((d.output.match(/Asterisk is discarding log messages/g) ?? []).length, 1, d.output);
  assert.equal((d.output.match(/Asterisk discarded \d+ log message/g) ?? []).length, 1, d.output);
});
