import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IgnoreList } from '../../src/jail/ignore.js';
import { mustParseAddress, mustParseBanTarget } from '../../src/core/address.js';
import { isAsteriskBanError } from '../../src/core/errors.js';

const has = (list: IgnoreList, ip: string): boolean => list.has(mustParseAddress(ip));

test('exact addresses and CIDR ranges, v4 and v6', () => {
  const list = IgnoreList.fromEntries(['192.0.2.7', '198.51.100.0/24', '2001:db8::1', '2001:db8:1::/48', '203.0.113.9/32'], { ignoreself: false });
  const cases: [string, boolean][] = [
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['198.51.100.0', true],
    ['198.51.100.255', true],
    ['198.51.101.0', false],
    ['2001:db8::1', true],
    ['2001:DB8:0:0:0:0:0:1', true],
    ['2001:db8::2', false],
    ['2001:db8:1:ffff::5', true],
    ['2001:db8:2::5', false],
    ['203.0.113.9', true],
    ['::ffff:192.0.2.7', true],
    ['203.0.113.10', false],
  ];
  for (const [ip, expected] of cases) assert.equal(has(list, ip), expected, ip);
});

test('loopback is always ignored, even with an empty list and ignoreself off', () => {
  const list = IgnoreList.fromEntries([], { ignoreself: false });
  assert.equal(has(list, '127.0.0.1'), true);
  assert.equal(has(list, '127.255.1.2'), true);
  assert.equal(has(list, '::1'), true);
  assert.equal(has(list, '10.0.0.1'), false);
});

test('ignoreself adds the given own addresses, and is on by default', () => {
  const on = IgnoreList.fromEntries([], { selfAddresses: ['10.1.2.3', 'fd00::5'] });
  assert.equal(has(on, '10.1.2.3'), true);
  assert.equal(has(on, 'fd00::5'), true);
  const off = IgnoreList.fromEntries([], { ignoreself: false, selfAddresses: ['10.1.2.3'] });
  assert.equal(has(off, '10.1.2.3'), false);
});

test('ignoreself default reads this host\'s interfaces', () => {
  const list = IgnoreList.fromEntries([]);
  assert.ok(list.describe().some((d) => d.endsWith('(self)')));
});

test('garbage entries are E_CONFIG; hostnames are kept for resolving', () => {
  for (const bad of ['1.2.3.4/33', '999.1.1.1', 'bad host', '10.0.0.0/abc', '-x.example', 'a'.repeat(300)]) {
    assert.throws(() => IgnoreList.fromEntries([bad], { ignoreself: false }), (e) => isAsteriskBanError(e, 'E_CONFIG'), bad);
  }
  const list = IgnoreList.fromEntries(['pbx.example.org'], { ignoreself: false });
  assert.deepEqual(list.hostnames, ['pbx.example.org']);
  assert.ok(list.describe().includes('pbx.example.org (unresolved)'));
});

test('resolve() uses the injected lookup and skips a failing name', async () => {
  const warnings: string[] = [];
  const logger = { warn: (m: string) => { warnings.push(m); } } as unknown as import('../../src/core/logger.js').Logger;
  const list = await IgnoreList.resolve(['pbx.example.org', 'gone.example.org', '192.0.2.1'], {
    ignoreself: false,
    logger,
    lookup: async (h) => {
      if (h === 'pbx.example.org') return ['198.51.100.20', '2001:db8::20'];
      throw new Error('ENOTFOUND');
    },
  });
  assert.equal(has(list, '198.51.100.20'), true);
  assert.equal(has(list, '2001:db8::20'), true);
  assert.equal(has(list, '192.0.2.1'), true);
  assert.equal(has(list, '198.51.100.21'), false);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /gone\.example\.org/);
  assert.ok(list.describe().includes('198.51.100.20 (pbx.example.org)'));
});

test('Asterisk peers join the list with where they were read; names resolve through the given lookup', async () => {
  const asked: string[] = [];
  const list = await IgnoreList.resolve(['192.0.2.1'], {
    ignoreself: false,
    peers: [
      { entry: '203.0.113.10', origin: 'pjsip.conf:3 [provider] match' },
      { entry: '198.51.100.0/28', origin: 'pjsip.conf:7 [provider] match' },
      { entry: 'sip.provider.test', origin: 'pjsip.conf:9 [provider] match' },
    ],
    lookup: async (h) => {
      asked.push(h);
      return ['2001:db8:70::5'];
    },
  });
  assert.deepEqual(asked, ['sip.provider.test']);
  assert.equal(list.why(mustParseAddress('203.0.113.10')), '203.0.113.10 (asterisk peer pjsip.conf:3 [provider] match)');
  assert.equal(list.why(mustParseAddress('198.51.100.9')), '198.51.100.0/28 (asterisk peer pjsip.conf:7 [provider] match)');
  assert.equal(list.why(mustParseAddress('2001:db8:70::5')), '2001:db8:70::5 (sip.provider.test, asterisk peer pjsip.conf:9 [provider] match)');
  assert.equal(list.why(mustParseAddress('192.0.2.1')), '192.0.2.1');
  assert.equal(list.why(mustParseAddress('203.0.113.11')), null);
});

test('a prefix overlaps the list when any entry shares an address with it', () => {
  const list = IgnoreList.fromEntries(['2001:db8:1:2::77', '2001:db8:9::/48', '192.0.2.7'], { ignoreself: true, selfAddresses: ['2001:db8:5:6::1'] });
  const over = (t: string) => list.overlapping(mustParseBanTarget(t));
  assert.equal(over('2001:db8:1:2::/64'), '2001:db8:1:2::77');
  assert.equal(over('2001:db8:1::/48'), '2001:db8:1:2::77');
  assert.equal(over('2001:db8:9:4::/64'), '2001:db8:9::/48');
  assert.equal(over('2001:db8:5:6::/64'), '2001:db8:5:6::1 (self)');
  assert.equal(over('2001:db8:1:3::/64'), null);
  // One address: as why().
  assert.equal(over('2001:db8:1:2::77'), '2001:db8:1:2::77');
  assert.equal(over('2001:db8:9:1::1'), '2001:db8:9::/48');
  assert.equal(over('192.0.2.7'), '192.0.2.7');
  assert.equal(over('192.0.2.8'), null);
  assert.equal(over('::1'), '::1 (always)');
});
