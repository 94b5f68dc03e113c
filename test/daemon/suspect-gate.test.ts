import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SuspectGate } from '../../src/daemon/suspect-gate.js';
import type { PacketWitness } from '../../src/daemon/ban-gate.js';
import { silentLogger } from '../../src/core/logger.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Failure } from '../../src/core/types.js';
import { metrics } from '../../src/control/metrics.js';

const suspect = (ip: string): Failure => ({ ip, family: 4, time: 0, source: 'log', reason: 'failregex[0]', raw: `line naming ${ip}`, suspect: true });

async function outcome(jail: string, o: string): Promise<number> {
  return (await metrics.logSuspect.get()).values.find((v) => v.labels.jail === jail && v.labels.outcome === o)?.value ?? 0;
}

test('a suspect line counts only when conntrack saw its address; the count drops the mark', async () => {
  const counted: Failure[] = [];
  const asked: string[][] = [];
  const witness: PacketWitness = { seen: async (ips) => { asked.push(ips); return new Set(ips.filter((i) => i === '203.0.113.5')); } };
  const logger = silentLogger();
  const gate = new SuspectGate('sg1', { clock: new ManualClock(0), logger, witness: () => witness, count: (f) => counted.push(f) });
  gate.submit(suspect('203.0.113.5'));
  gate.submit(suspect('10.99.99.99'));
  gate.submit(suspect('203.0.113.5'));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [['203.0.113.5', '10.99.99.99']], 'one lookup for the lines of one tick');
  assert.deepEqual(counted.map((f) => f.ip), ['203.0.113.5', '203.0.113.5']);
  assert.equal(counted[0]!.suspect, undefined);
  assert.equal(await outcome('sg1', 'counted'), 2);
  assert.equal(await outcome('sg1', 'refused'), 1);
});

test('without verification a suspect line is never counted, and a failing lookup counts none', async () => {
  const counted: Failure[] = [];
  const logger = silentLogger();
  let witness: PacketWitness | null = null;
  const gate = new SuspectGate('sg2', { clock: new ManualClock(0), logger, witness: () => witness, count: (f) => counted.push(f) });
  gate.submit(suspect('203.0.113.6'));
  assert.equal(await outcome('sg2', 'unverified'), 1);
  witness = { seen: async () => { throw new Error('conntrack died'); } };
  gate.submit(suspect('203.0.113.6'));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(counted, []);
  assert.equal(await outcome('sg2', 'refused'), 1);
});
