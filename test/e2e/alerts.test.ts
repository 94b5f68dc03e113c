// Alerting as an admin sets it up: `asterisk-ban run` with an AMI account
// that reads security events, a jail whose only action is a webhook (no
// firewall, no root when the checkout allows running as nobody), against a
// protocol-faithful fake Asterisk and a real HTTP receiver on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { chownSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonHarness, waitFor } from '../helpers/daemon.js';
import { FakeAmiServer, recordedEvents, securityEvent } from '../helpers/fake-ami-server.js';
import { cannotRunAsNobody, NOBODY } from '../helpers/as-nobody.js';
import { fixture } from '../helpers/paths.js';
import { freePort, scrape } from '../helpers/metrics.js';

const SECRET = 'alert-only-ami-secret';
const HOOK_SECRET = 'whsec-0123456789abcdef0123456789abcdef';
const asNobody = cannotRunAsNobody() === false;

interface Received { headers: Record<string, string | string[] | undefined>; body: string }
interface AlertEvent { type: string; rule: string; severity: string; summary: string; address?: string; account?: string; facts: Record<string, string> }

let ami: FakeAmiServer;
let h: DaemonHarness;
let hook: Server;
let metricsPort = 0;
const received: Received[] = [];

const alertsReceived = (): AlertEvent[] =>
  received.flatMap((r) => (JSON.parse(r.body) as { events: AlertEvent[] }).events).filter((e) => e.type === 'alert');
const now = (): string => new Date().toISOString().replace('Z', '+0000');

function chownTree(path: string): void {
  chownSync(path, NOBODY, NOBODY);
  if (statSync(path).isDirectory()) for (const f of readdirSync(path)) chownTree(join(path, f));
}

before(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  const hookPort = (hook.address() as { port: number }).port;
  ami = await FakeAmiServer.start({ username: 'alerts', secret: SECRET });
  metricsPort = await freePort();
  h = new DaemonHarness(
    () => `[asterisk]
enabled = true
backend = ami
ami_host = 127.0.0.1
ami_port = ${ami.port}
ami_ping_interval = 1
ami_ping_timeout = 1
maxretry = 100
findtime = 10m
alerts = compromise new_network wave health
alert_wave = 200
alert_ami_down = 1
action = webhook[url=env:HOOK_URL, secret=env:WEBHOOK_SECRET, digest=0, events=alerts]
`,
    `metrics = 127.0.0.1:${metricsPort}\n`,
  );
  writeFileSync(join(h.config, '.env'), `AMI_USERNAME=alerts\nAMI_SECRET=${SECRET}\nHOOK_URL=http://127.0.0.1:${hookPort}/hooks/T0KEN-in-path\nWEBHOOK_SECRET=${HOOK_SECRET}\n`);
  if (asNobody) chownTree(h.dir);
  await h.start({}, asNobody ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'] : []);
  await ami.waitForLogins(1);
});

after(async () => {
  await h.cleanup();
  await ami.close();
  await new Promise<void>((r) => hook.close(() => r()));
});

test('failures then a login from the same address: one compromise alert with the count, signed, and listed by asterisk-ban alerts', async () => {
  for (let i = 0; i < 4; i++) ami.send(securityEvent({ ip: '198.51.100.40', account: '6001', time: now() }));
  ami.send(securityEvent({ event: 'SuccessfulAuth', ip: '198.51.100.40', account: '6001', service: 'PJSIP', time: now() }));
  await waitFor(() => alertsReceived().some((a) => a.rule === 'compromise' && a.address === '198.51.100.40'), 10_000, () => h.output);
  const a = alertsReceived().filter((x) => x.rule === 'compromise' && x.address === '198.51.100.40');
  assert.equal(a.length, 1);
  assert.equal(a[0]!.severity, 'high');
  assert.equal(a[0]!.account, '6001');
  assert.match(a[0]!.summary, /account "6001" logged in from 198\.51\.100\.40 after 4 failure\(s\) from that address in the last 10m/);
  for (const r of received) {
    const ts = String(r.headers['x-asterisk-ban-timestamp']);
    const mac = createHmac('sha256', HOOK_SECRET).update(`${ts}.${r.body}`).digest('hex');
    assert.equal(r.headers['x-asterisk-ban-signature'], `sha256=${mac}`);
  }
  const cli = await h.cli('alerts', '--json');
  assert.equal(cli.code, 0, cli.stderr);
  const listed = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as AlertEvent);
  assert.ok(listed.some((x) => x.rule === 'compromise' && x.address === '198.51.100.40' && x.facts.failures === '4'));
  assert.match(await scrape(metricsPort), /asterisk_ban_alerts_total\{jail="asterisk",rule="compromise",severity="high"\} [1-9]/);
  const action = await h.cli('get', 'asterisk', 'action');
  assert.equal(action.stdout, 'webhook[url=env:HOOK_URL, secret=(hidden), digest=0, events=alerts]\n');
  const status = await h.cli('status', 'asterisk');
  assert.match(status.stdout, /alerts: +compromise new_network wave health; raised: .*compromise \(high\)/);
  assert.ok(!h.output.includes('T0KEN-in-path') && !h.output.includes(HOOK_SECRET), 'the hook URL path and secret stay out of the log');
});

test('the recorded Asterisk session: logins after real failures alert; the daemon\'s own AMI login does not', async () => {
  // The lab attacked from loopback, which is never a source we alert on: its SIP traffic is moved to a public address.
  const recording = recordedEvents(fixture('ami', 'asterisk-20.20.1-read-security.txt'))
    .replace(/IPV4\/UDP\/127\.0\.0\.1\//g, 'IPV4/UDP/203.0.113.80/')
    .replace(/EventTV: [^\r\n]+/g, `EventTV: ${now()}`);
  ami.send(recording);
  await waitFor(() => alertsReceived().some((a) => a.rule === 'compromise' && a.address === '203.0.113.80' && a.account === '6001'), 10_000, () => h.output);
  const c = alertsReceived().find((a) => a.rule === 'compromise' && a.account === '6001' && a.address === '203.0.113.80')!;
  assert.ok(Number(c.facts.failures) >= 3, c.summary);
  assert.ok(!alertsReceived().some((a) => a.account === 'alerts' || a.account === 'ban'), 'AMI logins of the daemon and the lab raise nothing');
});

test('a login from a network the account has not used alerts; the same network again does not', async () => {
  const before = alertsReceived().filter((a) => a.rule === 'new_network').length;
  ami.send(securityEvent({ event: 'SuccessfulAuth', ip: '192.0.2.10', account: '7100', service: 'PJSIP', time: now() }));
  ami.send(securityEvent({ event: 'SuccessfulAuth', ip: '192.0.2.99', account: '7100', service: 'PJSIP', time: now() }));
  ami.send(securityEvent({ event: 'SuccessfulAuth', ip: '198.18.0.5', account: '7100', service: 'PJSIP', time: now() }));
  await waitFor(() => alertsReceived().filter((a) => a.rule === 'new_network').length > before, 10_000, () => h.output);
  ami.send(securityEvent({ event: 'SuccessfulAuth', ip: '198.18.0.6', account: '7100', service: 'PJSIP', time: now() }));
  // A marker after it: once its alert is in, the login before it was processed.
  for (let i = 0; i < 3; i++) ami.send(securityEvent({ ip: '198.51.100.77', account: 'm', time: now() }));
  ami.send(securityEvent({ event: 'SuccessfulAuth', ip: '198.51.100.77', account: 'm', service: 'PJSIP', time: now() }));
  await waitFor(() => alertsReceived().some((a) => a.address === '198.51.100.77'), 10_000, () => h.output);
  const nn = alertsReceived().filter((a) => a.rule === 'new_network' && a.account === '7100');
  assert.equal(nn.length, 1, JSON.stringify(nn));
  assert.equal(nn[0]!.address, '198.18.0.5');
  assert.equal(nn[0]!.facts.network, '198.18.0.0/24');
});

test('a wave of 1,000 failures raises one alert, not one per failure', async () => {
  const frames: string[] = [];
  for (let i = 0; i < 1000; i++) frames.push(securityEvent({ ip: `100.64.${i % 50}.${1 + (i % 200)}`, account: `u${i % 9}`, time: now() }));
  ami.send(frames.join(''));
  await waitFor(() => alertsReceived().some((a) => a.rule === 'wave'), 10_000, () => h.output);
  await new Promise((r) => setTimeout(r, 1000));
  const waves = alertsReceived().filter((a) => a.rule === 'wave');
  assert.equal(waves.length, 1);
  assert.match(waves[0]!.summary, /attack wave: 200 failures in the last minute/);
  assert.match(waves[0]!.facts['top sources']!, /100\.64\./);
});

test('AMI down longer than alert_ami_down: a health alert, and another when it is back', async () => {
  await ami.close();
  await waitFor(() => alertsReceived().some((a) => a.rule === 'health' && /AMI connection .* down for/.test(a.summary)), 15_000, () => h.output);
  await ami.restart();
  await waitFor(() => alertsReceived().some((a) => a.rule === 'health' && /is back/.test(a.summary)), 20_000, () => h.output);
  const health = alertsReceived().filter((a) => a.rule === 'health');
  assert.equal(health.filter((a) => a.severity === 'warning').length, 1);
  assert.equal(health.filter((a) => a.severity === 'info').length, 1);
});

test('alert-only as nobody: no root, no firewall tools, still told', { skip: cannotRunAsNobody() }, () => {
  // The daemon above runs as nobody whenever this test runs; what it shows is that it started and alerted.
  assert.ok(alertsReceived().length >= 4);
  assert.equal(statSync(join(h.dir, 'state.sqlite3')).uid, NOBODY, 'the daemon ran as nobody');
  assert.doesNotMatch(h.output, /permission denied|EACCES|E_PERMISSION|conntrack/i);
  assert.match(h.output, /has no firewall action: it notifies only/);
});
