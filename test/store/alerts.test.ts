import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.js';
import { NETWORKS_PER_ACCOUNT } from '../../src/store/alerts.js';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

test('alerts are kept with their facts, listed from a time on, oldest first, and purged by age', () => {
  const store = Store.open(':memory:');
  const a = store.alerts;
  a.add({ rule: 'compromise', severity: 'high', jail: 'asterisk', time: T0, summary: 'x'.repeat(5000), address: '203.0.113.5', account: '6001', facts: [['failures', '37']] });
  a.add({ rule: 'health', severity: 'info', jail: 'asterisk', time: T0 + 60_000, summary: 'AMI back', facts: [] });
  const all = a.since(0);
  assert.equal(all.length, 2);
  assert.equal(all[0]!.summary.length, 512, 'attacker-sized text is bounded');
  assert.deepEqual(all[0]!.facts, [['failures', '37']]);
  assert.equal(all[0]!.account, '6001');
  assert.equal(all[1]!.address, undefined);
  assert.deepEqual(a.since(T0 + 1).map((x) => x.rule), ['health']);
  assert.equal(a.purge(T0 + 1, 0), 1);
  assert.deepEqual(a.since(0).map((x) => x.rule), ['health']);
  store.close();
});

test('an account keeps its most recent networks, at most NETWORKS_PER_ACCOUNT; old ones are purged', () => {
  const store = Store.open(':memory:');
  const a = store.alerts;
  for (let i = 0; i < NETWORKS_PER_ACCOUNT + 5; i++) a.sawNetwork('PJSIP/6001', `10.${i}.0.0/24`, T0 + i);
  const nets = a.networks('PJSIP/6001');
  assert.equal(nets.size, NETWORKS_PER_ACCOUNT);
  assert.ok(!nets.has('10.0.0.0/24') && nets.has(`10.${NETWORKS_PER_ACCOUNT + 4}.0.0/24`));
  a.sawNetwork('PJSIP/6001', '10.36.0.0/24', T0 - 5);
  assert.equal(a.networks('PJSIP/6001').get('10.36.0.0/24'), T0 + 36, 'last_seen never goes back');
  a.sawNetwork('SIP/7001', '192.0.2.0/24', T0);
  assert.equal(a.purge(0, T0 + 10), 6, 'five of 6001 (seen T0+5..T0+9) and the one of 7001');
  assert.equal(a.networks('SIP/7001').size, 0);
  store.close();
});
