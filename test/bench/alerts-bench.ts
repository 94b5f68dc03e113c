/**
 * Alert rules on the failure path: CPU per failure with compromise and wave
 * on (the flood case: 20,000 failures/s from many addresses), per login
 * with compromise and new_network on, and the record's size.
 *
 *   npm run bench -- alerts [failures=400000]
 */
import { Alerter } from '../../src/alerts/alerter.js';
import { systemClock } from '../../src/core/clock.js';
import type { Failure } from '../../src/core/types.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import { Store } from '../../src/store/store.js';
import { memoryLogger } from '../helpers/memory-logger.js';

const N = Number(process.argv[2] ?? 400_000);
const { logger } = memoryLogger();
const settings = defaultJailSettings('asterisk', { alerts: { rules: ['compromise', 'new_network', 'wave', 'health'], compromiseFailures: 3, newNetworkDays: 30, newNetworkPrefix: [24, 48], wave: 1000, amiDown: 60 } });
const ignore = await IgnoreList.resolve(['192.0.2.0/24'], { ignoreself: true, logger, peers: [] });
const store = Store.open(':memory:');
let alerts = 0;
const alerter = new Alerter(settings, ignore, {
  clock: systemClock, logger, store: store.alerts,
  bannedNow: () => undefined,
  health: () => ({ sources: [], refused: 0, failingActions: new Map() }),
  emit: () => alerts++,
});
const now = Date.now();
const failures: Failure[] = Array.from({ length: N }, (_, i) => ({
  ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, family: 4, time: now, source: 'ami', reason: 'InvalidPassword', account: `u${i % 100}`,
}));
global.gc?.();
const heap0 = process.memoryUsage().heapUsed;
let t = process.cpuUsage();
for (const f of failures) alerter.failure(f);
const fail = process.cpuUsage(t);
global.gc?.();
const heap = process.memoryUsage().heapUsed - heap0;
const logins = 20_000;
t = process.cpuUsage();
for (let i = 0; i < logins; i++) alerter.success(`10.0.${(i >> 8) & 255}.${i & 255}`, { account: `acct${i % 500}`, service: 'PJSIP', time: now, own: false });
const login = process.cpuUsage(t);
const us = (u: NodeJS.CpuUsage, n: number): number => (u.user + u.system) / n;
const rows = [
  ['failure (compromise + wave on)', `${N}`, us(fail, N).toFixed(2), `${(us(fail, N) * 20_000 / 1e4).toFixed(1)} %`],
  ['login (compromise + new_network, SQLite)', `${logins}`, us(login, logins).toFixed(2), '-'],
];
console.log('| path | count | µs CPU each | at 20,000/s |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(`\nrecent-failure record after ${N} distinct addresses: ${(heap / 1048576).toFixed(1)} MB heap (bounded at 50,000 addresses); alerts raised: ${alerts}`);
alerter.stop();
store.close();
