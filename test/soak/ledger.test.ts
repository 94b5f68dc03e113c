// The soak's own bookkeeping: a soak that cannot see a late, wrong or lost
// ban proves nothing, so its checks are tested on made-up kernel listings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ledger } from './ledger.js';
import { BurstStream, addressPool, seeded } from './bursts.js';
import type { KernelView } from './kernel.js';

const TABLES = ['asban-ami', 'asban-log'];

function view(start: number, addrs: string[], end = start + 10): KernelView {
  return {
    start,
    end,
    tables: new Map(TABLES.map((t) => [t, 2])),
    elements: new Map(addrs.map((a) => [a, { table: 'asban-ami', expires: 100 }])),
    duplicates: [],
  };
}

function ledger(): Ledger {
  const l = new Ledger({ bantimeMs: 120_000, deadlineMs: 1_000, ignored: new Set(['10.99.0.1']), tables: TABLES });
  l.lifeBegins(0);
  l.lifeReady(100);
  return l;
}

test('a due address the kernel does not show within the deadline is late; one it shows is not', () => {
  const l = ledger();
  l.cross('ami', { a: '10.64.0.1', t0: 1_000, t: 2_000, risk: false });
  l.cross('ami', { a: '10.64.0.2', t0: 1_000, t: 2_000, risk: false });
  l.added('10.64.0.1', 2_010);
  l.kernel(view(3_100, ['10.64.0.1']));
  assert.deepEqual([...l.violations.keys()], ['late']);
  assert.match(l.violations.get('late')![0]!, /10\.64\.0\.2/);
  assert.deepEqual(l.latencies.ami, [10]);
});

test('an element no crossing explains is reported once the traffic had time to say so; an ignored one at once', () => {
  const l = ledger();
  l.kernel(view(5_000, ['10.64.0.9', '10.99.0.1']));
  assert.deepEqual([...l.violations.keys()], ['ignored banned']);
  l.kernel(view(7_500, ['10.64.0.9']));
  assert.ok(l.violations.has('unexplained ban'));
  // A crossing whose ban has run out does not explain an element either.
  const m = ledger();
  m.cross('ami', { a: '10.64.0.3', t0: 1_000, t: 2_000, risk: false });
  m.kernel(view(2_500, ['10.64.0.3']));
  m.kernel(view(200_000, ['10.64.0.3']));
  m.kernel(view(203_000, ['10.64.0.3']));
  assert.ok(m.violations.has('unexplained ban'));
});

test('bans in the kernel at a kill must be back a second after the next ready', () => {
  const l = ledger();
  l.cross('ami', { a: '10.64.0.4', t0: 1_000, t: 2_000, risk: false });
  l.cross('ami', { a: '10.64.0.5', t0: 1_000, t: 2_000, risk: false });
  const before = view(2_500, ['10.64.0.4', '10.64.0.5']);
  l.kernel(before);
  l.lifeEnds(3_000, before);
  l.lifeBegins(3_100);
  l.lifeReady(4_000);
  l.kernel(view(4_500, ['10.64.0.4']));
  assert.equal(l.violations.size, 0, 'not judged before a second has passed');
  l.kernel(view(5_100, ['10.64.0.4']));
  assert.deepEqual([...l.violations.keys()], ['lost']);
  assert.match(l.violations.get('lost')![0]!, /10\.64\.0\.5/);
});

test('a burst split by a kill, or a log line cut by copytruncate, is not required', () => {
  const l = ledger();
  l.cross('log', { a: '10.128.0.1', t0: 50, t: 2_000, risk: false });
  l.cross('log', { a: '10.128.0.2', t0: 500, t: 2_000, risk: true });
  l.truncated(3_000);
  l.cross('log', { a: '10.128.0.3', t0: 500, t: 2_500, risk: false });
  l.kernel(view(9_000, []));
  assert.equal(l.violations.size, 0);
  assert.equal(l.exempt, 3);
});

test('bursts cross exactly when maxretry failures were delivered, and an address rests longer than findtime', () => {
  const plan = { maxretry: 6, findtimeMs: 60_000, bantimeMs: 120_000, dueShare: 0.05, perSecond: 2_000 };
  const pool = addressPool(60_000, [10, 64], '2001:db8:a::');
  assert.equal(new Set(pool).size, pool.length, 'addresses are distinct');
  const crossings: string[] = [];
  const stream = new BurstStream(pool, plan, seeded(7), (c) => crossings.push(c.a));
  const times = new Map<string, number[]>();
  for (let now = 1_000_000; now < 1_000_000 + 200_000; now += 10) {
    // Undelivered for a while, as during an AMI reconnect.
    const delivered = !(now % 30_000 < 500);
    for (const a of stream.tick(now, delivered)) if (delivered) times.set(a, [...(times.get(a) ?? []), now]);
  }
  // Recount from the delivered times: an address crosses once per run of 6 within findtime.
  let expected = 0;
  for (const list of times.values()) {
    let run: number[] = [];
    for (const t of list) {
      run = run.filter((x) => x > t - plan.findtimeMs);
      run.push(t);
      if (run.length === plan.maxretry) {
        expected++;
        run = [];
      }
    }
  }
  assert.equal(crossings.length, expected);
  assert.ok(expected > 100, `${expected} crossings`);
  assert.ok(Math.abs(stream.total - 400_000) < 2_000, `${stream.total} failures in 200 s at 2,000/s`);
  assert.equal(stream.shortfall, 0, 'the pool never ran out of rested addresses');
});
