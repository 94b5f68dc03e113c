// `npm run soak -- --minutes N`: the daemon under fire for N minutes, in a
// network namespace of its own with nftables, while this harness breaks
// things on a schedule and checks the kernel all along. Needs root.
// See test/soak/README.md for what it sends, breaks and checks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, createWriteStream, rmSync, openSync, writeSync, closeSync, unlinkSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from '../../src/control/client.js';
import type { JailStatus } from '../../src/control/api.js';
import { repoRoot } from '../helpers/paths.js';
import { listKernel, monitorKernel, flushKernel, type KernelView } from './kernel.js';
import { Ledger, percentile, type Jail } from './ledger.js';
import type { Crossing } from './bursts.js';
import type { TrafficConfig } from './traffic.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MINUTES = opt('minutes', 10);
const SEED = opt('seed', 20261203);
const KEEP = args.includes('--keep');
/** Seconds between SIGKILLs (the first 10 s earlier); 0: never, to watch one long life. */
const KILL_EVERY = opt('kill-every', 180);

const MAXRETRY = 6;
const FINDTIME = 60;
const BANTIME = 120;
const DEADLINE_MS = 1_000;
const TABLES = ['asban-ami', 'asban-log'];
const IGNORED = [...Array.from({ length: 16 }, (_, i) => `10.99.0.${i + 1}`), ...Array.from({ length: 4 }, (_, i) => `2001:db8:99::${i + 1}`)];

if (process.getuid?.() !== 0) {
  console.error('soak: needs root (a network namespace and nftables)');
  process.exit(2);
}
for (const tool of ['ip', 'nft', 'mount']) {
  if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0) {
    console.error(`soak: needs ${tool}`);
    process.exit(2);
  }
}

const NS = `asb-soak-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'asb-soak-'));
const stateDir = join(dir, 'state');
const configDir = join(dir, 'config');
const logPath = join(dir, 'messages');
const socket = join(dir, 'ab.sock');
const daemonOut = createWriteStream(join(dir, 'daemon.out'));
const secret = randomBytes(12).toString('hex');
mkdirSync(stateDir);
mkdirSync(join(configDir, 'filter.d'), { recursive: true });
writeFileSync(join(configDir, 'filter.d', 'asterisk.conf'), readFileSync(join(repoRoot, 'config', 'filter.d', 'asterisk.conf')));
writeFileSync(logPath, '');

function must(cmd: string, argv: string[]): void {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr}`);
}
// The state on a small disk of its own, so that it can be filled.
must('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0700', 'tmpfs', stateDir]);
must('ip', ['netns', 'add', NS]);
must('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);

const children = new Set<ChildProcess>();
let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) c.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', NS]);
  spawnSync('umount', ['-l', stateDir]);
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

// ---- traffic -------------------------------------------------------------
const plan = { maxretry: MAXRETRY, findtimeMs: FINDTIME * 1000, bantimeMs: BANTIME * 1000, dueShare: 0.03 };
const trafficConfig: TrafficConfig = {
  user: 'ban',
  secret,
  logPath,
  seed: SEED,
  ami: { ...plan, perSecond: 5_000, pool: 100_000 },
  log: { ...plan, perSecond: 2_000, pool: 50_000 },
  ignored: IGNORED,
};
const ledger = new Ledger({ bantimeMs: BANTIME * 1000, deadlineMs: DEADLINE_MS, ignored: new Set(IGNORED), tables: TABLES });

interface Mark {
  at: number;
  ami: { sent: number; delivered: number; crossings: number; shortfall: number; ignored: number };
  log: { sent: number; delivered: number; crossings: number; shortfall: number; ignored: number };
  logins: number;
}
const marks: Mark[] = [];
const markWaiters = new Map<unknown, (m: Mark) => void>();
let amiPort = 0;
const faults = { rename: 0, copytruncate: 0, drops: 0, reloads: 0, reloadErrors: [] as string[], kills: [] as string[], disk: '' };

const traffic = spawn('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', join(repoRoot, 'test/soak/traffic.ts'), JSON.stringify(trafficConfig)], {
  stdio: ['pipe', 'pipe', 'inherit'],
  cwd: repoRoot,
});
children.add(traffic);
const trafficReady = new Promise<void>((resolve) => {
  createInterface({ input: traffic.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { k: string; j?: Jail; port?: number; id?: unknown; at?: number; mode?: string } & Crossing & Mark;
    if (msg.k === 'cross') ledger.cross(msg.j!, msg);
    else if (msg.k === 'mark') {
      marks.push(msg);
      markWaiters.get(msg.id)?.(msg);
      markWaiters.delete(msg.id);
    } else if (msg.k === 'rotated') {
      if (msg.mode === 'copytruncate') ledger.truncated(msg.at!);
    } else if (msg.k === 'ready') {
      amiPort = msg.port!;
      resolve();
    }
  });
});
traffic.on('exit', (code) => {
  if (!stopping) {
    console.error(`soak: traffic generator exited (${code})`);
    process.exit(1);
  }
});
let markId = 0;
function mark(): Promise<Mark> {
  const id = ++markId;
  return new Promise((resolve) => {
    markWaiters.set(id, resolve);
    traffic.stdin!.write(`${JSON.stringify({ op: 'mark', id })}\n`);
  });
}
const tell = (cmd: object) => traffic.stdin!.write(`${JSON.stringify(cmd)}\n`);

// ---- daemon --------------------------------------------------------------
function writeJails(findtime: number): void {
  writeFileSync(
    join(configDir, 'jail.conf'),
    // Per address: the traffic's IPv6 attackers share a few /64s, and the ledger follows addresses.
    `[DEFAULT]\nmaxretry = ${MAXRETRY}\nfindtime = ${FINDTIME}\nbantime = ${BANTIME}\nignoreip = 10.99.0.0/24 2001:db8:99::/64\nipv6_prefix = 128\nverify = off\n\n` +
      `[ami]\nenabled = true\nbackend = ami\nami_host = 127.0.0.1\nami_port = ${amiPort}\nfindtime = ${findtime}\nfilter = asterisk\naction = nftables-allports[name=ami]\n\n` +
      `[log]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${logPath}\naction = nftables-allports[name=log]\n`,
  );
}

interface Life {
  n: number;
  spawn: number;
  ready: number;
  end: number;
  pid: number;
  start: Mark;
  finalStatus: JailStatus[] | null;
  endMark: Mark | null;
  samples: Array<{ at: number; rss: number; fds: number; cpu: number }>;
  errors: number;
}
const lives: Life[] = [];
let daemon: ChildProcess | null = null;
let output = '';

async function startDaemon(): Promise<Life> {
  const spawnAt = Date.now();
  ledger.lifeBegins(spawnAt);
  // SOAK_NODE_FLAGS go to the daemon's node alone (e.g. --trace-gc), not to the harness.
  const flags = (process.env.SOAK_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn('ip', ['netns', 'exec', NS, process.execPath, ...flags, join(repoRoot, 'bin', 'asterisk-ban.js'), 'run', '--config', configDir], {
    env: { ...process.env, ASTERISK_BAN_SOCKET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  daemon = child;
  const life: Life = { n: lives.length + 1, spawn: spawnAt, ready: 0, end: 0, pid: child.pid!, start: await mark(), finalStatus: null, endMark: null, samples: [], errors: 0 };
  lives.push(life);
  output = '';
  const onData = (d: Buffer) => {
    const text = d.toString();
    daemonOut.write(text);
    life.errors += (text.match(/\berror\b/gi) ?? []).length;
    if (!life.ready) output += text;
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const deadline = Date.now() + 30_000;
  while (!/asterisk-ban ready/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not become ready:\n${output.slice(-4000)}`);
    await sleep(20);
  }
  life.ready = Date.now();
  output = '';
  ledger.lifeReady(life.ready);
  return life;
}

async function status(): Promise<JailStatus[] | null> {
  try {
    return (await request(socket, 'status', {}, { timeoutMs: 5_000 })) as JailStatus[];
  } catch {
    return null;
  }
}

function procSample(pid: number): { rss: number; fds: number; cpu: number } | null {
  try {
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(f[11]) + Number(f[12])) * 10; // clock ticks (100 Hz) -> ms
    return { rss, fds, cpu };
  } catch {
    return null;
  }
}

// ---- faults --------------------------------------------------------------
let busy = false;
let stopping = false;
let findtime = FINDTIME;
let lastView: KernelView | null = null;

async function killAndRestart(flush: boolean): Promise<void> {
  const life = lives[lives.length - 1]!;
  life.finalStatus = await status();
  life.endMark = await mark();
  const child = daemon!;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
  children.delete(child);
  life.end = Date.now();
  ledger.lifeEnds(life.end, lastView);
  if (flush) await flushKernel(NS, TABLES);
  const next = await startDaemon();
  faults.kills.push(`${flush ? 'kernel flushed (a reboot)' : 'kernel kept'}: ready ${next.ready - life.end} ms after the kill`);
}

async function reloadStorm(): Promise<void> {
  findtime = findtime === FINDTIME ? FINDTIME + 1 : FINDTIME;
  writeJails(findtime);
  faults.reloads++;
  const asks = Array.from({ length: 3 }, () => request(socket, 'reload', {}, { timeoutMs: 30_000 }).catch((e: Error) => faults.reloadErrors.push(e.message)));
  daemon?.kill('SIGHUP');
  await Promise.all(asks);
}

function fillDisk(): () => void {
  const path = join(stateDir, 'filler');
  const fd = openSync(path, 'w');
  for (const size of [1 << 20, 4096, 1]) {
    const block = Buffer.alloc(size);
    try {
      for (;;) writeSync(fd, block);
    } catch {
      // ENOSPC: on to smaller blocks.
    }
  }
  closeSync(fd);
  return () => unlinkSync(path);
}

// ---- run -----------------------------------------------------------------
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await trafficReady;
writeJails(FINDTIME);
writeFileSync(join(configDir, 'asterisk-ban.conf'), `[Definition]\nsocket = ${socket}\ndbfile = ${join(stateDir, 'state.sqlite3')}\nloglevel = info\n`);
writeFileSync(join(configDir, '.env'), `AMI_USERNAME=ban\nAMI_SECRET=${secret}\n`, { mode: 0o600 });
const monitor = monitorKernel(NS, (a, at) => ledger.added(a, at));
children.add(monitor);
const t0 = Date.now();
await startDaemon();
console.log(`soak: ${MINUTES} min, namespace ${NS}, work dir ${dir}${KEEP ? ' (kept)' : ''}`);

// In the first life, while the database still grows: later SQLite reuses its free pages and a full disk would not bite.
const diskAt = Math.min(100, Math.floor(MINUTES * 24));
const persistence = { sawUnpersisted: false, recoveredAfterMs: -1, unsavedMax: 0 };
let diskUntil = 0;
let restoreDisk: (() => void) | null = null;

const pollLoop = (async () => {
  while (!stopping) {
    try {
      const view = await listKernel(NS);
      lastView = view;
      ledger.kernel(view);
    } catch (e) {
      ledger.violation('kernel listing', (e as Error).message);
    }
    await sleep(200);
  }
})();

const sampleLoop = (async () => {
  while (!stopping) {
    await sleep(5_000);
    const life = lives[lives.length - 1]!;
    if (busy || life.end) continue;
    const p = procSample(life.pid);
    if (p) life.samples.push({ at: Date.now(), ...p });
    const st = await status();
    if (st) {
      const since = st[0]?.notPersistedSince ?? null;
      const unsaved = st[0]?.unsavedChanges ?? 0;
      persistence.unsavedMax = Math.max(persistence.unsavedMax, unsaved);
      if (since) persistence.sawUnpersisted = true;
      if (diskUntil && !restoreDisk && persistence.recoveredAfterMs < 0 && !since && unsaved === 0) persistence.recoveredAfterMs = Date.now() - diskUntil;
    }
  }
})();

let second = 0;
let kills = 0;
while (second < MINUTES * 60) {
  await sleep(Math.max(0, t0 + (second + 1) * 1000 - Date.now()));
  second++;
  void mark();
  if (second % 30 === 0) {
    const mode = (second / 30) % 2 === 1 ? 'rename' : 'copytruncate';
    faults[mode]++;
    tell({ op: 'rotate', mode });
  }
  if (second % 45 === 0) {
    faults.drops++;
    tell({ op: 'drop' });
  }
  if (second === diskAt) {
    restoreDisk = fillDisk();
    faults.disk = `state disk full from ${second} s to ${second + 20} s`;
  }
  if (restoreDisk && second === diskAt + 20) {
    restoreDisk();
    restoreDisk = null;
    diskUntil = Date.now();
  }
  if (busy) continue;
  if (KILL_EVERY > 0 && second % KILL_EVERY === KILL_EVERY - 10) {
    busy = true;
    kills++;
    void killAndRestart(kills % 2 === 0).catch((e: Error) => ledger.violation('restart', e.message)).finally(() => (busy = false));
  } else if (second % 60 === 0) {
    busy = true;
    void reloadStorm().finally(() => (busy = false));
  }
}
while (busy) await sleep(50);

// ---- wrap up -------------------------------------------------------------
const life = lives[lives.length - 1]!;
await sleep(DEADLINE_MS + 500);
life.finalStatus = await status();
life.endMark = await mark();
stopping = true;
await pollLoop;
await sampleLoop;
const finalView = await listKernel(NS);
ledger.kernel(finalView);
const stopStart = Date.now();
const child = daemon!;
const gone = new Promise((r) => child.once('exit', r));
child.kill('SIGTERM');
await gone;
const stopMs = Date.now() - stopStart;
life.end = Date.now();
ledger.lifeEnds(life.end, null);
tell({ op: 'stop' });
const last = marks[marks.length - 1]!;

printSummary();
const failed = ledger.violations.size > 0;
cleanup();
process.exit(failed ? 1 : 0);

// ---- summary -------------------------------------------------------------
function printSummary(): void {
  const wall = (life.end - t0) / 1000;
  const row = (cells: unknown[]) => console.log(`| ${cells.join(' | ')} |`);
  const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
  console.log(`\nasterisk-ban soak: ${MINUTES} min (${wall.toFixed(0)} s), seed ${SEED}, ${cpus().length} cores, Node ${process.version}, load ${load}\n`);
  console.log('Traffic');
  row(['stream', 'sent', 'delivered', 'rate /s', 'crossings (maxretry reached)', 'shortfall']);
  row(['---', '---', '---', '---', '---', '---']);
  row(['AMI flood (100k addresses)', last.ami.sent, last.ami.delivered, (last.ami.sent / wall).toFixed(0), last.ami.crossings, last.ami.shortfall]);
  row(['log lines (50k addresses)', last.log.sent, last.log.delivered, (last.log.sent / wall).toFixed(0), last.log.crossings, last.log.shortfall]);
  row(['ignored addresses (AMI + log)', last.ami.ignored + last.log.ignored, '', '', '', '']);
  console.log(`\nFaults: ${faults.rename} renames + ${faults.copytruncate} copytruncates, ${faults.drops} AMI drops, ${faults.reloads} reload storms (3 reloads + SIGHUP each, ${faults.reloadErrors.length} errors), ${faults.disk}`);
  for (const k of faults.kills) console.log(`  SIGKILL + restart, ${k}`);
  console.log(`  SIGTERM at the end: exited in ${stopMs} ms`);

  console.log('\nDaemon lives');
  row(['life', 'seconds', 'AMI failures counted / delivered', 'log failures counted / written in window', 'RSS MB from 60 s: first → last (range)', 'open fds from 60 s: first → last (range)', 'CPU % of a core', 'error lines']);
  row(['---', '---', '---', '---', '---', '---', '---', '---']);
  for (const l of lives) {
    const secs = ((l.end - l.spawn) / 1000).toFixed(0);
    const ami = l.finalStatus?.find((s) => s.jail === 'ami');
    const logj = l.finalStatus?.find((s) => s.jail === 'log');
    const delivered = l.endMark ? l.endMark.ami.delivered - l.start.ami.delivered : NaN;
    const windowStart = marks.filter((m) => m.at <= l.spawn - (FINDTIME + 1) * 1000).pop();
    const written = l.endMark ? l.endMark.log.sent - (windowStart?.log.sent ?? 0) : NaN;
    if (ami && ami.totalFailed > delivered) ledger.violation('counted twice', `life ${l.n}: AMI counted ${ami.totalFailed} of ${delivered} delivered`);
    if (logj && logj.totalFailed > written) ledger.violation('counted twice', `life ${l.n}: log counted ${logj.totalFailed} of ${written} lines in its window`);
    const warm = l.samples.filter((s) => s.at >= l.spawn + 60_000);
    const mb = (n: number) => (n / 1048576).toFixed(0);
    // First and last sample after warm-up, then the range: flat means no trend from one to the other.
    const span = (f: (x: (typeof warm)[number]) => number, show: (n: number) => string) =>
      warm.length ? `${show(f(warm[0]!))} → ${show(f(warm[warm.length - 1]!))} (${show(Math.min(...warm.map(f)))}-${show(Math.max(...warm.map(f)))})` : 'n/a';
    const rss = span((x) => x.rss, mb);
    const fds = span((x) => x.fds, String);
    const first = l.samples[0];
    const lastS = l.samples[l.samples.length - 1];
    const cpu = first && lastS && lastS.at > first.at ? ((100 * (lastS.cpu - first.cpu)) / (lastS.at - first.at)).toFixed(0) : 'n/a';
    row([l.n, secs, `${ami?.totalFailed ?? '?'} / ${delivered}`, `${logj?.totalFailed ?? '?'} / ${written}`, rss, fds, cpu, l.errors]);
  }

  console.log('\nChecks');
  row(['check', 'result', 'detail']);
  row(['---', '---', '---']);
  const check = (name: string, kinds: string[], detail: string) => {
    const found = kinds.flatMap((k) => ledger.violations.get(k) ?? []);
    row([name, found.length === 0 ? 'PASS' : `FAIL (${found.length})`, found.length ? found.slice(0, 3).join('; ') : detail]);
  };
  check(`every due address in the kernel within ${DEADLINE_MS} ms`, ['late'], `${ledger.due} due, ${ledger.exempt} not required (burst split by a kill, an AMI drop or a log cut)`);
  check('no ignored address ever banned', ['ignored banned'], `${IGNORED.length} ignored addresses failing all along`);
  check('every ban explained by a crossing (no double count, no wrong address)', ['unexplained ban'], `${ledger.polls} kernel listings (p50 ${percentile(ledger.listingMs, 50)} ms, max ${Math.max(...ledger.listingMs)} ms each), up to ${ledger.maxElements} elements`);
  check('no ban lost across kills', ['lost', 'restart'], `${ledger.lostChecked} bans carried over ${lives.length - 1} restarts`);
  check('no duplicate kernel entries, no stray tables or rules', ['duplicate', 'stray table', 'rules', 'table missing'], 'one table per jail, its rules unchanged, every listing');
  check('no failure counted twice', ['counted twice'], 'counted <= delivered in every life');
  if (!(persistence.sawUnpersisted && persistence.recoveredAfterMs >= 0)) ledger.violation('disk', `not persisted seen: ${persistence.sawUnpersisted}, recovered: ${persistence.recoveredAfterMs >= 0}`);
  check('state written again after the disk filled', ['disk'], `status said not persisted: ${persistence.sawUnpersisted}, up to ${persistence.unsavedMax} unsaved changes, all written ${(persistence.recoveredAfterMs / 1000).toFixed(0)} s after space returned`);
  check('kernel listings', ['kernel listing'], '');
  console.log('\nmaxretry-th failure sent -> address in the kernel (seen by nft monitor)');
  row(['jail', 'bans', 'p50 ms', 'p99 ms', 'max ms']);
  row(['---', '---', '---', '---', '---']);
  for (const j of ['ami', 'log'] as const) {
    const lat = ledger.latencies[j];
    row([j, lat.length, percentile(lat, 50), percentile(lat, 99), Math.max(...lat)]);
  }
  for (const [k, v] of ledger.violations) if (v.length > 3) console.log(`  ${k}: ${v.length} in all; first: ${v.slice(0, 5).join('; ')}`);
}
