// A reload that changes a jail but not its source keeps the source running:
// the AMI session stays logged in, so no event sent during the reload is
// lost. A change to the AMI settings themselves does log in again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonHarness, waitFor } from '../helpers/daemon.js';
import { FakeAmiServer, securityEvent } from '../helpers/fake-ami-server.js';

const SECRET = 'reload-keeps-ami-secret';
let ami: FakeAmiServer;
let h: DaemonHarness;

const conf = (findtime: string, ping = 5) =>
  `[asterisk]\nenabled = true\nbackend = ami\nami_host = 127.0.0.1\nami_port = ${ami.port}\nami_ping_interval = ${ping}\nfilter = asterisk\naction = dry-run\nmaxretry = 5\nfindtime = ${findtime}\nverify = off\n`;

async function totalFailed(): Promise<number> {
  const r = await h.cli('status', 'asterisk', '--json');
  return (JSON.parse(r.stdout.trim()) as { totalFailed: number }).totalFailed;
}

before(async () => {
  ami = await FakeAmiServer.start({ username: 'ban', secret: SECRET });
  h = new DaemonHarness(() => conf('10m'));
  writeFileSync(join(h.config, '.env'), `AMI_USERNAME=ban\nAMI_SECRET=${SECRET}\n`);
  await h.start();
  await ami.waitForLogins(1);
});

after(async () => {
  await h.cleanup();
  await ami.close();
});

test('events sent while a changed jail reloads are all counted, over the one AMI session', async () => {
  let sent = 0;
  // One failure each from distinct addresses, a few every millisecond or two, all through the reloads.
  const flood = setInterval(() => {
    let text = '';
    for (let i = 0; i < 5; i++, sent++) text += securityEvent({ ip: `198.18.${(sent >> 8) & 255}.${(sent & 255) || 1}`, time: new Date().toISOString().replace('Z', '+0000') });
    ami.send(text);
  }, 2);
  for (let round = 0; round < 3; round++) {
    h.writeJails(conf(`${11 + round}m`));
    const r = await h.cli('reload');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /asterisk/);
  }
  clearInterval(flood);
  await waitFor(async () => (await totalFailed()) >= sent, 10_000, () => `counted ${sent} sent\n${h.output}`);
  assert.equal(await totalFailed(), sent, 'every event counted once');
  assert.equal(ami.logins, 1, 'the session was kept through the reloads');
});

test('a reload that changes the AMI settings logs in again', async () => {
  h.writeJails(conf('14m', 7));
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  await ami.waitForLogins(2);
  await waitFor(() => ami.loggedIn === 1, 5_000, () => h.output);
});
