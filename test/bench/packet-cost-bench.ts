// Per-packet cost of the ban set: small-UDP throughput from a never-banned
// source through the pbx namespace's ruleset, with no bans and with 10,000 /
// 100,000 bans in place, per back end. iperf3 (a C sender) in the attacker
// namespace; runs alternate with and without bans and the median is kept,
// because the machine's load drifts. Root only.
// Run: node --import tsx test/bench/packet-cost-bench.ts [seconds-per-run=3] [runs=3]
import { spawn, execFileSync } from 'node:child_process';
import { createAction } from '../../src/actions/registry.js';
import type { Action } from '../../src/actions/types.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Ban } from '../../src/core/types.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import { ADDR, TestNet, haveTool, isRoot } from '../helpers/netns.js';

const SECONDS = Number(process.argv[2] ?? 3);
const RUNS = Number(process.argv[3] ?? 3);
if (!isRoot() || !haveTool('iperf3')) {
  console.error('needs root and iperf3 (apt-get install -y iperf3)');
  process.exit(2);
}

function bans(n: number): Ban[] {
  const now = Date.now();
  // 100.64.0.0/10 and up: never the test network's own addresses.
  return Array.from({ length: n }, (_, i) => ({
    jail: 'bench', ip: `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, family: 4 as const,
    start: now, end: now + 3_600_000, count: 1, source: 'manual' as const, reason: 'bench', failures: [],
  }));
}

async function pps(net: TestNet): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', net.pbx, 'iperf3', '-s', '-1', '-B', ADDR.pbx4, '-p', '5201'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  try {
    const out = execFileSync('ip', ['netns', 'exec', net.attacker, 'iperf3', '-c', ADDR.pbx4, '-p', '5201', '-B', ADDR.other4, '-u', '-b', '0', '-l', '64', '-t', String(SECONDS), '-J'], { encoding: 'utf8', timeout: (SECONDS + 10) * 1000 });
    const doc = JSON.parse(out) as { end: { sum: { packets: number; lost_packets: number; seconds: number } } };
    const s = doc.end.sum;
    return (s.packets - s.lost_packets) / s.seconds;
  } finally {
    server.kill();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[][] = [];
const net = await TestNet.create({ statefulAccept: true });
try {
  for (const kind of ['nftables-allports', 'iptables-ipset-proto6-allports', 'iptables-allports']) {
    const action: Action = createAction(
      { name: kind, params: { name: 'BENCH', netns: net.pbx, flushconntrack: 'no' }, file: 'bench', line: 1 },
      { jail: defaultJailSettings('bench'), logger: silentLogger(), clock: systemClock, env: {} },
    );
    await action.start();
    for (const n of kind === 'iptables-allports' ? [10_000] : [10_000, 100_000]) {
      const list = bans(n);
      const withBans: number[] = [];
      const without: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        without.push(await pps(net));
        await action.ban(list, { restored: true });
        withBans.push(await pps(net));
        await action.flush();
      }
      const a = median(withBans);
      const b = median(without);
      rows.push([kind, n.toLocaleString('en'), `${Math.round(a).toLocaleString('en')}`, `${Math.round(b).toLocaleString('en')}`, `${((a / b) * 100).toFixed(1)}%`]);
    }
    await action.stop();
  }
} finally {
  await net.destroy();
}
const head = ['back end', 'bans in place', 'pkt/s with bans (median)', 'pkt/s without (median)', 'ratio'];
console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(`64-byte UDP, iperf3 -b 0 from a never-banned source, ${RUNS} alternating runs of ${SECONDS} s; target: set back ends with 100,000 bans within 10% of none; load ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}`);
