// The main job, as a user runs it: `asterisk-ban run` with backend = auto,
// the AMI account from .env, against a protocol-faithful fake Asterisk; the
// log takes over while Asterisk is down; metrics scraped over HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, scrape } from '../helpers/metrics.js';
import { DaemonHarness, stamp, waitFor, sipWrongPassword } from '../helpers/daemon.js';
import { FakeAmiServer, recordedEvents, securityEvent } from '../helpers/fake-ami-server.js';
import { fixture } from '../helpers/paths.js';

const SECRET = 'v3ry-s3cret-ami-pass';
let ami: FakeAmiServer;
let h: DaemonHarness;

async function bannedIps(): Promise<string[]> {
  const r = await h.cli('list', '--json');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { ip: string }).ip);
}

async function amiState(): Promise<string> {
  const r = await h.cli('status', 'asterisk', '--json');
  const s = JSON.parse(r.stdout.trim()) as { sources: { kind: string; state: string }[] };
  return s.sources.find((x) => x.kind === 'ami')?.state ?? 'none';
}



let metricsPort = 0;
before(async () => {
  metricsPort = await freePort();
  ami = await FakeAmiServer.start({ username: 'ban', secret: SECRET });
  h = new DaemonHarness(
    (x) => `[asterisk]
enabled = true
backend = auto
ami_host = 127.0.0.1
ami_port = ${ami.port}
ami_ping_interval = 1
ami_ping_timeout = 1
filter = asterisk
gapfilter = asterisk[mode=gaps]
logpath = ${x.log}
action = dry-run
maxretry = 5
findtime = 10m
bantime = 1h
verify = off
`,
    `metrics = 127.0.0.1:${metricsPort}\n`,
  );
  writeFileSync(join(h.config, '.env'), `AMI_USERNAME=ban\nAMI_SECRET=${SECRET}\n`);
  await h.start();
  await ami.waitForLogins(1);
  await waitFor(async () => (await amiState()) === 'ready', 10_000, () => h.output);
});

after(async () => {
  await h.cleanup();
  await ami.close();
});

test('five InvalidPassword events ban the address; the secret is never logged', async () => {
  for (let i = 0; i < 5; i++) ami.send(securityEvent({ ip: '203.0.113.50', time: new Date().toISOString().replace('Z', '+0000') }));
  await waitFor(async () => (await bannedIps()).includes('203.0.113.50'), 10_000, () => h.output);
  assert.equal(ami.loginAttempts[0]!.secret, SECRET);
  assert.ok(!h.output.includes(SECRET), 'the AMI secret must not appear in the log');
});

test('the adversarial recording never bans an address written by the attacker', async () => {
  ami.send(recordedEvents(fixture('ami', 'asterisk-20.20.1-adversarial.txt')));
  ami.send(recordedEvents(fixture('ami', 'asterisk-20.20.1-adversarial.txt')));
  // A marker after the recording: once it is banned, the recording was processed.
  for (let i = 0; i < 5; i++) ami.send(securityEvent({ ip: '203.0.113.59' }));
  await waitFor(async () => (await bannedIps()).includes('203.0.113.59'), 10_000, () => h.output);
  const ips = await bannedIps();
  assert.ok(!ips.includes('10.99.99.99') && !ips.includes('2001:db8:dead::99'), `victim banned: ${ips.join(' ')}`);
});

test('while Asterisk is down the log bans; once it is back the log counts only what AMI cannot see', async () => {
  await ami.close();
  await waitFor(async () => (await amiState()) !== 'ready', 10_000, () => h.output);
  h.append(Array.from({ length: 5 }, () => sipWrongPassword('203.0.113.51')));
  await waitFor(async () => (await bannedIps()).includes('203.0.113.51'), 10_000, () => h.output);

  await ami.restart();
  await waitFor(async () => (await amiState()) === 'ready', 20_000, () => h.output);
  // Let the handover window pass before lines AMI would report are written.
  await new Promise((r) => setTimeout(r, 1500));
  h.append(Array.from({ length: 5 }, () => sipWrongPassword('203.0.113.52')));
  // IAX2 raises no AMI event: the gap filter still counts it.
  h.append(Array.from({ length: 5 }, () => `${stamp()} NOTICE[4410] chan_iax2.c: Host 203.0.113.53 failed MD5 authentication for '6001' (1f2e != 9a8b)`));
  await waitFor(async () => (await bannedIps()).includes('203.0.113.53'), 10_000, () => h.output);
  assert.ok(!(await bannedIps()).includes('203.0.113.52'), 'a SIP failure in the log is AMI\'s to report while AMI is up');
});

test('metrics report failures, bans and the AMI connection', async () => {
  const body = await scrape(metricsPort);
  assert.match(body, /asterisk_ban_failures_total\{jail="asterisk",source="ami",event="InvalidPassword"\} \d+/);
  assert.match(body, /asterisk_ban_failures_total\{jail="asterisk",source="log"/);
  assert.match(body, /asterisk_ban_bans_total\{jail="asterisk"\} [4-9]/);
  assert.match(body, /asterisk_ban_ami_connected\{jail="asterisk"\} 1/);
  assert.match(body, /asterisk_ban_ami_tampered_total\{jail="asterisk"\} [1-9]/);
  assert.match(body, /asterisk_ban_event_to_ban_seconds_count\{jail="asterisk"\} [1-9]/);
});
