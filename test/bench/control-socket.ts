// Control socket and CLI speed: one command's round trip over a fresh
// connection (what every CLI call does), and `list` with many bans.
// Run: node --import tsx test/bench/control-socket.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { ControlServer } from '../../src/control/server.js';
import { request } from '../../src/control/client.js';
import { main } from '../../src/cli/main.js';
import type { BanView, DaemonApi } from '../../src/control/api.js';

function bans(n: number): BanView[] {
  const out: BanView[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ jail: 'asterisk', ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, since: '2026-11-27T12:00:00.000Z', until: '2026-11-27T13:00:00.000Z', count: 1, source: 'ami', reason: 'InvalidPassword' });
  }
  return out;
}

let current: BanView[] = [];
const api: DaemonApi = {
  status: async () => [],
  list: async () => current,
  ban: async () => current[0]!,
  unban: async () => [],
  reload: async () => ({ reloaded: [], stopped: [], started: [] }),
  version: async () => ({ version: 'bench', pid: process.pid, uptime: 0 }),
  get: async () => null,
  set: async (option, value) => ({ option, value }),
  alerts: async () => [],
  fleet: async () => ({}),
};

const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

const dir = mkdtempSync(join(tmpdir(), 'ab-bench-'));
const socket = join(dir, 'ab.sock');
const server = new ControlServer({ path: socket, api });
await server.start();

const rows: Array<[string, string, string, string]> = [];
try {
  const N = 500;
  for (let i = 0; i < 20; i++) await request(socket, 'ping');
  let t = performance.now();
  for (let i = 0; i < N; i++) await request(socket, 'ping');
  const ping = (performance.now() - t) / N;
  rows.push(['ping, new connection each', `${ping.toFixed(3)} ms`, '< 5 ms', ping < 5 ? 'met' : 'NOT met']);

  for (const n of [10_000, 100_000]) {
    current = bans(n);
    t = performance.now();
    const got = (await request(socket, 'list')) as unknown[];
    const ms = performance.now() - t;
    if (got.length !== n) throw new Error('short list');
    rows.push([`list over the socket, ${n} bans`, `${ms.toFixed(1)} ms`, n === 100_000 ? '< 1000 ms' : '', n === 100_000 ? (ms < 1000 ? 'met' : 'NOT met') : '']);
    t = performance.now();
    const code = await main(['node', 'asterisk-ban', '--socket', socket, 'list', '--json'], { stdout: sink(), stderr: sink(), env: {}, cwd: dir });
    const cli = performance.now() - t;
    if (code !== 0) throw new Error(`cli exit ${code}`);
    rows.push([`cli list --json (in-process), ${n} bans`, `${cli.toFixed(1)} ms`, n === 100_000 ? '< 2000 ms' : '', n === 100_000 ? (cli < 2000 ? 'met' : 'NOT met') : '']);
    t = performance.now();
    await main(['node', 'asterisk-ban', '--socket', socket, 'list'], { stdout: sink(), stderr: sink(), env: {}, cwd: dir });
    rows.push([`cli list table (in-process), ${n} bans`, `${(performance.now() - t).toFixed(1)} ms`, '', '']);
  }
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}

const widths = [0, 1, 2, 3].map((i) => Math.max(...[['case', 'time', 'target', ''], ...rows].map((r) => r[i]!.length)));
for (const r of [['case', 'time', 'target', ''], ...rows] as string[][]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
