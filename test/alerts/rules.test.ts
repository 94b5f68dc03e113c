import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Alerter } from '../../src/alerts/alerter.js';
import type { Alert } from '../../src/alerts/types.js';
import { networkOf } from '../../src/alerts/new-network.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Ban, Failure } from '../../src/core/types.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import type { AlertSettings } from '../../src/settings/alert-settings.js';
import type { SourceStatus } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { memoryLogger } from '../helpers/memory-logger.js';

interface Rig {
  clock: ManualClock;
  alerts: Alert[];
  alerter: Alerter;
  store: Store;
  sources: SourceStatus[];
  view: { refused: number; failing: Map<string, { failures: number; error: string }> };
  bans: Map<string, Ban>;
}

async function rig(alerts: Partial<AlertSettings> = {}, ignoreip: string[] = []): Promise<Rig> {
  const clock = new ManualClock();
  const store = Store.open(':memory:');
  const settings = defaultJailSettings('asterisk', { findtime: 600, alerts: { rules: ['compromise', 'health'], compromiseFailures: 3, newNetworkDays: 30, newNetworkPrefix: [24, 48], wave: 0, amiDown: 60, ...alerts } });
  const { logger } = memoryLogger();
  const ignore = await IgnoreList.resolve(ignoreip, { ignoreself: false, logger, peers: [] });
  const out: Alert[] = [];
  const sources: SourceStatus[] = [];
  const view = { refused: 0, failing: new Map<string, { failures: number; error: string }>() };
  const bans = new Map<string, Ban>();
  const alerter = new Alerter(settings, ignore, {
    clock, logger, store: store.alerts,
    bannedNow: (ip) => bans.get(ip),
    health: () => ({ sources, refused: view.refused, failingActions: view.failing }),
    emit: (a) => out.push(a),
  });
  return { clock, alerts: out, alerter, store, sources, view, bans };
}

const fail = (ip: string, clock: ManualClock, account = '6001'): Failure => ({ ip, family: ip.includes(':') ? 6 : 4, time: clock.now(), source: 'ami', reason: 'InvalidPassword', account });
const login = (clock: ManualClock, account = '6001', service = 'PJSIP') => ({ account, service, time: clock.now(), own: false });

test('compromise: a login after 3 failures from that address alerts once, high, with the count; 2 failures do not', async () => {
  const r = await rig();
  for (let i = 0; i < 37; i++) r.alerter.failure(fail('203.0.113.5', r.clock, i % 2 ? '6001' : 'admin'));
  r.alerter.failure(fail('198.51.100.9', r.clock));
  r.alerter.failure(fail('198.51.100.9', r.clock));
  r.clock.advance(1000);
  r.alerter.success('198.51.100.9', login(r.clock));
  assert.equal(r.alerts.length, 0, 'two failures are below alert_compromise_failures');
  r.alerter.success('203.0.113.5', login(r.clock));
  assert.equal(r.alerts.length, 1);
  const a = r.alerts[0]!;
  assert.equal(a.rule, 'compromise');
  assert.equal(a.severity, 'high');
  assert.equal(a.address, '203.0.113.5');
  assert.equal(a.account, '6001');
  assert.equal(a.summary, 'account "6001" logged in from 203.0.113.5 after 37 failure(s) from that address in the last 10m');
  assert.deepEqual(Object.fromEntries(a.facts).failures, '37');
  assert.match(Object.fromEntries(a.facts)['accounts tried']!, /"admin", "6001"|"6001", "admin"/);
  // The same account re-registering a minute later: no second alert within findtime.
  r.clock.advance(60_000);
  r.alerter.success('203.0.113.5', login(r.clock));
  assert.equal(r.alerts.length, 1);
});

test('compromise: failures older than findtime do not count; a login while banned alerts without failures', async () => {
  const r = await rig();
  for (let i = 0; i < 5; i++) r.alerter.failure(fail('203.0.113.6', r.clock));
  r.clock.advance(601_000);
  r.alerter.success('203.0.113.6', login(r.clock));
  assert.equal(r.alerts.length, 0);
  r.bans.set('203.0.113.7', { jail: 'asterisk', ip: '203.0.113.7', family: 4, start: r.clock.now(), end: r.clock.now() + 3_600_000, count: 1, source: 'ami', reason: 'x', failures: [] });
  r.alerter.success('203.0.113.7', login(r.clock));
  assert.equal(r.alerts.length, 1);
  assert.match(r.alerts[0]!.summary, /logged in from 203\.0\.113\.7 while it is banned \(203\.0\.113\.7 until /);
});

test('compromise: ignoreip raises nothing; the daemon\'s own AMI login never alerts', async () => {
  const r = await rig({}, ['192.0.2.0/24']);
  for (let i = 0; i < 5; i++) r.alerter.failure(fail('192.0.2.10', r.clock));
  r.alerter.success('192.0.2.10', login(r.clock));
  for (let i = 0; i < 5; i++) r.alerter.failure(fail('127.0.0.1', r.clock, 'ban'));
  r.alerter.success('127.0.0.1', { account: 'ban', service: 'AMI', time: r.clock.now(), own: true });
  assert.equal(r.alerts.length, 0);
});

test('new_network: the first login is learned silently; a new /24 alerts; the same network again does not; a network unused 30 days alerts again', async () => {
  const r = await rig({ rules: ['new_network'] });
  r.alerter.success('203.0.113.5', login(r.clock));
  assert.equal(r.alerts.length, 0);
  r.alerter.success('203.0.113.77', login(r.clock));
  assert.equal(r.alerts.length, 0, 'same /24');
  r.alerter.success('198.51.100.20', login(r.clock));
  assert.equal(r.alerts.length, 1);
  assert.equal(r.alerts[0]!.rule, 'new_network');
  assert.equal(r.alerts[0]!.severity, 'warning');
  assert.match(r.alerts[0]!.summary, /account "6001" logged in from 198\.51\.100\.20, a network it has not used in 30 day\(s\) \(198\.51\.100\.0\/24\)/);
  r.alerter.success('198.51.100.21', login(r.clock));
  assert.equal(r.alerts.length, 1);
  // Kept in SQLite: a fresh alerter over the same store knows both networks.
  assert.deepEqual([...r.store.alerts.networks('PJSIP/6001').keys()].sort(), ['198.51.100.0/24', '203.0.113.0/24']);
  r.clock.advance(31 * 86_400_000);
  r.alerter.success('198.51.100.22', login(r.clock));
  assert.equal(r.alerts.length, 2, 'unused for longer than alert_new_network_days');
  // IPv6 by /48.
  r.alerter.success('2001:db8:1:2::5', login(r.clock));
  r.alerter.success('2001:db8:1:3::5', login(r.clock));
  assert.equal(r.alerts.length, 3);
  assert.equal(Object.fromEntries(r.alerts[2]!.facts).network, '2001:db8:1::/48');
});

test('networkOf: /24 and /48 by default, any prefix given', () => {
  assert.equal(networkOf('203.0.113.77', 24, 48), '203.0.113.0/24');
  assert.equal(networkOf('203.0.113.77', 16, 48), '203.0.0.0/16');
  assert.equal(networkOf('2001:db8:abcd:12::1', 24, 48), '2001:db8:abcd::/48');
  assert.equal(networkOf('2001:db8:abcd:12::1', 24, 64), '2001:db8:abcd:12::/64');
  assert.equal(networkOf('not an address', 24, 48), null);
});

test('wave: 1,000 failures a minute make one alert with the top sources, and one when it is over', async () => {
  const r = await rig({ rules: ['wave'], wave: 500 });
  r.alerter.start();
  for (let i = 0; i < 1000; i++) {
    r.alerter.failure(fail(`198.51.100.${i % 7}`, r.clock, `user${i % 3}`));
    if (i % 20 === 0) r.clock.advance(1000);
  }
  const started = r.alerts.filter((a) => a.rule === 'wave');
  assert.equal(started.length, 1, 'one alert per wave, not one per failure');
  assert.equal(started[0]!.severity, 'warning');
  assert.match(started[0]!.summary, /attack wave: 500 failures in the last minute/);
  assert.match(Object.fromEntries(started[0]!.facts)['top sources']!, /198\.51\.100\.\d \(\d+\)/);
  for (let i = 0; i < 40; i++) r.clock.advance(5_000);
  assert.equal(r.alerts.length, 2);
  assert.equal(r.alerts[1]!.severity, 'info');
  assert.match(r.alerts[1]!.summary, /attack wave over in jail asterisk: 1000 failures, peak \d+\/min/);
  r.alerter.stop();
});

test('health: AMI down longer than alert_ami_down alerts once, and once when it is back; reconnect attempts do not restart the wait', async () => {
  const r = await rig({ amiDown: 60 });
  r.alerter.start();
  const ami: SourceStatus = { name: 'ami', kind: 'ami', state: 'ready', since: r.clock.now() };
  r.sources.push(ami);
  r.clock.advance(10_000);
  Object.assign(ami, { state: 'reconnecting', since: r.clock.now() });
  for (let i = 0; i < 11; i++) {
    r.clock.advance(5_000);
    // Each retry is a state change with a new `since`.
    Object.assign(ami, { state: i % 2 ? 'connecting' : 'reconnecting', since: r.clock.now() });
  }
  assert.equal(r.alerts.length, 0, '55 s down');
  r.clock.advance(10_000);
  assert.equal(r.alerts.length, 1);
  assert.equal(r.alerts[0]!.rule, 'health');
  assert.match(r.alerts[0]!.summary, /^AMI connection ami down for 1m/);
  r.clock.advance(60_000);
  assert.equal(r.alerts.length, 1, 'once per outage');
  Object.assign(ami, { state: 'ready', since: r.clock.now() });
  r.clock.advance(5_000);
  assert.equal(r.alerts.length, 2);
  assert.equal(r.alerts[1]!.severity, 'info');
  assert.match(r.alerts[1]!.summary, /AMI connection ami is back/);
  r.alerter.stop();
});

test('health: an action failing three times in a row alerts (high) and again when it works; verification refusals alert at most every 10 minutes', async () => {
  const r = await rig();
  r.alerter.start();
  r.view.failing.set('nftables-allports', { failures: 2, error: 'nft: Operation not permitted' });
  r.clock.advance(5_000);
  assert.equal(r.alerts.length, 0);
  r.view.failing.set('nftables-allports', { failures: 3, error: 'nft: Operation not permitted' });
  r.clock.advance(5_000);
  assert.equal(r.alerts.length, 1);
  assert.equal(r.alerts[0]!.severity, 'high');
  assert.match(r.alerts[0]!.summary, /action nftables-allports failed 3 times in a row/);
  r.view.failing.clear();
  r.clock.advance(5_000);
  assert.equal(r.alerts.length, 2);
  assert.match(r.alerts[1]!.summary, /works again/);
  r.view.refused = 4;
  r.clock.advance(5_000);
  assert.equal(r.alerts.length, 3);
  assert.match(r.alerts[2]!.summary, /verification refused 4 ban\(s\)/);
  r.view.refused = 9;
  r.clock.advance(5_000);
  assert.equal(r.alerts.length, 3, 'throttled');
  r.clock.advance(600_000);
  assert.equal(r.alerts.length, 4);
  assert.match(r.alerts[3]!.summary, /verification refused 5 ban\(s\)/);
  r.alerter.stop();
});

test('rules that are off cost nothing and raise nothing', async () => {
  const r = await rig({ rules: [] });
  r.alerter.start();
  for (let i = 0; i < 10; i++) r.alerter.failure(fail('203.0.113.5', r.clock));
  r.alerter.success('203.0.113.5', login(r.clock));
  r.sources.push({ name: 'ami', kind: 'ami', state: 'reconnecting', since: r.clock.now() });
  r.clock.advance(600_000);
  assert.equal(r.alerts.length, 0);
  r.alerter.stop();
});

test('health: a log that stops growing while AMI reports failures alerts once, and once when it grows again', async () => {
  const r = await rig();
  r.alerter.start();
  const ami: SourceStatus = { name: 'asterisk', kind: 'ami', state: 'ready', since: r.clock.now(), failures: 0 };
  const log: SourceStatus = { name: 'asterisk', kind: 'log', state: 'following', since: r.clock.now(), detail: '/var/log/asterisk/messages, mode gaps', grewAt: r.clock.now() };
  r.sources.push(ami, log);
  r.clock.advance(5_000);
  // Quiet on both sides for an hour: nothing to say.
  r.clock.advance(3_600_000);
  assert.equal(r.alerts.length, 0);
  ami.failures = 40;
  r.clock.advance(5_000);
  assert.equal(r.alerts.length, 1);
  assert.match(r.alerts[0]!.summary, /^log \/var\/log\/asterisk\/messages has not grown for 1h.* while AMI reported 40 failure\(s\)/);
  ami.failures = 80;
  r.clock.advance(60_000);
  assert.equal(r.alerts.length, 1, 'once');
  log.grewAt = r.clock.now();
  r.clock.advance(5_000);
  assert.equal(r.alerts.length, 2);
  assert.match(r.alerts[1]!.summary, /growing again/);
  r.alerter.stop();
});

test('the compromise record is bounded: a flood of new addresses keeps at most maxAddresses, the recent ones', async () => {
  const { RecentFailures } = await import('../../src/alerts/recent-failures.js');
  const clock = new ManualClock();
  const rec = new RecentFailures(600_000, 1_000);
  for (let i = 0; i < 10_000; i++) rec.add(fail(`10.0.${i >> 8}.${i & 255}`, clock));
  assert.ok(rec.size <= 1_000, `${rec.size}`);
  assert.equal(rec.of(`10.0.${9_999 >> 8}.${9_999 & 255}`, clock.now()).count, 1);
  assert.equal(rec.of('10.0.0.0', clock.now()).count, 0, 'the oldest went first');
});
