import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { parseNetwork, networkContains, type Address } from '../../src/core/address.js';
import type { BanRequest, Failure } from '../../src/core/types.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import { Jail } from '../../src/jail/jail.js';
import { FailureCounter } from '../../src/jail/counter.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { memoryLogger } from '../helpers/memory-logger.js';

function failure(ip: string, time: number, reason = 'InvalidPassword', source: Failure['source'] = 'ami'): Failure {
  return { ip, family: ip.includes(':') ? 6 : 4, time, source, reason };
}

function setup(overrides = {}, ignore?: string[], live = true) {
  const clock = new ManualClock();
  const bans: BanRequest[] = [];
  const nets = (ignore ?? []).map((t) => parseNetwork(t)!);
  const jail = new Jail(defaultJailSettings('asterisk', { maxretry: 3, findtime: 60, ...overrides }), {
    clock,
    logger: silentLogger(),
    ignore: { has: (a: Address) => nets.some((n) => networkContains(n, a)) },
    onBan: (r) => bans.push(r),
  });
  // Live, failures arrive as they happen: the clock moves on to each one's time.
  const addFailure = jail.addFailure.bind(jail);
  if (live) {
    jail.addFailure = (f: Failure) => {
      if (f.time > clock.now()) clock.set(f.time);
      return addFailure(f);
    };
  }
  return { clock, bans, jail };
}

test('bans the moment maxretry is reached, once', () => {
  const { clock, bans, jail } = setup();
  const t = clock.now();
  jail.addFailure(failure('203.0.113.5', t));
  jail.addFailure(failure('203.0.113.5', t + 1000));
  assert.equal(bans.length, 0);
  jail.addFailure(failure('203.0.113.5', t + 2000, 'ChallengeResponseFailed'));
  assert.equal(bans.length, 1);
  assert.equal(bans[0]!.ip, '203.0.113.5');
  assert.equal(bans[0]!.failures.length, 3);
  assert.deepEqual(bans[0]!.failures.map((f) => f.reason), ['InvalidPassword', 'InvalidPassword', 'ChallengeResponseFailed']);
  assert.equal(bans[0]!.time, t + 2000);
  // The counter starts again after a ban request.
  jail.addFailure(failure('203.0.113.5', t + 3000));
  assert.equal(bans.length, 1);
  jail.stop();
});

test('failures older than findtime do not count', () => {
  const { clock, bans, jail } = setup();
  const t = clock.now();
  jail.addFailure(failure('203.0.113.6', t));
  jail.addFailure(failure('203.0.113.6', t + 1000));
  jail.addFailure(failure('203.0.113.6', t + 61_500));
  assert.equal(bans.length, 0);
  jail.addFailure(failure('203.0.113.6', t + 62_000));
  assert.equal(bans.length, 0);
  jail.addFailure(failure('203.0.113.6', t + 62_500));
  assert.equal(bans.length, 1);
  jail.stop();
});

test('ignored addresses are neither counted nor banned; v4-mapped v6 is the v4 address', () => {
  const { clock, bans, jail } = setup({}, ['192.0.2.0/24', '2001:db8:1::/48']);
  const t = clock.now();
  for (let i = 0; i < 5; i++) {
    jail.addFailure(failure('192.0.2.7', t + i));
    jail.addFailure(failure('::ffff:192.0.2.8', t + i));
    jail.addFailure(failure('2001:db8:1::99', t + i));
  }
  assert.equal(bans.length, 0);
  assert.equal(jail.counters().currentlyFailed, 0);
  assert.equal(jail.counters().ignored, 15);
  jail.stop();
});

test('addresses are normalised before counting', () => {
  const { clock, bans, jail } = setup({ ipv6Prefix: 128 });
  const t = clock.now();
  jail.addFailure(failure('2001:DB8::1', t));
  jail.addFailure(failure('2001:db8:0::1', t + 1));
  jail.addFailure(failure('[2001:db8::1]', t + 2));
  assert.equal(bans.length, 1);
  assert.equal(bans[0]!.ip, '2001:db8::1');
  assert.equal(bans[0]!.family, 6);
  jail.stop();
});

test('garbage addresses are dropped', () => {
  const { clock, bans, jail } = setup({ maxretry: 1 });
  for (const bad of ['', 'example.com', '999.1.1.1', '1.2.3.4; rm -rf /', 'fe80::1%eth0', 'x'.repeat(1000)]) {
    jail.addFailure(failure(bad, clock.now()));
  }
  assert.equal(bans.length, 0);
  jail.stop();
});

test('clearFailures forgets an address', () => {
  const { clock, bans, jail } = setup();
  const t = clock.now();
  jail.addFailure(failure('198.51.100.4', t));
  jail.addFailure(failure('198.51.100.4', t + 1));
  jail.clearFailures('198.51.100.4');
  jail.addFailure(failure('198.51.100.4', t + 2));
  assert.equal(bans.length, 0);
  jail.stop();
});

test('expired entries are swept on the clock', () => {
  const { clock, jail } = setup();
  jail.addFailure(failure('198.51.100.9', clock.now()));
  assert.equal(jail.counters().currentlyFailed, 1);
  clock.advance(130_000);
  assert.equal(jail.counters().currentlyFailed, 0);
  jail.stop();
});

test('the counter is bounded: the least recently failing address is evicted', () => {
  const c = new FailureCounter({ maxretry: 3, findtime: 600_000, maxtracked: 100 });
  for (let i = 0; i < 250; i++) c.add(`10.0.${i >> 8}.${i & 255}`, 1000 + i, 0);
  assert.equal(c.size, 100);
  assert.equal(c.evicted, 150);
  assert.equal(c.has('10.0.0.249'), true);
  assert.equal(c.has('10.0.0.0'), false);
  // Slots are reused: a re-added address starts from zero.
  assert.equal(c.add('10.0.0.0', 5000, 0).count, 1);
});

test('reconfigure keeps counts when maxretry is unchanged', () => {
  const { clock, bans, jail } = setup();
  const t = clock.now();
  jail.addFailure(failure('198.51.100.20', t));
  jail.addFailure(failure('198.51.100.20', t + 1));
  jail.reconfigure(defaultJailSettings('asterisk', { maxretry: 3, findtime: 120 }));
  jail.addFailure(failure('198.51.100.20', t + 2));
  assert.equal(bans.length, 1);
  jail.stop();
});

test('a failure dated before findtime is ignored and counted as too old; it never bans', () => {
  const { clock, bans, jail } = setup({ maxretry: 1 });
  const now = clock.now();
  jail.addFailure(failure('203.0.113.70', now - 61_000, 'failregex 0', 'log'));
  jail.addFailure(failure('203.0.113.70', now - 3 * 365 * 86400_000, 'failregex 0', 'log'));
  assert.equal(bans.length, 0);
  assert.deepEqual(jail.counters(), { currentlyFailed: 0, totalFailed: 0, ignored: 0, tooOld: 2, future: 0, recentSuccess: 0 });
  jail.addFailure(failure('203.0.113.70', now - 59_000, 'failregex 0', 'log'));
  assert.equal(bans.length, 1, 'inside findtime it counts');
  jail.stop();
});

test('a future date counts as now and does not hold back the expiry of anything', () => {
  const { clock, bans, jail } = setup({ maxretry: 3 }, undefined, false);
  const now = clock.now();
  const nextYear = now + 365 * 86400_000;
  jail.addFailure(failure('203.0.113.71', nextYear, 'failregex 0', 'log'));
  for (let i = 0; i < 1000; i++) jail.addFailure(failure(`198.51.${i >> 8}.${i & 255}`, clock.now()));
  assert.equal(jail.counters().future, 1);
  assert.equal(jail.counters().currentlyFailed, 1001);
  clock.advance(130_000);
  assert.equal(jail.counters().currentlyFailed, 0, 'every address expired, the future-dated one first in line too');
  // Its failures were taken as "now": two more an hour later do not make three.
  jail.addFailure(failure('203.0.113.71', nextYear, 'failregex 0', 'log'));
  clock.advance(3_600_000);
  jail.addFailure(failure('203.0.113.71', clock.now()));
  jail.addFailure(failure('203.0.113.71', clock.now()));
  assert.equal(bans.length, 0);
  jail.stop();
});

test("an AMI event dated off the window by Asterisk's clock counts at its arrival", () => {
  const { clock, bans, jail } = setup({ maxretry: 2 }, undefined, false);
  const now = clock.now();
  jail.addFailure(failure('203.0.113.72', now - 20 * 60_000));
  jail.addFailure(failure('203.0.113.72', now + 86400_000));
  assert.equal(bans.length, 1);
  assert.equal(bans[0]!.time, now);
  assert.deepEqual(bans[0]!.failures.map((f) => f.time), [now, now]);
  assert.deepEqual([jail.counters().tooOld, jail.counters().future], [0, 0]);
  jail.stop();
});

test('ignore_recent_success: an address that logged in is not banned on log lines alone; AMI failures still count', () => {
  const { jail, bans, clock } = setup({ maxretry: 2, ignoreRecentSuccess: 3600 });
  const t = clock.now();
  jail.succeeded('203.0.113.5', false);
  jail.addFailure(failure('203.0.113.5', t, 'sip_register', 'log'));
  jail.addFailure(failure('203.0.113.5', t, 'sip_register', 'log'));
  assert.equal(bans.length, 0);
  assert.equal(jail.counters().recentSuccess, 2);
  jail.addFailure(failure('203.0.113.5', t));
  jail.addFailure(failure('203.0.113.5', t));
  assert.deepEqual(bans.map((b) => b.ip), ['203.0.113.5'], 'AMI failures count whatever the logins');
  // An hour and a second later the login no longer vouches for it.
  clock.set(t + 3_601_000);
  jail.addFailure(failure('203.0.113.5', clock.now(), 'sip_register', 'log'));
  jail.addFailure(failure('203.0.113.5', clock.now(), 'sip_register', 'log'));
  assert.equal(bans.length, 2);
});

test('without ignore_recent_success a login vouches for nothing; with ami_success_clears it still forgets failures', () => {
  const { jail, bans, clock } = setup({ maxretry: 2 });
  jail.addFailure(failure('203.0.113.6', clock.now(), 'sip_register', 'log'));
  jail.succeeded('203.0.113.6', true);
  jail.addFailure(failure('203.0.113.6', clock.now(), 'sip_register', 'log'));
  assert.equal(bans.length, 0, 'the failure before the login was forgotten');
  jail.succeeded('203.0.113.6', false);
  jail.addFailure(failure('203.0.113.6', clock.now(), 'sip_register', 'log'));
  assert.equal(bans.length, 1);
});

function prefixSetup(overrides = {}, ignoreEntries: string[] = []) {
  const clock = new ManualClock();
  const bans: BanRequest[] = [];
  const { logger, lines: warnings } = memoryLogger();
  const list = IgnoreList.fromEntries(ignoreEntries, { ignoreself: false });
  const jail = new Jail(defaultJailSettings('asterisk', { maxretry: 3, findtime: 60, ...overrides }), { clock, logger, ignore: list, onBan: (r) => bans.push(r) });
  return { clock, bans, jail, warnings };
}

test('IPv6 counts by /64: a source rotating addresses is banned as its prefix', () => {
  const { clock, bans, jail } = prefixSetup();
  const t = clock.now();
  jail.addFailure(failure('2001:db8:aa:bb::1', t));
  jail.addFailure(failure('2001:db8:aa:bb::2', t));
  assert.deepEqual(jail.failing(), [{ ip: '2001:db8:aa:bb::/64', count: 2 }]);
  jail.addFailure(failure('2001:db8:aa:bb:ffff::3', t));
  assert.equal(bans.length, 1);
  assert.equal(bans[0]!.ip, '2001:db8:aa:bb::/64');
  assert.equal(bans[0]!.address, '2001:db8:aa:bb:ffff::3');
  assert.equal(bans[0]!.family, 6);
  assert.deepEqual(bans[0]!.failures.map((f) => f.ip), ['2001:db8:aa:bb::/64', '2001:db8:aa:bb::/64', '2001:db8:aa:bb:ffff::3']);
  // Another /64 counts apart; IPv4 stays per address.
  jail.addFailure(failure('2001:db8:aa:bc::1', t));
  jail.addFailure(failure('198.51.100.1', t));
  jail.addFailure(failure('198.51.100.2', t));
  jail.addFailure(failure('198.51.100.3', t));
  assert.equal(bans.length, 1);
  jail.stop();
});

test('ipv6_prefix = 128 counts per address, 48 per site', () => {
  const per = prefixSetup({ ipv6Prefix: 128 });
  for (const a of ['2001:db8::1', '2001:db8::2', '2001:db8::3']) per.jail.addFailure(failure(a, per.clock.now()));
  assert.equal(per.bans.length, 0);
  for (let i = 0; i < 3; i++) per.jail.addFailure(failure('2001:db8::9', per.clock.now()));
  assert.equal(per.bans[0]!.ip, '2001:db8::9');
  assert.equal(per.bans[0]!.address, undefined);
  per.jail.stop();
  const site = prefixSetup({ ipv6Prefix: 48 });
  for (const a of ['2001:db8:7:1::1', '2001:db8:7:2::1', '2001:db8:7:ffff::1']) site.jail.addFailure(failure(a, site.clock.now()));
  assert.equal(site.bans[0]!.ip, '2001:db8:7::/48');
  site.jail.stop();
});

test('a prefix holding an ignored address is never banned whole: the address alone is, and the log says why', () => {
  const { clock, bans, jail, warnings } = prefixSetup({}, ['2001:db8:aa:bb::5060']);
  const t = clock.now();
  jail.addFailure(failure('2001:db8:aa:bb::1', t));
  jail.addFailure(failure('2001:db8:aa:bb::5060', t));
  jail.addFailure(failure('2001:db8:aa:bb::2', t));
  // The ignored address itself never counts.
  assert.equal(bans.length, 0);
  jail.addFailure(failure('2001:db8:aa:bb::3', t));
  assert.equal(bans.length, 1);
  assert.equal(bans[0]!.ip, '2001:db8:aa:bb::3');
  assert.equal(bans[0]!.address, undefined);
  assert.ok(warnings.some((w) => w.includes('banning 2001:db8:aa:bb::3 alone, not 2001:db8:aa:bb::/64') && w.includes('2001:db8:aa:bb::5060')), warnings.join('\n'));
  jail.stop();
});

test('a successful login clears the failures of its prefix', () => {
  const { clock, bans, jail } = prefixSetup();
  const t = clock.now();
  jail.addFailure(failure('2001:db8:aa:bb::1', t));
  jail.addFailure(failure('2001:db8:aa:bb::2', t));
  jail.succeeded('2001:db8:aa:bb::3', true);
  jail.addFailure(failure('2001:db8:aa:bb::4', t));
  assert.equal(bans.length, 0);
  jail.clearFailures('2001:db8:aa:bb::/64');
  assert.deepEqual(jail.failing(), []);
  jail.stop();
});
