import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Serial } from '../../src/actions/serial.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

test('what arrives while a command runs goes into the next one, together', async () => {
  const s = new Serial();
  const calls: number[][] = [];
  let release!: () => void;
  const first = s.run(() => new Promise<void>((r) => (release = r)));
  const apply = async (all: number[]) => {
    calls.push(all);
    return all.length;
  };
  const results = [s.gather([1], apply), s.gather([2, 3], apply), s.gather([4], apply)];
  await tick();
  assert.deepEqual(calls, [], 'nothing runs before the running command ends');
  release();
  await first;
  assert.deepEqual(await Promise.all(results), [4, 4, 4]);
  assert.deepEqual(calls, [[1, 2, 3, 4]]);
});

test('a batch never jumps over an operation queued after it', async () => {
  const s = new Serial();
  const order: string[] = [];
  let release!: () => void;
  void s.run(() => new Promise<void>((r) => (release = r)));
  const ban = (all: string[]) => (order.push(`ban ${all.join(',')}`), Promise.resolve());
  const a = s.gather(['x'], ban);
  const unban = s.run(async () => void order.push('unban x'));
  const b = s.gather(['x'], ban);
  await tick();
  release();
  await Promise.all([a, unban, b]);
  assert.deepEqual(order, ['ban x', 'unban x', 'ban x']);
});

test('every caller of a failed batch gets the error; the queue goes on', async () => {
  const s = new Serial();
  let release!: () => void;
  void s.run(() => new Promise<void>((r) => (release = r)));
  const fail = () => Promise.reject(new Error('nft: rejected'));
  const a = s.gather([1], fail);
  const b = s.gather([2], fail);
  await tick();
  release();
  await assert.rejects(a, /rejected/);
  await assert.rejects(b, /rejected/);
  assert.equal(await s.gather([3], async (all) => all.length), 1);
});
