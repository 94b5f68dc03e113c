/**
 * Log path end to end: a writer process appends Asterisk failure lines at a
 * fixed rate; this process follows the file (LogFollower → LogSource →
 * compiled filter → Jail, maxretry 5) into a counting dry-run ban sink.
 *
 *   node --expose-gc --import tsx test/bench/follow-bench.ts [SECONDS=30] [RATES=2000,20000] [--plain] [--no-memory]
 *
 * --plain swaps the filter engine for one JS regex, to show what the follower,
 * source and jail cost without it. "(read part)": last line written → handed to the filter.
 *
 * Reports per rate: lag at the end (last line written → its failure counted),
 * bans issued vs due (due: addresses the writer wrote >= 5 failures for),
 * CPU % of this process, RSS; then counter memory per tracked address.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { parseAddress } from '../../src/core/address.js';
import { silentLogger } from '../../src/core/logger.js';
import type { BanRequest } from '../../src/core/types.js';
import type { CompiledFilter, LineMatcher, MatcherHooks } from '../../src/filter/types.js';
import { Jail } from '../../src/jail/jail.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import { LogSource } from '../../src/sources/logfile/source.js';

const POOL = 50_000;
const WRITTEN_AT = /(?:callid: |from '")(\d{13})/;
const MAXRETRY = 5;

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `[${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}]`;
}

/** Address k of the pool: a quarter IPv6. */
function address(k: number): { text: string; v6: boolean } {
  if (k % 4 === 0) return { text: `2001:db8:${(k >> 8).toString(16)}::${(k & 0xff).toString(16)}`, v6: true };
  return { text: `198.${51 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`, v6: false };
}

function failureLine(now: number, k: number, n: number): string {
  const a = address(k);
  if (n % 2 === 0) {
    return `${stamp(now)} NOTICE[${1000 + (n % 3000)}] chan_sip.c: Registration from '"${now}" <sip:${n % 900}@192.0.2.1>' failed for '${a.v6 ? `[${a.text}]` : a.text}:5060' - Wrong password`;
  }
  return `${stamp(now)} NOTICE[${1000 + (n % 3000)}] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:${n % 900}@192.0.2.1>' failed for '${a.v6 ? `[${a.text}]` : a.text}:5060' (callid: ${now}) - Failed to authenticate`;
}

/** The writer process: appends at `rate` lines/s in 10 ms steps, then prints what it wrote. */
async function writer(file: string, rate: number, seconds: number): Promise<void> {
  const fd = openSync(file, 'a');
  const perAddr = new Uint16Array(POOL);
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const t0 = Date.now();
  let written = 0;
  let lastWriteAt = t0;
  while (Date.now() - t0 < seconds * 1000) {
    const due = Math.floor(((Date.now() - t0) * rate) / 1000);
    let batch = '';
    const now = Date.now();
    for (; written < due; written++) {
      const k = Math.floor(rnd() * POOL);
      perAddr[k]!++;
      batch += `${failureLine(now, k, written)}\n`;
    }
    if (batch) {
      writeSync(fd, batch);
      lastWriteAt = Date.now();
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  let dueBans = 0;
  for (const c of perAddr) if (c >= MAXRETRY) dueBans++;
  process.stdout.write(`${JSON.stringify({ written, dueBans, lastWriteAt })}\n`);
}

/** Falls back to a plain regex filter of our own while src/filter is not in place. */
async function loadFilter(plain: boolean): Promise<{ filter: CompiledFilter; kind: string }> {
  // Both line kinds, IPv4 and IPv6, must match, or the figures would be about another filter.
  const samples = [0, 1, 4, 5].map((k) => failureLine(Date.now(), k, k));
  const works = (filter: CompiledFilter): boolean => {
    let hits = 0;
    const m = filter.matcher({ onMatch: () => hits++ });
    for (const line of samples) m.push(line);
    m.flush();
    return hits === samples.length;
  };
  if (!plain) try {
    const mod = (await import('../../src/filter/index.js')) as { compileFilter(def: unknown, opts?: unknown): CompiledFilter };
    const { loadFilterDefinition } = (await import('../../src/filter/load.js')) as { loadFilterDefinition(path: string): Promise<unknown> };
    const shipped = mod.compileFilter(await loadFilterDefinition(fileURLToPath(new URL('../../config/filter.d/asterisk.conf', import.meta.url))));
    if (works(shipped)) return { filter: shipped, kind: 'config/filter.d/asterisk.conf through compileFilter' };
    const at = (value: string, line: number) => ({ value, file: '<bench>', line });
    const filter = mod.compileFilter({
      name: 'asterisk-bench',
      file: '<bench>',
      failregex: [
        at(String.raw`^NOTICE\[\d+\] chan_sip\.c: Registration from '[^']*' failed for '\[?<HOST>\]?:\d+' - Wrong password$`, 1),
        at(String.raw`^NOTICE\[\d+\] res_pjsip/pjsip_distributor\.c: Request '[A-Z]+' from '[^']*' failed for '\[?<HOST>\]?:\d+' \(callid: [^)]*\) - Failed to authenticate$`, 2),
      ],
      ignoreregex: [],
      prefregex: null,
      datepattern: null,
      vars: {},
    });
    if (works(filter)) return { filter, kind: 'bench failregex through compileFilter (shipped filter did not match the samples)' };
  } catch {
    // Not there yet: fall through.
  }
  const re = /^\[[^\]]+\] NOTICE\[\d+\] (?:chan_sip\.c: Registration|res_pjsip\/pjsip_distributor\.c: Request '[A-Z]+') from '[^']*' failed for '\[?([0-9a-f.:]+)\]?:\d+'/;
  const filter: CompiledFilter = {
    name: 'bench-regex',
    failregex: [re.source],
    reasons: ['bench-regex'],
    matcher(hooks: MatcherHooks): LineMatcher {
      let n = 0;
      return {
        push(line) {
          n++;
          const m = re.exec(line);
          const a = m ? parseAddress(m[1]!) : null;
          if (a) hooks.onMatch({ ip: a.text, family: a.family, time: Date.now(), regex: 0, line, lineNo: n });
        },
        flush() {},
      };
    },
  };
  return { filter, kind: plain ? 'plain JS regex (--plain: follower + source + jail without the filter engine)' : 'plain JS regex (compileFilter unavailable)' };
}

/** Notes when the source last handed a line to the filter: splits the lag into reading and matching. */
function timed(filter: CompiledFilter, onPush: () => void): CompiledFilter {
  return {
    ...filter,
    name: filter.name,
    failregex: filter.failregex,
    matcher(hooks: MatcherHooks): LineMatcher {
      const inner = filter.matcher(hooks) as LineMatcher & { skip?(lines: number, bytes: number): void };
      const wrapped: LineMatcher & { skip?(lines: number, bytes: number): void } = {
        push(line) {
          onPush();
          inner.push(line);
        },
        flush: () => inner.flush(),
      };
      if (inner.skip) wrapped.skip = (l, b) => inner.skip!(l, b);
      return wrapped;
    },
  };
}

async function run(rate: number, seconds: number, baseFilter: CompiledFilter): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'follow-bench-'));
  const file = join(dir, 'messages');
  writeFileSync(file, '');
  const bans = new Set<string>();
  let failures = 0;
  let lastFailureAt = 0;
  let firstFailureAt = 0;
  const lags: number[] = [];
  let lastPushAt = 0;
  const filter = timed(baseFilter, () => (lastPushAt = Date.now()));
  const jail = new Jail(defaultJailSettings('bench', { maxretry: MAXRETRY, findtime: 600 }), {
    clock: systemClock,
    logger: silentLogger(),
    onBan: (r: BanRequest) => bans.add(r.ip),
  });
  const source = new LogSource({
    jail: 'bench',
    paths: [file],
    filter,
    clock: systemClock,
    logger: silentLogger(),
    events: {
      failure: (f) => {
        if (failures++ === 0) firstFailureAt = Date.now();
        lastFailureAt = Date.now();
        // Every line carries its write time (display name or Call-ID): the lag of each failure.
        const sent = WRITTEN_AT.exec(f.raw ?? '');
        if (sent && (failures & 15) === 0) lags.push(lastFailureAt - Number(sent[1]));
        jail.addFailure(f);
      },
    },
  });
  await source.start();
  const cpu0 = process.cpuUsage();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--writer', file, String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.on('exit', r));
  const w = JSON.parse(out) as { written: number; dueBans: number; lastWriteAt: number };
  const deadline = Date.now() + 30_000;
  while (failures < w.written && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  // From the first failure counted: the writer's start-up is not ours to count.
  const wall = Math.max(1, lastFailureAt - firstFailureAt);
  const cpu = process.cpuUsage(cpu0);
  const rss = process.memoryUsage().rss;
  await source.stop();
  jail.stop();
  rmSync(dir, { recursive: true, force: true });
  const lag = failures >= w.written ? `${Math.max(0, lastFailureAt - w.lastWriteAt)} ms` : `behind (${w.written - failures} lines)`;
  return [
    `${rate}`,
    `${w.written} / ${failures}`,
    lag,
    `${Math.max(0, lastPushAt - w.lastWriteAt)} ms`,
    percentiles(lags),
    `${bans.size} / ${w.dueBans}`,
    `${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(1)} %`,
    `${((cpu.user + cpu.system) / Math.max(1, failures)).toFixed(1)} µs`,
    `${(rss / 1048576).toFixed(0)} MiB`,
  ];
}

/** Ceiling: how fast a backlog is worked through (a file written ahead, read from its start). */
async function catchUp(lines: number, filter: CompiledFilter): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'follow-bench-'));
  const file = join(dir, 'messages');
  const now = Date.now();
  let text = '';
  for (let n = 0; n < lines; n++) text += `${failureLine(now, (n * 7919) % POOL, n)}\n`;
  writeFileSync(file, text);
  let failures = 0;
  const jail = new Jail(defaultJailSettings('catchup', { maxretry: MAXRETRY, findtime: 600 }), { clock: systemClock, logger: silentLogger(), onBan: () => {} });
  const source = new LogSource({
    jail: 'catchup',
    paths: [file],
    filter,
    clock: systemClock,
    logger: silentLogger(),
    // A saved position at 0: the whole file is unread backlog.
    positions: { get: () => ({ inode: statSync(file).ino, offset: 0, firstLineHash: '' }), set: () => {} },
    events: { failure: (f) => (failures++, jail.addFailure(f)) },
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await source.start();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await source.stop();
  jail.stop();
  rmSync(dir, { recursive: true, force: true });
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return `${failures} of ${lines} failure lines in ${(wall / 1000).toFixed(2)} s: ${Math.round(failures / (wall / 1000))} lines/s wall, ${Math.round(failures / cpuS)} lines per CPU-second`;
}

function percentiles(xs: number[]): string {
  if (xs.length === 0) return '-';
  xs.sort((a, b) => a - b);
  const at = (q: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
  return `${at(0.5)}/${at(0.99)}/${xs[xs.length - 1]} ms`;
}

function counterMemory(count: number): string {
  const gc = (globalThis as { gc?: () => void }).gc;
  const clock = new ManualClock();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const jail = new Jail(defaultJailSettings('mem', { maxretry: MAXRETRY, findtime: 600, maxtracked: count }), { clock, logger: silentLogger(), onBan: () => {} });
  for (let k = 0; k < count; k++) {
    jail.addFailure({ ip: `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, family: 4, time: clock.now(), source: 'log', reason: 'failregex[0]' });
  }
  gc?.();
  const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const tracked = jail.counters().currentlyFailed;
  jail.stop();
  return `${tracked} tracked: ${((after - before) / tracked).toFixed(0)} bytes/address (target <= 250)${gc ? '' : ' [no --expose-gc: rough]'}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

if (process.argv[2] === '--writer') {
  await writer(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
} else {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const seconds = Number(args[0] ?? 30);
  const rates = (args[1] ?? '2000,20000').split(',').map(Number);
  const { filter, kind } = await loadFilter(process.argv.includes('--plain'));
  console.log(`follow-bench: ${seconds} s per rate, pool ${POOL} addresses (1/4 IPv6), maxretry ${MAXRETRY}, filter: ${kind}`);
  const rows = [['lines/s', 'written / counted', 'lag at end', '(read part)', 'lag p50/p99/max', 'bans issued / due', 'CPU (this process)', 'CPU per line', 'RSS']];
  for (const rate of rates) rows.push(await run(rate, seconds, filter));
  console.log(table(rows));
  console.log('targets: 20,000 lines/s, lag <= 100 ms, every due ban issued');
  console.log(`machine load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} cores: lag is only meaningful on a quiet machine; CPU per line is not`);
  console.log(`catch-up ceiling (follower + source + filter + jail, one thread): ${await catchUp(300_000, filter)}`);
  console.log('fail2ban for comparison: 3,500-6,700 failure lines/s at most');
  if (!process.argv.includes('--no-memory')) console.log(`counter memory at 1M addresses inside findtime: ${counterMemory(1_000_000)}`);
}
