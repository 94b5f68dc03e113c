// Reloads arriving together (several `reload` requests and a SIGHUP) run one
// after the other: one follower per log afterwards, each line counted once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { DaemonHarness, sipWrongPassword, waitFor } from '../helpers/daemon.js';
import { request } from '../../src/control/client.js';

let h: DaemonHarness | null = null;
after(async () => {
  await h?.cleanup();
});

const conf = (x: DaemonHarness, findtime: string): string =>
  `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = dry-run\nmaxretry = 5\nfindtime = ${findtime}\nverify = off\n`;

async function failing(d: DaemonHarness, ip: string): Promise<number> {
  const r = await d.cli('status', 'asterisk', '--json');
  const s = JSON.parse(r.stdout.trim().split('\n')[0]!) as { failing: { ip: string; count: number }[] };
  return s.failing.find((f) => f.ip === ip)?.count ?? 0;
}

test('overlapping reloads of a changed jail leave one follower: a line counts once, a ban comes at maxretry', async () => {
  h = new DaemonHarness((x) => conf(x, '10m'));
  await h.start();
  const d = h;
  for (let round = 0; round < 3; round++) {
    // Each round changes the jail, so every reload rebuilds it.
    d.writeJails(conf(d, `${11 + round}m`));
    // In the same tick, as a script or two admins would send them.
    d.child!.kill('SIGHUP');
    await Promise.all([0, 1, 2].map(() => request(d.socket, 'reload', {}, { timeoutMs: 60_000 })));
  }
  await waitFor(() => (d.output.match(/reloaded:/g) ?? []).length >= 12, 10_000, () => d.output);
  const ip = '203.0.113.97';
  d.append([sipWrongPassword(ip)]);
  await waitFor(async () => (await failing(d, ip)) >= 1, 10_000, () => d.output);
  // Give a second follower, if there were one, time to count the line again.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await failing(d, ip), 1);
  d.append([sipWrongPassword(ip), sipWrongPassword(ip), sipWrongPassword(ip)]);
  await waitFor(async () => (await failing(d, ip)) >= 4, 10_000, () => d.output);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await failing(d, ip), 4);
  assert.doesNotMatch(d.output, new RegExp(`would ban ${ip.replace(/\./g, '\\.')}`));
  d.append([sipWrongPassword(ip)]);
  await waitFor(() => new RegExp(`would ban ${ip.replace(/\./g, '\\.')}`).test(d.output), 10_000, () => d.output);
});
