// Memory and speed of the jail's failure counter under a distributed attack:
// N distinct addresses inside findtime, one or two failures each.
// Run: node --expose-gc --import tsx test/bench/counter-bench.ts [addresses]
import { FailureCounter } from '../../src/jail/counter.js';

const n = Number(process.argv[2] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

function v4(i: number): string {
  return `${11 + ((i >>> 16) & 0x3f)}.${(i >>> 8) & 255}.${i & 255}.${(i * 7) & 255}`;
}
function v6(i: number): string {
  return `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::${(i % 97).toString(16)}`;
}

function measure(label: string, make: (i: number) => string): string[] {
  // Keys are built first and kept alive in both measurements, as the daemon's
  // parsed addresses would be; only the counter's own memory is the difference.
  const keys = Array.from({ length: n }, (_, i) => make(i));
  gc!();
  const before = process.memoryUsage();
  const c = new FailureCounter({ maxretry: 5, findtime: 600_000, maxtracked: n + 1 });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) c.add(keys[i]!, 1_000_000 + i, 0);
  const t1 = process.hrtime.bigint();
  gc!();
  const after = process.memoryUsage();
  const bytes = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  const keyBytes = keys.reduce((s, k) => s + 16 + Math.ceil(k.length / 8) * 8, 0) / n;
  const rate = Math.round(n / (Number(t1 - t0) / 1e9));
  if (c.size !== n) throw new Error('counter lost entries');
  return [label, String(n), (bytes / n).toFixed(0), (bytes / n + keyBytes).toFixed(0), rate.toLocaleString('en-US')];
}

const rows = [measure('IPv4', v4), measure('IPv6', v6)];
const head = ['addresses', 'tracked', 'counter B/addr', 'with key strings B/addr', 'adds/s'];
console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log('target: <= 250 bytes per tracked address (fail2ban: ~1,170)');
