// Event → attacker's packets dropped, and guesses that get past maxretry, in a
// real kernel. Root: builds a pbx/attacker namespace pair (test/helpers/netns.ts)
// and deletes it afterwards.
//
// The measuring half runs inside the pbx namespace (a child of this script):
// a UDP socket plays Asterisk, each datagram from the attacker is one failed
// guess fed to a real Jail → BanGate (conntrack when verifying) → BanManager →
// nftables action (in two rows, the iptables-ipset one). The attacker sends a
// guess every 5 ms (200 guesses/s) from a fresh address per sample. Latency:
// from the maxretry-th guess's arrival to the firewall command's completion
// (the kernel holds the element then: nft exits, or answers, after its
// transaction is committed; ipset answers after each command). Past maxretry:
// guesses that still reached the socket after the maxretry-th. flushconntrack
// is off: deleting the flows runs after the element is in the kernel, and
// would otherwise be counted in the figure although the drop came first.
//
//   npm run bench -- drop [samples]
import { Alerter } from '../../src/alerts/alerter.js';
import { IgnoreList } from '../../src/jail/ignore.js';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createSocket } from 'node:dgram';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDR, TestNet, haveTool, isRoot } from '../helpers/netns.js';
import { Jail } from '../../src/jail/jail.js';
import { BanGate } from '../../src/daemon/ban-gate.js';
import { BanManager } from '../../src/bans/manager.js';
import { Store } from '../../src/store/store.js';
import { createAction } from '../../src/actions/registry.js';
import { ConntrackVerifier } from '../../src/jail/verify.js';
import { ConntrackEvents, StreamedWitness } from '../../src/jail/conntrack-events.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { defaultJailSettings, DEFAULT_INCREMENT } from '../../src/settings/defaults.js';
import type { Failure } from '../../src/core/types.js';

const SAMPLES = Number(process.argv[2] ?? 30);
const PORT = 5080;
const MAXRETRY = 5;
const GUESS_EVERY_MS = 5;
const FLOOD_RATE = 20_000;
const FLOOD_BANS = 40_000;
const FLOOD_NET = '10.77';
/** Sample sources: a /20 the pbx routes through the attacker, 250 addresses per /24. */
const SAMPLE_NET = '198.51.96.0/20';
const source = (i: number): string => `198.51.${101 + Math.floor(i / 250)}.${1 + (i % 250)}`;

interface Config { label: string; verify: 'off' | 'query' | 'stream'; params: Record<string, string>; action?: string }
const IPSET_ACTION = 'iptables-ipset-allports';
const CONFIGS: Config[] = [
  { label: 'one nft per batch, verify = off', verify: 'off', params: { persistent: 'no' } },
  { label: 'nft session (netlink = no), verify = off', verify: 'off', params: { netlink: 'no' } },
  { label: 'netlink, verify = off (the default)', verify: 'off', params: {} },
  { label: 'one nft per batch, verify: conntrack -L per batch', verify: 'query', params: { persistent: 'no' } },
  { label: 'netlink, verify: conntrack -L per batch', verify: 'query', params: {} },
  { label: 'nft session (netlink = no), verify: conntrack -E stream', verify: 'stream', params: { netlink: 'no' } },
  { label: 'netlink, verify: conntrack -E stream (the daemon)', verify: 'stream', params: {} },
  { label: `${IPSET_ACTION}: one ipset restore per batch, verify = off`, verify: 'off', params: { persistent: 'no' }, action: IPSET_ACTION },
  { label: `${IPSET_ACTION}: ipset session (the default), verify = off`, verify: 'off', params: {}, action: IPSET_ACTION },
];
/** The ipset rows need ipset and iptables in the namespace. */
const configs = (): Config[] => CONFIGS.filter((c) => c.action !== IPSET_ACTION || (haveTool('ipset') && haveTool('iptables-restore')));

interface Result { label: string; latencies: number[]; past: number[]; queried: number }
interface Flood { label: string; generator: number; events: number; bans: number; seconds: number; inKernel: number; p50: number; p99: number; max: number; within50: number; cpu: number; nftCpu: number; conntrackCpu: number; queried: number; refused: number }

if (process.argv.includes('--inside')) await inside();
else await outside();

async function outside(): Promise<void> {
  if (!isRoot()) throw new Error('drop-bench needs root: it creates network namespaces');
  for (const t of ['nft', 'conntrack']) if (!haveTool(t)) throw new Error(`drop-bench needs ${t}`);
  const net = await TestNet.create();
  try {
    // One fresh attacker address per sample: a banned one cannot be used again.
    const total = SAMPLES * configs().length;
    if (total > 2_500) throw new Error(`at most ${Math.floor(2_500 / configs().length)} samples per configuration`);
    execFileSync('ip', ['-n', net.pbx, 'route', 'add', SAMPLE_NET, 'via', ADDR.att4]);
    const adds = Array.from({ length: total }, (_, i) => `addr add ${source(i)}/32 dev eth0\n`).join('');
    execFileSync('ip', ['-n', net.attacker, '-batch', '-'], { input: adds });
    const child = spawn('ip', ['netns', 'exec', net.pbx, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), String(SAMPLES), '--inside'], { stdio: ['pipe', 'pipe', 'inherit'] });
    // The flood's sources: a /16 the attacker owns as a whole (a local route), routed from the pbx.
    execFileSync('ip', ['-n', net.attacker, 'route', 'add', 'local', `${FLOOD_NET}.0.0/16`, 'dev', 'lo']);
    execFileSync('ip', ['-n', net.pbx, 'route', 'add', `${FLOOD_NET}.0.0/16`, 'via', ADDR.att4]);
    const { results, flood } = await new Promise<{ results: Result[]; flood: Flood[] }>((resolve, reject) => {
      child.on('exit', (code) => reject(new Error(`measuring child exited with ${code}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        void (async () => {
          const msg = JSON.parse(line) as { op: string; bind?: string; flow?: number; count?: number; perSecond?: number; results?: Result[]; flood?: Flood[] };
          if (msg.op === 'results') return resolve({ results: msg.results!, flood: msg.flood! });
          const reply = msg.op === 'flow'
            ? await net.command('flowStart', { bind: msg.bind, to: ADDR.pbx4, port: PORT, intervalMs: GUESS_EVERY_MS })
            : msg.op === 'spray'
              ? await net.command('spray', { base: FLOOD_NET, count: msg.count, perSecond: msg.perSecond, to: ADDR.pbx4, port: PORT })
              : await net.command('flowStop', { flow: msg.flow });
          child.stdin!.write(`${JSON.stringify(reply)}\n`);
        })();
      });
    });
    child.removeAllListeners('exit');
    child.stdin!.end();
    print(results, flood);
  } finally {
    await net.destroy();
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function print(results: Result[], floods: Flood[]): void {
  console.log(`drop-bench: ${SAMPLES} samples per configuration, a guess every ${GUESS_EVERY_MS} ms, maxretry ${MAXRETRY}; ${cpus().length} cores, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| nftables-allports unless named, configuration | event → dropped p50 | p99 | max | guesses past maxretry: max (mean) | bans that ran conntrack -L |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const l = [...r.latencies].sort((a, b) => a - b);
    const mean = r.past.reduce((s, x) => s + x, 0) / r.past.length;
    console.log(`| ${r.label} | ${pct(l, 50).toFixed(2)} ms | ${pct(l, 99).toFixed(2)} ms | ${l[l.length - 1]!.toFixed(2)} ms | ${Math.max(...r.past)} (${mean.toFixed(2)}) | ${r.queried} |`);
  }
  console.log('\ntargets: p99 ≤ 2 ms without verification, ≤ 3 ms with; at most 1 guess past maxretry at 200 guesses/s\n');
  console.log(`Flood: ${FLOOD_BANS * MAXRETRY} failures at ${FLOOD_RATE}/s, ${FLOOD_BANS} due bans (every address fails ${MAXRETRY} times within 25 ms), netlink (nft -f for batches over 4,096 changes), state on disk.`);
  console.log('With the conntrack stream, each address first sends one real packet (from a sprayer in the attacker namespace, 1 s ahead of its failures).\n');
  console.log('| flood | bans in the kernel | event → kernel p50 / p99 / max | within 50 ms | CPU % of a core: daemon (process − generator) + conntrack -E = budget; nft -i | lookups that ran conntrack -L | refused |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const f of floods) {
    console.log(`| ${f.label} | ${f.inKernel} / ${f.bans} | ${f.p50.toFixed(1)} / ${f.p99.toFixed(1)} / ${f.max.toFixed(1)} ms | ${f.within50} / ${f.bans} | ${(f.cpu - f.generator).toFixed(1)} (${f.cpu.toFixed(1)} − ${f.generator.toFixed(1)}) + ${f.conntrackCpu.toFixed(1)} = ${(f.cpu - f.generator + f.conntrackCpu).toFixed(1)} %; ${f.nftCpu.toFixed(1)} % | ${f.queried} | ${f.refused} |`);
  }
  console.log('\ntargets: every ban in the kernel within 50 ms of its event; ≤ 30 % of a core');
}

async function inside(): Promise<void> {
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
  // --flood-only: the flood alone, for a profiler (run the child by hand inside a namespace).
  for (const config of process.argv.includes('--flood-only') ? [] : configs()) {
    const settings = defaultJailSettings('bench', { maxretry: MAXRETRY, findtime: 600 });
    const store = Store.open(':memory:');
    const action = createAction({ name: config.action ?? 'nftables-allports', params: { name: 'DROP', flushconntrack: 'no', ...config.params }, file: 'bench', line: 0 }, { jail: settings, logger, clock: systemClock, env: {} });
    await action.start();
    const manager = new BanManager({ store, clock: systemClock, logger });
    await manager.setJail('bench', { bantime: 600, increment: DEFAULT_INCREMENT, actions: [action] });
    await manager.start();
    let applied: (() => void) | null = null;
    const gate = new BanGate('bench', { logger, pass: (req) => void manager.request(req).then(() => applied?.()) });
    const query = config.verify === 'off' ? null : await ConntrackVerifier.detect({ logger });
    const events = config.verify === 'stream' ? new ConntrackEvents({ logger }) : null;
    events?.start();
    const streamed = query && events ? new StreamedWitness(events, query) : null;
    gate.setWitness(streamed ?? query);
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
    results.push({ label: config.label, latencies, past, queried: streamed ? streamed.misses : config.verify === 'query' ? SAMPLES : 0 });
  }
  socket.close();
  const generator = await generatorCpu();
  const flood = [await floodRun('verify = off', false, ask, generator)];
  // By hand (--flood-only) there is no sprayer: the verified flood needs the attacker namespace.
  if (!process.argv.includes('--flood-only')) flood.push(await floodRun('verify: conntrack -E stream', true, ask, generator));
  process.stdout.write(`${JSON.stringify({ op: 'results', results, flood })}\n`);
  lines.close();
}

/** CPU seconds (user + system) of this process's direct children running `name`, from /proc. */
function childrenCpuSeconds(name: string): number {
  const tick = 100;
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid || stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== name) continue;
      total += (Number(fields[11]) + Number(fields[12])) / tick;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

/**
 * Failures at FLOOD_RATE for FLOOD_BANS addresses, each failing MAXRETRY
 * times within 500 events (100 addresses at a time). Sleeps between bursts:
 * the generator must not spin, its CPU is counted with the daemon's.
 */
async function generate(take: (f: Failure) => void): Promise<void> {
  const total = FLOOD_BANS * MAXRETRY;
  const start = performance.now();
  let k = 0;
  while (k < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * FLOOD_RATE) / 1000));
    for (; k < due; k++) {
      const a = Math.floor(k / (100 * MAXRETRY)) * 100 + (k % 100);
      take({ ip: `${FLOOD_NET}.${(a >> 8) & 255}.${a & 255}`, family: 4, time: Date.now(), source: 'ami', reason: 'InvalidPassword' });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** The generator's own CPU, % of a core: what the flood figure holds beyond the daemon's work. */
async function generatorCpu(): Promise<number> {
  let sink = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await generate((f) => { sink += f.ip.length; });
  const cpu = process.cpuUsage(cpu0);
  return sink > 0 ? ((cpu.user + cpu.system) / 1e3 / (performance.now() - start)) * 100 : 0;
}

/** 20,000 failures a second, every address due (five failures within 25 ms), into the real nftables action; with `verify`, each address sends a real packet first. */
async function floodRun(label: string, verify: boolean, ask: (msg: Record<string, unknown>) => Promise<Record<string, unknown>>, generatorCpu: number): Promise<Flood> {
  const logger = silentLogger();
  const dir = mkdtempSync(join(tmpdir(), 'asb-drop-'));
  const settings = defaultJailSettings('flood', { maxretry: MAXRETRY, findtime: 600 });
  const store = Store.open(join(dir, 'state.sqlite3'));
  const action = createAction({ name: 'nftables-allports', params: { name: 'FLOOD', flushconntrack: 'no', persistent: process.argv.includes('--one-shot') ? 'no' : 'yes' }, file: 'bench', line: 0 }, { jail: settings, logger, clock: systemClock, env: {} });
  await action.start();
  const manager = new BanManager({ store, clock: systemClock, logger });
  await manager.setJail('flood', { bantime: 3600, increment: DEFAULT_INCREMENT, actions: [action] });
  await manager.start();
  const latencies: number[] = [];
  const crossed = new Map<string, number>();
  const gate = new BanGate('flood', { logger, pass: (req) => void manager.request(req).then(() => latencies.push(performance.now() - crossed.get(req.ip)!)) });
  const events = verify ? new ConntrackEvents({ logger }) : null;
  const query = verify ? await ConntrackVerifier.detect({ logger }) : null;
  const witness = events && query ? new StreamedWitness(events, query) : null;
  events?.start();
  gate.setWitness(witness);
  const jail = new Jail(settings, {
    clock: systemClock, logger,
    onBan: (req) => {
      crossed.set(req.ip, performance.now());
      gate.submit(req);
    },
  });
  // The daemon feeds every failure to the jail's alert rules first (compromise and health are on by default).
  const alerter = new Alerter(settings, await IgnoreList.resolve([], { logger }), {
    clock: systemClock, logger, store: store.alerts,
    bannedNow: (ip) => manager.banCovering('flood', ip),
    health: () => ({ sources: [], refused: gate.refused, failingActions: manager.failingActions('flood') }),
    emit: () => {},
  });
  alerter.start();
  const total = FLOOD_BANS * MAXRETRY;
  let sprayed: Promise<unknown> = Promise.resolve();
  if (verify) {
    await new Promise((r) => setTimeout(r, 300));
    sprayed = ask({ op: 'spray', count: FLOOD_BANS, perSecond: (FLOOD_RATE / MAXRETRY) });
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const cpu0 = process.cpuUsage();
  const nft0 = childrenCpuSeconds('nft');
  const conntrack0 = childrenCpuSeconds('conntrack');
  const start = performance.now();
  await generate((f) => {
    alerter.failure(f);
    jail.addFailure(f);
  });
  const seconds = (performance.now() - start) / 1000;
  for (let i = 0; i < 500 && latencies.length + gate.refused < FLOOD_BANS; i++) await new Promise((r) => setTimeout(r, 10));
  const wall = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const nftCpu = childrenCpuSeconds('nft') - nft0;
  const conntrackCpu = childrenCpuSeconds('conntrack') - conntrack0;
  const inKernel = ((await action.list!()) ?? []).length;
  jail.stop();
  alerter.stop();
  events?.close();
  await sprayed;
  await manager.close();
  await action.stop();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  const l = [...latencies].sort((a, b) => a - b);
  return {
    label, events: total, bans: FLOOD_BANS, seconds, inKernel, generator: generatorCpu, queried: witness?.misses ?? 0, refused: gate.refused,
    p50: pct(l, 50), p99: pct(l, 99), max: l[l.length - 1] ?? NaN, within50: l.filter((x) => x <= 50).length,
    cpu: ((cpu.user + cpu.system) / 1e6 / wall) * 100, nftCpu: (nftCpu / wall) * 100, conntrackCpu: (conntrackCpu / wall) * 100,
  };
}
