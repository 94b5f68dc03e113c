// A reload keeps the jail's failure counts, so it keeps the Jail object;
// its bans must still go through the new settings' ban gate. Turning
// verification on by a reload must refuse a forged line's ban at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DaemonHarness, sipWrongPassword, waitFor } from '../helpers/daemon.js';
import { isRoot } from '../helpers/netns.js';

const skip = isRoot() ? false : 'needs root (a network namespace of its own, so the host\'s connection tracking is never read)';
const ns = `asb-rv-${process.pid}`;
let h: DaemonHarness;

const jail = (verify: string) => (x: DaemonHarness) => `[asterisk]
enabled = true
backend = log
filter = asterisk
logpath = ${x.log}
action = dry-run
maxretry = 3
findtime = 10m
verify = ${verify}
`;

before(async () => {
  if (skip) return;
  spawnSync('ip', ['netns', 'add', ns]);
  h = new DaemonHarness(jail('off'));
  await h.start({}, ['ip', 'netns', 'exec', ns]);
});

after(async () => {
  if (skip) return;
  await h?.cleanup();
  spawnSync('ip', ['netns', 'del', ns]);
});

const banned = async (ip: string) => (await h.cli('list', '--json')).stdout.includes(`"${ip}"`);

test('verification turned on by a reload refuses the next forged ban', { skip }, async () => {
  h.append(Array.from({ length: 3 }, () => sipWrongPassword('203.0.113.61')));
  await waitFor(() => banned('203.0.113.61'), 10_000, () => h.output);
  h.writeJails(jail('conntrack')(h));
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  h.append(Array.from({ length: 3 }, () => sipWrongPassword('203.0.113.62')));
  await waitFor(() => /REFUSED ban of 203\.0\.113\.62/.test(h.output), 10_000, () => h.output);
  assert.equal(await banned('203.0.113.62'), false);
  const status = JSON.parse((await h.cli('status', 'asterisk', '--json')).stdout) as { refusedByVerify: number };
  assert.equal(status.refusedByVerify, 1, 'counted by the gate status reads');
});
