import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mustParseBanTarget, networksOverlap, parseAddress, parseBanTarget, parseNetwork, targetOf } from '../../src/core/address.js';

test('an address is its own ban target, IPv4 and IPv6 alike', () => {
  assert.deepEqual(parseBanTarget('203.0.113.5'), { text: '203.0.113.5', family: 4, first: 3405803781n, last: 3405803781n, bits: 32 });
  const v6 = parseBanTarget('2001:DB8:0:0::5')!;
  assert.equal(v6.text, '2001:db8::5');
  assert.equal(v6.bits, 128);
  assert.equal(v6.first, v6.last);
  assert.equal(parseBanTarget('2001:db8::5/128')!.text, '2001:db8::5');
});

test('an IPv6 prefix is canonical, its host bits cleared', () => {
  const t = parseBanTarget('2001:0DB8:0001:0002:abcd::5/64')!;
  assert.equal(t.text, '2001:db8:1:2::/64');
  assert.equal(t.bits, 64);
  assert.equal(t.last - t.first, (1n << 64n) - 1n);
  assert.equal(parseBanTarget('2001:db8:1::/48')!.text, '2001:db8:1::/48');
  assert.equal(parseBanTarget('2001:db8:1:2:3:4:5:6/127')!.text, '2001:db8:1:2:3:4:5:6/127');
  // Agrees with the ignore list's (ip-num based) network parser.
  for (const text of ['2001:db8:1:2::/64', 'fd00:1:2:3::/56', '2a00:1450:4001:80b::/64', '::/64']) {
    assert.equal(parseBanTarget(text)!.text, parseNetwork(text)!.text, text);
  }
});

test('refused: IPv4 ranges, prefixes wider than /48, garbage', () => {
  for (const bad of ['203.0.113.0/24', '203.0.113.5/32', '2001:db8::/47', '2001:db8::/0', '2001:db8::/129', '2001:db8::/64x', '2001:db8::/-1', '/64', '2001:db8::/', 'x/64', '2001:db8::1/64/64', '', '1.2.3.4; reboot']) {
    assert.equal(parseBanTarget(bad), null, bad);
  }
  assert.throws(() => mustParseBanTarget('198.51.100.0/24'), /neither an IP address nor an IPv6 prefix from \/48 to \/128/);
});

test('targetOf: IPv6 by prefix, IPv4 and /128 by address', () => {
  const v6 = parseAddress('2001:db8:aa:bb:1:2:3:4')!;
  assert.equal(targetOf(v6, 64).text, '2001:db8:aa:bb::/64');
  assert.equal(targetOf(v6, 48).text, '2001:db8:aa::/48');
  assert.equal(targetOf(v6, 128).text, '2001:db8:aa:bb:1:2:3:4');
  assert.equal(targetOf(parseAddress('198.51.100.7')!, 64).text, '198.51.100.7');
  // A rotating source: every address of the /64 counts under one key.
  const keys = new Set(['2001:db8:aa:bb::1', '2001:db8:aa:bb:ffff:ffff:ffff:ffff', '2001:db8:aa:bb:1234::9'].map((a) => targetOf(parseAddress(a)!, 64).text));
  assert.deepEqual([...keys], ['2001:db8:aa:bb::/64']);
});

test('overlap of blocks', () => {
  const p = parseBanTarget('2001:db8:1:2::/64')!;
  assert.equal(networksOverlap(p, parseNetwork('2001:db8:1:2::77')!), true);
  assert.equal(networksOverlap(p, parseNetwork('2001:db8:1::/48')!), true);
  assert.equal(networksOverlap(p, parseNetwork('2001:db8:1:3::/64')!), false);
  assert.equal(networksOverlap(p, parseNetwork('192.0.2.0/24')!), false);
});
