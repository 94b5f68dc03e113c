// Start-up with 100,000 persisted bans: from opening the state file until every
// ban is enforced in the kernel and the ban manager is ready. The kernel part
// runs in a network namespace created (and deleted) here, through the real
// nftables / ipset actions of src/actions. Run as root:
//   node --import tsx test/bench/restore-bench.ts [count]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BanManager } from '../../src/bans/manager.js';
import { Store } from '../../src/store/store.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Ban } from '../../src/core/types.js';
import type { Action } from '../../src/actions/types.js';
import { createAction } from '../../src/actions/registry.js';
import { mustParseAddress } from '../../src/core/address.js';
import { defaultJailSettings, DEFAULT_INCREMENT } from '../../src/settings/defaults.js';

const COUNT = Number(process.argv[2] ?? 100_000);
const NS = `asb-bench-${process.pid}`;
const logger = silentLogger();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// Canonical text, as the manager stores it (the kernel lists canonical text too).
const ip = (i: number): string => mustParseAddress(i % 10 === 9 ? `2001:db8:${(i >> 16) & 0xffff}::${(i & 0xffff).toString(16)}` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).text;

function seed(path: string): void {
  const now = systemClock.now();
  const store = Store.open(path);
  const bans: Ban[] = Array.from({ length: COUNT }, (_, i) => ({
    jail: 'asterisk', ip: ip(i), family: i % 10 === 9 ? 6 : 4, start: now - 60_000, end: now + 3_600_000 + i * 10, count: 1,
    source: 'ami', reason: 'InvalidPassword',
    failures: [{ ip: ip(i), family: 4, time: now, source: 'ami', reason: 'InvalidPassword', raw: 'IPV4/UDP/192.0.2.1/5060 InvalidPassword account 100' }],
  }));
  store.saveBans(bans);
  store.close();
}

const nullAction: Action = {
  id: 'null', kind: 'firewall',
  start: async () => {}, check: async () => false, ban: async () => {}, unban: async () => {}, flush: async () => {}, stop: async () => {},
};

interface Row { phase: string; ms: number; cpu?: number; note: string }
const rows: Row[] = [];

async function restore(path: string, action: Action | null): Promise<{ ms: number; cpu: number; manager: BanManager; store: Store }> {
  // A restart is a fresh process: the last phase's 100,000 bans are not its garbage to collect.
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const store = Store.open(path);
  const manager = new BanManager({ store, clock: systemClock, logger });
  await manager.setJail('asterisk', { bantime: 3600, increment: DEFAULT_INCREMENT, actions: action ? [action] : [] });
  await manager.start();
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpu: (c.user + c.system) / 1000, manager, store };
}

function sh(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

function kernelCount(kind: 'nft' | 'ipset'): number {
  if (kind === 'nft') {
    const doc = JSON.parse(sh('ip', ['netns', 'exec', NS, 'nft', '-j', 'list', 'table', 'inet', 'asban-BENCH'])) as { nftables: { set?: { elem?: unknown[] } }[] };
    return doc.nftables.reduce((n, x) => n + (x.set?.elem?.length ?? 0), 0);
  }
  const out = sh('ip', ['netns', 'exec', NS, 'ipset', 'list', '-t']);
  return [...out.matchAll(/Number of entries: (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

async function kernelRun(kind: 'nft' | 'ipset', path: string): Promise<void> {
  const name = kind === 'nft' ? 'nftables-allports' : 'iptables-ipset-allports';
  const action = createAction({ name, params: { name: 'BENCH', netns: NS }, file: 'restore-bench', line: 0 }, {
    jail: defaultJailSettings('asterisk'), logger, clock: systemClock, env: {},
  });
  const r = await restore(path, action);
  const inKernel = kernelCount(kind);
  rows.push({ phase: `restore → kernel (${name}, netns)`, ms: r.ms, cpu: r.cpu, note: `${inKernel} elements in the kernel${inKernel === COUNT ? '' : ` — EXPECTED ${COUNT}`}` });
  // A second start finds everything already there: list() + reconcile only.
  await r.manager.close();
  r.store.close();
  const again = createAction({ name, params: { name: 'BENCH', netns: NS }, file: 'restore-bench', line: 0 }, {
    jail: defaultJailSettings('asterisk'), logger, clock: systemClock, env: {},
  });
  const r2 = await restore(path, again);
  rows.push({ phase: `restart, kernel already holds all (${kind})`, ms: r2.ms, cpu: r2.cpu, note: 'ready (full batch re-applied)' });
  const t = performance.now();
  await r2.manager.reconciled();
  rows.push({ phase: `  … then background reconcile via list() (${kind})`, ms: performance.now() - t, note: `${kernelCount(kind)} elements after` });
  await r2.manager.close();
  r2.store.close();
  await again.stop();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'asb-bench-'));
  const path = join(dir, 'state.sqlite3');
  try {
    let t = performance.now();
    seed(path);
    rows.push({ phase: `seed ${COUNT} bans (one transaction)`, ms: performance.now() - t, note: 'Store.saveBans' });

    t = performance.now();
    const s = Store.open(path);
    rows.push({ phase: 'open state file (quick_check, lock)', ms: performance.now() - t, note: '' });
    t = performance.now();
    const loaded = s.loadBans();
    rows.push({ phase: `load ${loaded.length} ban rows`, ms: performance.now() - t, note: 'failures not decoded' });
    s.close();

    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const r = await restore(path, nullAction);
    gc();
    const heap1 = process.memoryUsage().heapUsed;
    rows.push({ phase: 'restore, no-op action (manager ready)', ms: r.ms, cpu: r.cpu, note: `heap +${((heap1 - heap0) / 1048576).toFixed(1)} MB = ${Math.round((heap1 - heap0) / COUNT)} B/ban` });
    await r.manager.close();
    r.store.close();

    if (process.getuid?.() !== 0) {
      rows.push({ phase: 'kernel restore', ms: NaN, note: 'skipped: needs root for a network namespace' });
    } else {
      sh('ip', ['netns', 'add', NS]);
      try {
        await kernelRun('nft', path);
        await kernelRun('ipset', path);
      } finally {
        sh('ip', ['netns', 'delete', NS]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nrestore-bench: ${COUNT} persisted bans (10% IPv6), node ${process.version}; target: kernel restore ≤ 2000 ms\n`);
  console.log(`${'phase'.padEnd(52)} ${'wall ms'.padStart(9)} ${'our CPU ms'.padStart(10)}  note`);
  for (const row of rows) {
    const wall = Number.isNaN(row.ms) ? '-' : row.ms.toFixed(0);
    console.log(`${row.phase.padEnd(52)} ${wall.padStart(9)} ${(row.cpu === undefined ? '' : row.cpu.toFixed(0)).padStart(10)}  ${row.note}`);
  }
  console.log(`\nload average while measuring: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs (wall times inflate with load; "our CPU" excludes nft/ipset child processes)`);
}

await main();
