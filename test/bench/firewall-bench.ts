// Firewall back ends on a real kernel, inside throwaway network namespaces:
// batched apply/remove of 10,000 and 100,000 bans, one process per address
// for comparison (a sample, extrapolated), and UDP throughput from an
// unbanned source with the bans in place. Root only.
//   node --import tsx test/bench/firewall-bench.ts [--quick]
import { performance } from 'node:perf_hooks';
import { TestNet, ADDR, SINK_PORT, isRoot } from '../helpers/netns.js';
import { createAction } from '../../src/actions/registry.js';
import type { Action } from '../../src/actions/types.js';
import type { Ban } from '../../src/core/types.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';

if (!isRoot()) {
  console.log('firewall-bench: needs root (creates network namespaces); skipped');
  process.exit(0);
}
const quick = process.argv.includes('--quick');
const SIZES = quick ? [10_000] : [10_000, 100_000];
const SAMPLE = 100;
const BLAST_MS = quick ? 500 : 1000;

function addr(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}
function bans(n: number): Ban[] {
  const now = systemClock.now();
  return Array.from({ length: n }, (_, i) => ({
    jail: 'bench', ip: addr(i), family: 4 as const, start: now, end: now + 3_600_000, count: 1, source: 'manual' as const, reason: 'bench', failures: [],
  }));
}
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function sinkCount(net: TestNet): Promise<number> {
  const r = await net.command('probe', { proto: 'udp', bind: ADDR.other4, to: ADDR.pbx4, port: 5060, timeoutMs: 2000, text: 'stats' });
  return Number(String(r.detail).replace('count:', ''));
}
/** Datagrams per second that reach the pbx from the never-banned source. */
async function throughput(net: TestNet): Promise<number> {
  const before = await sinkCount(net);
  await net.command('blast', { bind: ADDR.other4, to: ADDR.pbx4, port: SINK_PORT, ms: BLAST_MS });
  return ((await sinkCount(net)) - before) / (BLAST_MS / 1000);
}

/** One process per address, as fail2ban does it: a sample of SAMPLE, extrapolated to 10,000. */
async function perProcess(net: TestNet, kind: string): Promise<{ add: number; del: number }> {
  const ips = Array.from({ length: SAMPLE }, (_, i) => addr(500_000 + i));
  const cmd: Record<string, { add: (ip: string) => string[]; del: (ip: string) => string[] }> = {
    'iptables-allports': {
      add: (ip) => ['iptables', '-I', 'asban-BENCH', '1', '-s', ip, '-j', 'REJECT'],
      del: (ip) => ['iptables', '-D', 'asban-BENCH', '-s', ip, '-j', 'REJECT'],
    },
    'iptables-ipset-proto6-allports': {
      add: (ip) => ['ipset', 'add', 'asban-BENCH-v4', ip, 'timeout', '3600'],
      del: (ip) => ['ipset', 'del', 'asban-BENCH-v4', ip],
    },
    'nftables-allports': {
      add: (ip) => ['nft', 'add', 'element', 'inet', 'asban-BENCH', 'addr-v4', `{ ${ip} timeout 3600s }`],
      del: (ip) => ['nft', 'delete', 'element', 'inet', 'asban-BENCH', 'addr-v4', `{ ${ip} }`],
    },
  };
  const c = cmd[kind]!;
  const add = await timed(async () => {
    for (const ip of ips) await net.pbxRun(c.add(ip)[0]!, c.add(ip).slice(1));
  });
  const del = await timed(async () => {
    for (const ip of ips) await net.pbxRun(c.del(ip)[0]!, c.del(ip).slice(1));
  });
  return { add: (add / SAMPLE) * 10_000, del: (del / SAMPLE) * 10_000 };
}

const rows: string[][] = [];
const net = await TestNet.create({ statefulAccept: true });
try {
  // The first blast warms up the sender; the better of two runs is the baseline.
  const base = Math.max(await throughput(net), await throughput(net));
  rows.push(['(no firewall action)', '-', '-', '-', `${Math.round(base)} pkt/s`, '100%']);
  // Every figure below includes one `ip netns exec` per process; shown so it can be subtracted.
  const exec = await timed(() => net.pbxRun('true', []));
  rows.push(['(ip netns exec true)', '1 process', `${exec.toFixed(3)} s`, '', '', '']);
  for (const kind of ['nftables-allports', 'iptables-ipset-proto6-allports', 'iptables-allports']) {
    const action: Action = createAction(
      { name: kind, params: { name: 'BENCH', netns: net.pbx, flushconntrack: 'no' }, file: 'bench', line: 1 },
      { jail: defaultJailSettings('bench'), logger: silentLogger(), clock: systemClock, env: {} },
    );
    await action.start();
    const one = await perProcess(net, kind);
    rows.push([kind, `10,000 one process each via ip netns exec (${SAMPLE} timed, extrapolated)`, `${one.add.toFixed(2)} s`, `${one.del.toFixed(2)} s`, '', '']);
    for (const n of SIZES) {
      const list = bans(n);
      const add = await timed(() => action.ban(list, { restored: true }));
      const pps = await throughput(net);
      // Remove all but one: the rule back end cannot take its flush shortcut then.
      const del = await timed(() => action.unban(list.slice(1)));
      await action.unban(list.slice(0, 1));
      // Compared with a run right after, same ruleset without the bans: the machine's load drifts.
      const empty = await throughput(net);
      rows.push([kind, `${n.toLocaleString('en')} batched`, `${add.toFixed(3)} s`, `${del.toFixed(3)} s`, `${Math.round(pps)} / ${Math.round(empty)} pkt/s`, `${((pps / empty) * 100).toFixed(0)}%`]);
    }
    await action.stop();
  }
} finally {
  await net.destroy();
}

const head = ['back end', 'bans', 'apply', 'remove', 'UDP from unbanned source: with / without bans', 'ratio'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(head));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log(`targets: set back end 10,000 ≤ 0.3 s, 100,000 ≤ 3 s to apply and to remove; per-packet cost with 100,000 bans within 10% of none (${BLAST_MS} ms UDP blasts of 32-byte datagrams, node sender; noisy on a shared machine)`);
