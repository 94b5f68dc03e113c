import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { BanRequest, Failure } from '../../../src/core/types.js';
import { metrics } from '../../../src/control/metrics.js';
import { Jail } from '../../../src/jail/jail.js';
import { defaultJailSettings } from '../../../src/settings/defaults.js';
import { expandGlob } from '../../../src/sources/logfile/glob.js';
import { MemoryPositionStore } from '../../../src/sources/logfile/positions.js';
import { LogSource, RAW_MAX, type LogSourceOptions } from '../../../src/sources/logfile/source.js';
import { localStamp, tempDir, waitFor } from './helpers.js';
import { stubFilter } from './stub-filter.js';

const tmp = tempDir();
const sources: LogSource[] = [];
after(async () => {
  for (const s of sources) await s.stop();
  tmp.cleanup();
});
let n = 0;

function line(ip: string, word = 'failed', at = Date.now()): string {
  return `[${localStamp(at)}] NOTICE[2345] chan_sip.c: Registration from '"100" <sip:100@pbx>' ${word} for '${ip}'\n`;
}

function source(paths: string[], extra: Partial<LogSourceOptions> = {}) {
  const failures: Failure[] = [];
  const s = new LogSource({
    jail: `test${++n}`,
    paths,
    filter: stubFilter(['failed', 'rejected']),
    gapFilter: stubFilter(['rejected'], 'gaps'),
    clock: systemClock,
    logger: silentLogger(),
    events: { failure: (f) => failures.push(f) },
    pollMs: 50,
    globEveryMs: 50,
    ...extra,
  });
  sources.push(s);
  return { s, failures };
}

async function counterValue(c: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, jail: string) {
  return (await c.get()).values.find((v) => v.labels.jail === jail)?.value ?? 0;
}

describe('LogSource', () => {
  it('turns matched lines into log Failures and counts lines and matches', async () => {
    const p = join(tmp.dir, 'messages');
    writeFileSync(p, line('192.0.2.99'));
    const { s, failures } = source([p]);
    await s.start();
    const when = Date.parse('2026-11-27T10:00:00Z');
    appendFileSync(p, `noise\n${line('192.0.2.1', 'failed', when)}NOTICE ${'x'.repeat(600)} rejected for '2001:DB8::1'\n`);
    await waitFor(() => failures.length >= 2, 'failures');
    assert.deepEqual(failures.map((f) => [f.ip, f.family, f.source, f.reason]), [
      ['192.0.2.1', 4, 'log', 'stub failed'],
      ['2001:db8::1', 6, 'log', 'stub rejected'],
    ]);
    assert.equal(failures[0]!.time, Math.floor(when / 1000) * 1000);
    assert.equal(failures[1]!.raw!.length, RAW_MAX);
    assert.equal(await counterValue(metrics.logLines, s.name.split('/')[0]!), 3);
    assert.equal(await counterValue(metrics.logMatched, s.name.split('/')[0]!), 2);
    assert.deepEqual(s.status().map((x) => [x.kind, x.state, x.detail]), [['log', 'following', p]]);
  });

  it('expands globs, follows files that appear later from their start, and reports an unmatched pattern as waiting', async () => {
    const dir = join(tmp.dir, 'glob');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.log'), line('192.0.2.50'));
    writeFileSync(join(dir, 'skip.txt'), '');
    const { s, failures } = source([join(dir, '*.log'), join(tmp.dir, 'none', 'x?.log')]);
    await s.start();
    assert.deepEqual(s.status().map((x) => [x.state, x.detail]), [['following', join(dir, 'a.log')], ['waiting', join(tmp.dir, 'none', 'x?.log')]]);
    appendFileSync(join(dir, 'a.log'), line('192.0.2.51'));
    writeFileSync(join(dir, 'b.log'), line('192.0.2.52'));
    await waitFor(() => failures.length >= 2, 'failures from both files');
    assert.deepEqual(failures.map((f) => f.ip).sort(), ['192.0.2.51', '192.0.2.52']);
  });

  it('does not count a rotated copy again when a glob matches it', async () => {
    const dir = join(tmp.dir, 'rot');
    mkdirSync(dir);
    const p = join(dir, 'messages');
    writeFileSync(p, '');
    const { s, failures } = source([join(dir, 'messages*')]);
    await s.start();
    appendFileSync(p, line('198.51.100.1'));
    await waitFor(() => failures.length >= 1, 'first failure');
    renameSync(p, `${p}.1`);
    writeFileSync(p, line('198.51.100.2'));
    await waitFor(() => s.status().length >= 2 && failures.length >= 2, 'rotation seen by glob and follower');
    await s.check();
    appendFileSync(p, line('198.51.100.3'));
    await waitFor(() => failures.length >= 3, 'line after rotation');
    await s.check();
    assert.deepEqual(failures.map((f) => f.ip), ['198.51.100.1', '198.51.100.2', '198.51.100.3']);
  });

  it('counts nothing in off mode, and on switch to full counts what was read since the loss, once', async () => {
    const p = join(tmp.dir, 'modes.log');
    writeFileSync(p, '');
    const { s, failures } = source([p], { mode: 'off' });
    await s.start();
    const lost = Date.now() - 10_000;
    appendFileSync(p, line('203.0.113.1', 'failed', lost - 5_000) + line('203.0.113.2', 'failed', lost + 2_000));
    await waitFor(() => s.status()[0]!.state === 'following', 'following');
    await s.check();
    assert.equal(failures.length, 0);
    s.setMode('full', lost);
    assert.deepEqual(failures.map((f) => f.ip), ['203.0.113.2']);
    s.setMode('gaps');
    appendFileSync(p, line('203.0.113.3') + line('203.0.113.4', 'rejected'));
    await waitFor(() => failures.length >= 2, 'gap failure');
    await s.check();
    assert.deepEqual(failures.map((f) => f.ip), ['203.0.113.2', '203.0.113.4']);
  });

  it('resumes at a saved position across a restart of the source', async () => {
    const p = join(tmp.dir, 'resume.log');
    writeFileSync(p, '');
    const positions = new MemoryPositionStore();
    const a = source([p], { positions });
    await a.s.start();
    appendFileSync(p, line('192.0.2.31'));
    await waitFor(() => a.failures.length >= 1, 'first run');
    await a.s.stop();
    appendFileSync(p, line('192.0.2.32'));
    const b = source([p], { positions });
    await b.s.start();
    await waitFor(() => b.failures.length >= 1, 'second run');
    assert.deepEqual([...a.failures, ...b.failures].map((f) => f.ip), ['192.0.2.31', '192.0.2.32']);
  });

  it('counts a file followed under two names (a symlink) once', async () => {
    const p = join(tmp.dir, 'real.log');
    writeFileSync(p, '');
    symlinkSync(p, join(tmp.dir, 'alias.log'));
    const { s, failures } = source([p, join(tmp.dir, 'alias.log')]);
    await s.start();
    appendFileSync(p, line('192.0.2.77'));
    await waitFor(() => failures.length >= 1, 'failure');
    await s.check();
    assert.deepEqual(failures.map((f) => f.ip), ['192.0.2.77']);
  });

  it('never counts the tail of an over-long line, however much it looks like a log line', async () => {
    const p = join(tmp.dir, 'long.log');
    writeFileSync(p, '');
    const { s, failures } = source([p], { maxLineBytes: 4096 });
    await s.start();
    // An attacker-sized From header: past the cut, the text imitates a whole failure line naming a victim.
    appendFileSync(p, `[${localStamp(Date.now())}] NOTICE[1] chan_sip.c: Registration from '${'A'.repeat(8000)}`);
    appendFileSync(p, `${'B'.repeat(5000)}${line('198.51.100.99').trimEnd()}\n${line('192.0.2.5')}`);
    await waitFor(() => failures.length >= 1, 'the genuine line after');
    await s.check();
    assert.deepEqual(failures.map((f) => f.ip), ['192.0.2.5']);
  });

  it('reads back lines dated within readbackMs on a fresh start', async () => {
    const p = join(tmp.dir, 'readback.log');
    const now = Date.now();
    writeFileSync(p, line('192.0.2.90', 'failed', now - 3_600_000) + line('192.0.2.91', 'failed', now - 60_000) + line('192.0.2.92', 'failed', now - 1_000));
    const { s, failures } = source([p], { readbackMs: 600_000 });
    await s.start();
    assert.deepEqual(failures.map((f) => f.ip), ['192.0.2.91', '192.0.2.92']);
    assert.equal(failures[0]!.time, Math.floor((now - 60_000) / 1000) * 1000);
  });

  it('feeds a Jail that bans at maxretry', async () => {
    const p = join(tmp.dir, 'jail.log');
    writeFileSync(p, '');
    const bans: BanRequest[] = [];
    const jail = new Jail(defaultJailSettings('sip', { maxretry: 3 }), { clock: systemClock, logger: silentLogger(), onBan: (r) => bans.push(r) });
    const { s } = source([p], { events: { failure: (f) => jail.addFailure(f) } });
    await s.start();
    appendFileSync(p, line('192.0.2.7') + line('192.0.2.8') + line('192.0.2.7') + line('192.0.2.7'));
    await waitFor(() => bans.length >= 1, 'ban');
    jail.stop();
    assert.deepEqual(bans.map((b) => [b.ip, b.source, b.failures.length]), [['192.0.2.7', 'log', 3]]);
  });
});

describe('expandGlob', () => {
  it('matches * and ? per component, files only, sorted, hidden names only when asked', async () => {
    const dir = join(tmp.dir, 'g');
    mkdirSync(join(dir, 'sub1'), { recursive: true });
    mkdirSync(join(dir, 'sub2'));
    mkdirSync(join(dir, 'x.log'));
    for (const f of ['sub1/a.log', 'sub2/b.log', 'sub2/.h.log', 'sub2/c.log.1', 'sub2/a+b.log']) writeFileSync(join(dir, f), '');
    assert.deepEqual(await expandGlob(join(dir, 'sub?', '*.log')), [join(dir, 'sub1/a.log'), join(dir, 'sub2/a+b.log'), join(dir, 'sub2/b.log')]);
    assert.deepEqual(await expandGlob(join(dir, 'sub2', '.*')), [join(dir, 'sub2/.h.log')]);
    assert.deepEqual(await expandGlob(join(dir, '*.log')), [], 'a directory is not a log file');
    assert.deepEqual(await expandGlob(join(dir, 'nope', '*')), []);
  });
});
