// Event → attacker's packets dropped, and guesses that get past maxretry, in a
// real kernel. Root: builds a pbx/attacker namespace pair (test/helpers/netns.ts)
// and deletes it afterwards.
//
// The measuring half runs inside the pbx namespace (a child of this script):
// a UDP socket plays Asterisk, each datagram from the attacker is one failed
// guess fed to a real Jail → BanGate (conntrack when verifying) → BanManager →
// nftables action. The attacker sends a guess every 5 ms (200 guesses/s) from a
// fresh address per sample. Latency: from the maxretry-th guess's arrival to
// the firewall command's completion (the kernel holds the element then: nft
// exits, or answers, after its transaction is committed). Past maxretry:
// guesses that still reached the socket after the maxretry-th. flushconntrack
// is off: deleting the flows runs after the element is in the kernel, and
// would otherwise be counted in the figure although the drop came first.
//
//   npm run bench -- drop [samples]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createSocket } from 'node:dgram';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ADDR, TestNet, haveTool, isRoot } from '../helpers/netns.js';

const SAMPLES = Number(process.argv[2] ?? 30);
const PORT = 5080;
const MAXRETRY = 5;
const GUESS_EVERY_MS = 5;
const source = (i: number): string => `198.51.100.${100 + i}`;

interface Config { label: string; verify: 'off' | 'query' | 'stream'; params: Record<string, string> }
const CONFIGS: Config[] = [
  { label: 'one nft per batch, verify = off', verify: 'off', params: { persistent: 'no' } },
  { label: 'nft session, verify = off', verify: 'off', params: {} },
  { label: 'one nft per batch, verify: conntrack -L per batch', verify: 'query', params: { persistent: 'no' } },
  { label: 'nft session, verify: conntrack -L per batch', verify: 'query', params: {} },
  { label: 'nft session, verify: conntrack -E stream (the daemon)', verify: 'stream', params: {} },
];

interface Result { label: string; latencies: number[]; past: number[] }

if (process.argv.includes('--inside')) await inside();
else await outside();

async function outside(): Promise<void> {
  if (!isRoot()) throw new Error('drop-bench needs root: it creates network namespaces');
  for (const t of ['nft', 'conntrack']) if (!haveTool(t)) throw new Error(`drop-bench needs ${t}`);
  const net = await TestNet.create();
  try {
    // One fresh attacker address per sample: a banned one cannot be used again.
    const total = SAMPLES * CONFIGS.length;
    if (total > 150) throw new Error(`at most ${Math.floor(150 / CONFIGS.length)} samples per configuration`);
    for (let i = 0; i < total; i++) await net.pbxRun('ip', ['netns', 'exec', net.attacker, 'ip', 'addr', 'add', `${source(i)}/32`, 'dev', 'eth0']);
    const child = spawn('ip', ['netns', 'exec', net.pbx, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), String(SAMPLES), '--inside'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const results = await new Promise<Result[]>((resolve, reject) => {
      child.on('exit', (code) => reject(new Error(`measuring child exited with ${code}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        void (async () => {
          const msg = JSON.parse(line) as { op: string; bind?: string; flow?: number; results?: Result[] };
          if (msg.op === 'results') return resolve(msg.results!);
          const reply = msg.op === 'flow'
            ? await net.command('flowStart', { bind: msg.bind, to: ADDR.pbx4, port: PORT, intervalMs: GUESS_EVERY_MS })
            : await net.command('flowStop', { flow: msg.flow });
          child.stdin!.write(`${JSON.stringify(reply)}\n`);
        })();
      });
    });
    child.removeAllListeners('exit');
    child.stdin!.end();
    print(results);
  } finally {
    await net.destroy();
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function print(results: Result[]): void {
  console.log(`drop-bench: ${SAMPLES} samples per configuration, a guess every ${GUESS_EVERY_MS} ms, maxretry ${MAXRETRY}; ${cpus().length} cores, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| nftables-allports, configuration | event → dropped p50 | p99 | max | guesses past maxretry: max (mean) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of results) {
    const l = [...r.latencies].sort((a, b) => a - b);
    const mean = r.past.reduce((s, x) => s + x, 0) / r.past.length;
    console.log(`| ${r.label} | ${pct(l, 50).toFixed(2)} ms | ${pct(l, 99).toFixed(2)} ms | ${l[l.length - 1]!.toFixed(2)} ms | ${Math.max(...r.past)} (${mean.toFixed(2)}) |`);
  }
  console.log('\ntargets: p99 ≤ 2 ms without verification, ≤ 3 ms with; at most 1 guess past maxretry at 200 guesses/s');
}

async function inside(): Promise<void> {
  const { Jail } = await import('../../src/jail/jail.js');
  const { BanGate } = await import('../../src/daemon/ban-gate.js');
  const { BanManager } = await import('../../src/bans/manager.js');
  const { Store } = await import('../../src/store/store.js');
  const { createAction } = await import('../../src/actions/registry.js');
  const { ConntrackVerifier } = await import('../../src/jail/verify.js');
  const { ConntrackEvents, StreamedWitness } = await import('../../src/jail/conntrack-events.js');
  const { systemClock } = await import('../../src/core/clock.js');
  const { silentLogger } = await import('../../src/core/logger.js');
  const { defaultJailSettings, DEFAULT_INCREMENT } = await import('../../src/settings/defaults.js');

  const logger = silentLogger();
  const lines = createInterface({ input: process.stdin });
  const replies: Array<(v: Record<string, unknown>) => void> = [];
  lines.on('line', (l) => replies.shift()?.(JSON.parse(l) as Record<string, unknown>));
  const ask = (msg: Record<string, unknown>): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      replies.push(resolve);
      process.stdout.write(`${JSON.stringify(msg)}\n`);
    });

  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(PORT, '0.0.0.0', () => r()));
  let onGuess: (ip: string) => void = () => {};
  socket.on('message', (_m, rinfo) => onGuess(rinfo.address));

  const results: Result[] = [];
  let next = 0;
  for (const config of CONFIGS) {
    const settings = defaultJailSettings('bench', { maxretry: MAXRETRY, findtime: 600 });
    const store = Store.open(':memory:');
    const action = createAction({ name: 'nftables-allports', params: { name: 'DROP', flushconntrack: 'no', ...config.params }, file: 'bench', line: 0 }, { jail: settings, logger, clock: systemClock, env: {} });
    await action.start();
    const manager = new BanManager({ store, clock: systemClock, logger });
    await manager.setJail('bench', { bantime: 600, increment: DEFAULT_INCREMENT, actions: [action] });
    await manager.start();
    let applied: (() => void) | null = null;
    const gate = new BanGate('bench', { logger, pass: (req) => void manager.request(req).then(() => applied?.()) });
    const query = config.verify === 'off' ? null : await ConntrackVerifier.detect({ logger });
    const events = config.verify === 'stream' ? new ConntrackEvents({ logger }) : null;
    events?.start();
    gate.setWitness(query && events ? new StreamedWitness(events, query) : query);
    // The stream subscribes asynchronously: let it settle before the first sample.
    if (events) await new Promise((r) => setTimeout(r, 300));
    const jail = new Jail(settings, { clock: systemClock, logger, onBan: (req) => gate.submit(req) });
    const latencies: number[] = [];
    const past: number[] = [];
    for (let s = 0; s < SAMPLES; s++) {
      const ip = source(next++);
      let guesses = 0;
      let crossedAt = 0;
      const done = new Promise<number>((resolve) => {
        applied = () => resolve(performance.now() - crossedAt);
      });
      onGuess = (from) => {
        if (from !== ip) return;
        guesses++;
        if (guesses === MAXRETRY) crossedAt = performance.now();
        jail.addFailure({ ip, family: 4, time: systemClock.now(), source: 'ami', reason: 'InvalidPassword' });
      };
      const { flow } = await ask({ op: 'flow', bind: ip });
      latencies.push(await done);
      // Anything still in flight arrives within a few guess intervals.
      await new Promise((r) => setTimeout(r, 150));
      await ask({ op: 'stop', flow });
      past.push(guesses - MAXRETRY);
      onGuess = () => {};
    }
    jail.stop();
    events?.close();
    await manager.close();
    await action.stop();
    store.close();
    results.push({ label: config.label, latencies, past });
  }
  socket.close();
  process.stdout.write(`${JSON.stringify({ op: 'results', results })}\n`);
  lines.close();
}
