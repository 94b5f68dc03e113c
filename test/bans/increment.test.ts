import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFormula } from '../../src/bans/formula.js';
import { compileIncrement } from '../../src/bans/increment.js';
import { expiryJitterMs } from '../../src/bans/spread.js';
import { ExpiryHeap } from '../../src/bans/schedule.js';
import { isAsteriskBanError } from '../../src/core/errors.js';
import { inc } from './fakes.js';

test('formulas fail2ban users write evaluate like Python would', () => {
  const cases: [string, number, number, number, number][] = [
    // formula, ban.Time, ban.Count, banFactor, expected
    ['ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor', 600, 3, 1, 4800],
    ['ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor', 600, 40, 1, 600 * 2 ** 20],
    ['ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)', 600, 0, 1, 600],
    ['ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)', 600, 2, 1, 600 * Math.exp(2)],
    ['min(ban.Time * 2 ** ban.Count, 86400)', 600, 10, 1, 86400],
    ['ban.Time + 60 * ban.Count // 2 - -1', 600, 3, 1, 691],
    ['ban.Time if not ban.Count > 2 and True_is_not_used == 0 else 0', 600, 0, 1, NaN],
    ['(ban.Time % 7) + abs(-3) + int(2.9) + round(1.5) + max(1, 2, 3)', 600, 0, 1, 5 + 3 + 2 + 2 + 3],
  ];
  for (const [text, time, count, factor, expected] of cases) {
    if (Number.isNaN(expected)) {
      assert.throws(() => compileFormula(text), (e) => isAsteriskBanError(e, 'E_CONFIG'), text);
      continue;
    }
    assert.ok(Math.abs(compileFormula(text)({ time, count, factor }) - expected) < 1e-6, text);
  }
});

test('anything but arithmetic is rejected at configuration time with E_CONFIG and the location', () => {
  for (const bad of ['__import__("os").system("id")', 'ban.Time; 1', 'open("/etc/passwd")', 'ban.Time.__class__', '', 'ban.Time *', '(ban.Time', 'ban.Time / 0', 'x'.repeat(600), 'lambda: 1', 'ban.Time * "2"']) {
    assert.throws(
      () => compileFormula(bad, { file: 'jail.local', line: 12 }),
      (e) => isAsteriskBanError(e, 'E_CONFIG') && e.location?.line === 12,
      bad,
    );
  }
});

test('increment: first ban plain, then formula or multipliers, capped by maxtime; permanent stays permanent', () => {
  const plain = compileIncrement(inc());
  assert.equal(plain(600, 5), 600);
  const doubling = compileIncrement(inc({ enabled: true }));
  assert.deepEqual([0, 1, 2, 3].map((c) => doubling(600, c)), [600, 1200, 2400, 4800]);
  assert.equal(doubling(-1, 3), -1);
  const factor = compileIncrement(inc({ enabled: true, factor: 3 }));
  assert.equal(factor(600, 1), 3600);
  const mult = compileIncrement(inc({ enabled: true, multipliers: [1, 2, 4, 8, 16, 32, 64] }));
  assert.deepEqual([1, 6, 99].map((c) => mult(600, c)), [1200, 38400, 38400]);
  const capped = compileIncrement(inc({ enabled: true, maxtime: 3600 }));
  assert.equal(capped(600, 10), 3600);
  const custom = compileIncrement(inc({ enabled: true, formula: 'ban.Time * (ban.Count + 1)' }));
  assert.equal(custom(600, 2), 1800);
  assert.throws(() => compileIncrement(inc({ enabled: true, formula: 'os.system(1)' })), (e) => isAsteriskBanError(e, 'E_CONFIG'));
});

test('expiry jitter only lengthens bans: rndtime plus a capped 1% spread', () => {
  assert.equal(expiryJitterMs(600, 0, () => 0), 0);
  assert.equal(expiryJitterMs(600, 0, () => 1), 6000);
  assert.equal(expiryJitterMs(86_400, 0, () => 1), 60_000, 'capped at 60 s');
  assert.equal(expiryJitterMs(600, 30, () => 0.5), 15_000 + 3000);
  assert.equal(expiryJitterMs(-1, 30, () => 1), 0, 'permanent bans get none');
});

test('expiry heap pops in order, including after a reset', () => {
  const heap = new ExpiryHeap<number>();
  const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
  for (const v of values) heap.push(v, v);
  const out: number[] = [];
  while (heap.size > 0) out.push(heap.pop()!.end);
  assert.deepEqual(out, [...values].sort((a, b) => a - b));
  heap.reset(values.map((v) => ({ end: v, token: v })));
  heap.push(-5, -5);
  assert.deepEqual(heap.popDue(2).map((e) => e.end), [-5, 0, 1, 2]);
  assert.equal(heap.peek()!.end, 3);
});

test('pushAll into a non-empty heap keeps the order, by sort or by pushes', () => {
  for (const extra of [3, 50]) {
    const heap = new ExpiryHeap<number>();
    for (const v of [40, 10, 30]) heap.push(v, v);
    const more = Array.from({ length: extra }, (_, i) => (i * 37) % 101);
    heap.pushAll(more.map((v) => ({ end: v, token: v })));
    const out: number[] = [];
    while (heap.size > 0) out.push(heap.pop()!.end);
    assert.deepEqual(out, [40, 10, 30, ...more].sort((a, b) => a - b));
  }
});
