import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/clock.js';
import type { Failure } from '../../src/core/types.js';
import { FleetCountGate } from '../../src/daemon/fleet-count-gate.js';
import type { PacketWitness } from '../../src/daemon/ban-gate.js';
import { memoryLogger } from '../helpers/memory-logger.js';

const f = (ip: string): Failure => ({ ip, family: 4, time: Date.now(), source: 'log', reason: 'InvalidPassword' });
const tick = () => new Promise((r) => setTimeout(r, 20));

function gate(witness: PacketWitness | null) {
  const { logger, lines } = memoryLogger();
  const counted: string[] = [];
  const g = new FleetCountGate('asterisk', { clock: systemClock, logger, witness: () => witness, count: (x) => counted.push(x.ip) });
  return { g, counted, lines };
}

test('with verification on, only addresses conntrack has seen add to the fleet-wide count', async () => {
  const asked: string[][] = [];
  const { g, counted, lines } = gate({ seen: async (ips) => (asked.push(ips), new Set(ips.filter((ip) => ip.startsWith('203.')))) });
  for (const ip of ['203.0.113.5', '198.51.100.7', '203.0.113.5', '198.51.100.7']) g.submit(f(ip));
  await tick();
  assert.deepEqual(counted, ['203.0.113.5', '203.0.113.5']);
  assert.deepEqual(asked, [['203.0.113.5', '198.51.100.7']], 'one lookup per tick, each address once');
  assert.equal(g.unseen, 2);
  assert.equal(lines.filter((l) => /not adding 198\.51\.100\.7's failure to the fleet-wide count: it never sent packets/.test(l)).length, 1, 'said once a minute');
});

test('a failing lookup adds nothing to the fleet-wide count, and says so', async () => {
  const { g, counted, lines } = gate({ seen: async () => { throw new Error('conntrack: broken'); } });
  g.submit(f('203.0.113.5'));
  await tick();
  assert.deepEqual(counted, []);
  assert.ok(lines.some((l) => /conntrack lookup failed \(conntrack: broken\)/.test(l)));
});

test('without verification every counted failure goes on at once', () => {
  const { g, counted } = gate(null);
  g.submit(f('203.0.113.5'));
  assert.deepEqual(counted, ['203.0.113.5']);
});
