import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BanGate, type PacketWitness } from '../../src/daemon/ban-gate.js';
import type { BanRequest } from '../../src/core/types.js';
import { memoryLogger } from '../helpers/memory-logger.js';

function request(ip: string, address?: string): BanRequest {
  return { jail: 'asterisk', ip, family: ip.includes(':') ? 6 : 4, ...(address ? { address } : {}), time: 0, source: 'log', reason: 'failregex[0]', failures: [] };
}

test('a prefix ban is verified on the address that crossed maxretry, not on the prefix text', async () => {
  const asked: string[][] = [];
  const witness: PacketWitness = { seen: async (ips) => { asked.push(ips); return new Set(ips.filter((i) => i === '2001:db8:52:1::a' || i === '203.0.113.5')); } };
  const passed: string[] = [];
  const { logger, lines } = memoryLogger();
  const gate = new BanGate('asterisk', { logger, pass: (r) => passed.push(r.ip) });
  gate.setWitness(witness);
  gate.submit(request('2001:db8:52:1::/64', '2001:db8:52:1::a'));
  gate.submit(request('2001:db8:52:2::/64', '2001:db8:52:2::b'));
  gate.submit(request('203.0.113.5'));
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [['2001:db8:52:1::a', '2001:db8:52:2::b', '203.0.113.5']]);
  assert.deepEqual(passed, ['2001:db8:52:1::/64', '203.0.113.5']);
  assert.equal(gate.refused, 1);
  assert.match(lines.join(''), /REFUSED ban of 2001:db8:52:2::\/64: 2001:db8:52:2::b never sent packets to this host/);
});
