import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFirewallParams, resolveTags } from '../../src/actions/params.js';

const spec = (params: Record<string, string>) => ({ name: 'iptables-multiport', params, file: 'jail.conf', line: 263 });

test("fail2ban's stock tags in action parameters: <known/x> is the default, <x> a jail option", () => {
  const jail = { chain: '<known/chain>', port: '5060,5061,4569', protocol: 'udp' };
  const p = parseFirewallParams(spec({ chain: '"<known/chain>"', port: '"<port>"', name: 'asterisk-tcp' }), { allports: false, jailOptions: jail });
  assert.equal(p.chain, 'INPUT');
  assert.deepEqual(p.ports?.map((r) => [r.from, r.to]), [[5060, 5060], [5061, 5061], [4569, 4569]]);
  assert.equal(p.protocol, 'udp');
  assert.deepEqual(resolveTags({ chain: '<known/chain>', x: 'y' }, { chain: 'f2b-in' }), { chain: 'f2b-in', x: 'y' });
});

test('a tag that is not a whole value is still refused', () => {
  assert.throws(() => parseFirewallParams(spec({ chain: 'IN<x>PUT' }), { allports: false }), /not a chain name/);
  assert.throws(() => parseFirewallParams(spec({ chain: '-F' }), { allports: false }), /not a chain name/, 'iptables would read it as an option');
});
