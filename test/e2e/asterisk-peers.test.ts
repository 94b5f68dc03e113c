// The peers Asterisk trusts are never banned: a forged log line naming the
// SIP trunk bans nothing and says why; status lists what was learned and
// where; a reload picks up a peer added to pjsip.conf.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonHarness, sipWrongPassword, waitFor } from '../helpers/daemon.js';

let h: DaemonHarness | null = null;
after(async () => {
  await h?.cleanup();
});

// Addresses only (and localhost): a test must not send DNS queries off the machine.
const PJSIP = `[provider-tpl](!)
type=identify
match=203.0.113.10

[provider](provider-tpl)
endpoint=provider
match=198.51.100.0/28

[provider-aor]
type=aor
contact=sip:provider@192.0.2.99:5060
`;

async function banned(d: DaemonHarness): Promise<string[]> {
  const r = await d.cli('list', '--json');
  return r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { ip: string }).ip);
}

test('a forged failure naming a trusted trunk bans nothing, with a log line saying why', async () => {
  let astDir = '';
  h = new DaemonHarness(
    (x) => `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = dry-run\nmaxretry = 1\nverify = off\n`,
    '',
  );
  const d = h;
  astDir = join(d.dir, 'asterisk');
  mkdirSync(astDir);
  writeFileSync(join(astDir, 'pjsip.conf'), PJSIP);
  writeFileSync(join(astDir, 'sip.conf'), '[general]\nhost=10.1.1.1\n\n[old-trunk]\ntype=peer\nhost=203.0.113.40\n\n[broken\n');
  writeFileSync(join(d.config, 'asterisk-ban.local'), `[Definition]\nasterisk_config = ${astDir}\n`);

  const check = await d.cli('check-config');
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /4 peer\(s\) Asterisk trusts/);
  assert.match(check.stderr, /sip\.conf:8: section header not understood/);

  await d.start();
  d.append(['203.0.113.10', '198.51.100.9', '192.0.2.99', '203.0.113.40', '203.0.113.77'].map((ip) => sipWrongPassword(ip)));
  await waitFor(async () => (await banned(d)).includes('203.0.113.77'), 10_000, () => d.output);
  assert.deepEqual(await banned(d), ['203.0.113.77'], 'only the address Asterisk does not trust');
  assert.match(d.output, /not counting a failure from 203\.0\.113\.10: Asterisk trusts it \(203\.0\.113\.10 \(asterisk peer pjsip\.conf:3 \[provider\] match\)\)/);
  assert.match(d.output, /sip\.conf:8: section header not understood/);

  const st = JSON.parse((await d.cli('status', 'asterisk', '--json')).stdout.trim()) as { trustedPeers: string[] };
  assert.deepEqual(st.trustedPeers, [
    '203.0.113.10 (asterisk peer pjsip.conf:3 [provider] match)',
    '198.51.100.0/28 (asterisk peer pjsip.conf:7 [provider] match)',
    '192.0.2.99 (asterisk peer pjsip.conf:11 [provider-aor] contact)',
    '203.0.113.40 (asterisk peer sip.conf:6 [old-trunk] host)',
  ]);
  assert.match((await d.cli('status', 'asterisk')).stdout, /Asterisk peers: +4 never banned/);

  // A trunk added to pjsip.conf is trusted after a reload, though jail.conf did not change.
  writeFileSync(join(astDir, 'pjsip.conf'), `${PJSIP}\n[second]\ntype=identify\nmatch=203.0.113.88\n`);
  const r = await d.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  d.append([sipWrongPassword('203.0.113.88'), sipWrongPassword('203.0.113.78')]);
  await waitFor(async () => (await banned(d)).includes('203.0.113.78'), 10_000, () => d.output);
  assert.ok(!(await banned(d)).includes('203.0.113.88'));
});

test('ignore_asterisk_peers = false bans a trunk like anyone else', async () => {
  await h?.cleanup();
  h = new DaemonHarness(
    (x) => `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = dry-run\nmaxretry = 1\nverify = off\nignore_asterisk_peers = false\n`,
  );
  const d = h;
  const astDir = join(d.dir, 'asterisk');
  mkdirSync(astDir);
  writeFileSync(join(astDir, 'pjsip.conf'), PJSIP);
  writeFileSync(join(d.config, 'asterisk-ban.local'), `[Definition]\nasterisk_config = ${astDir}\n`);
  await d.start();
  d.append([sipWrongPassword('203.0.113.10')]);
  await waitFor(async () => (await banned(d)).includes('203.0.113.10'), 10_000, () => d.output);
});
