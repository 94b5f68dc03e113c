import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { testFilterCommand } from '../../src/cli/test-filter.js';
import type { TestFilterOptions } from '../../src/cli/test-filter.js';
import { fixture, repoRoot } from '../helpers/paths.js';

const LOG = fixture('logs', 'asterisk-messages.log');
const CONFIG = join(repoRoot, 'config');

function sink(): { stream: Writable; text: () => string } {
  const parts: string[] = [];
  return { stream: new Writable({ write(c, _e, cb) { parts.push(String(c)); cb(); } }), text: () => parts.join('') };
}

async function runCmd(log: string, filter: string, opts: TestFilterOptions = {}): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await testFilterCommand(log, filter, { config: CONFIG, timezone: 'UTC', ...opts }, out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

const tmp = mkdtempSync(join(tmpdir(), 'ab-test-filter-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a filter name: summary counts, per-regex hits and hosts with times', async () => {
  const r = await runCmd(LOG, 'asterisk');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Lines: 9 lines, 4 matched, 0 suspect, 0 ambiguous, 2 injected, 0 ignored, 3 missed$/m);
  assert.match(r.out, /^Set aside: 0 suspect .*, 0 ambiguous .*, 2 injected/m);
  assert.match(r.out, /^ {2}7: injected \(192\.0\.2\.66\): /m);
  // Each regex is named after the Asterisk message it matches.
  assert.match(r.out, /\|\s+0\) \[2\] sip_register: \^Registration from/);
  assert.match(r.out, /\|\s+1\) \[1\] pjsip_request: \^Request/);
  assert.match(r.out, /203\.0\.113\.5\s+2\s+2026-11-27T10:00:00\.000Z, 2026-11-27T10:00:01\.000Z/);
  assert.match(r.out, /2001:db8::5\s+1/);
  assert.match(r.out, /203\.0\.113\.9\s+1/);
  // The victim appears only among the lines set aside, never among the hosts.
  assert.doesNotMatch(r.out.slice(r.out.indexOf('Hosts:'), r.out.indexOf('Set aside:')), /192\.0\.2\.66/);
});

test('--json: one object per counted or set-aside line, with its verdict, then a summary object', async () => {
  const r = await runCmd(LOG, 'asterisk', { json: true });
  const objs = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(objs.slice(0, -1), [
    { line: 2, verdict: 'matched', host: '203.0.113.5', time: '2026-11-27T10:00:00.000Z', regex: 0, reason: 'sip_register' },
    { line: 3, verdict: 'matched', host: '203.0.113.5', time: '2026-11-27T10:00:01.000Z', regex: 0, reason: 'sip_register' },
    { line: 4, verdict: 'matched', host: '2001:db8::5', time: '2026-11-27T10:00:01.000Z', regex: 1, reason: 'pjsip_request' },
    { line: 6, verdict: 'matched', host: '203.0.113.9', time: '2026-11-27T10:00:03.000Z', regex: 4, reason: 'call_rejected' },
    // The forged line names the victim as a candidate, never as host.
    { line: 7, verdict: 'injected', candidate: '192.0.2.66' },
    { line: 8, verdict: 'injected' },
  ]);
  const s = objs.at(-1)!;
  assert.equal(s.summary, true);
  assert.deepEqual([s.lines, s.matched, s.suspect, s.ambiguous, s.missed, s.injected, s.hosts], [9, 4, 0, 0, 3, 2, 3]);
  const all = await runCmd(LOG, 'asterisk', { json: true, printAllMissed: true });
  const missed = all.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.verdict === 'missed');
  assert.deepEqual(missed.map((o) => o.line), [1, 5, 9]);
});

test('--json verdicts on the real Asterisk 20 captures: no victim is ever a host', async () => {
  for (const name of ['adversarial-messages-20.20.1.log', 'adversarial-security-20.20.1.log']) {
    const r = await runCmd(fixture('logs', name), 'asterisk', { json: true, printAllMissed: true });
    const objs = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const hosts = new Set(objs.filter((o) => o.verdict === 'matched').map((o) => o.host));
    assert.deepEqual([...hosts].sort(), ['127.0.0.1', '198.51.100.2', '2001:db8:51::2', '::1'], name);
    for (const o of objs.slice(0, -1)) {
      assert.ok(['matched', 'suspect', 'ambiguous', 'injected', 'ignored', 'missed'].includes(o.verdict as string), JSON.stringify(o));
      if (o.verdict !== 'matched') assert.equal(o.host, undefined, JSON.stringify(o));
    }
    assert.equal(objs.length - 1, (objs.at(-1)! as { lines: number }).lines, 'one object per line with --print-all-missed');
  }
});

test('--print-all-missed and --print-all-matched print line numbers and lines', async () => {
  const missed = await runCmd(LOG, 'asterisk', { printAllMissed: true });
  assert.match(missed.out, /^1: \[2026-11-27 10:00:00\] VERBOSE/m);
  assert.doesNotMatch(missed.out, /^2: /m);
  const matched = await runCmd(LOG, 'asterisk', { printAllMatched: true });
  assert.match(matched.out, /^2: \[2026-11-27 10:00:00\] NOTICE/m);
  assert.doesNotMatch(matched.out, /^7: /m);
  assert.match(matched.out, /^Lines: 9 lines, 4 matched/m);
});

test('a filter file path, a name with [mode=gaps], and a bare regex', async () => {
  const file = await runCmd(LOG, join(CONFIG, 'filter.d', 'asterisk.conf'));
  assert.match(file.out, /4 matched/);
  // chan_sip's missing extension is a FailedACL event: the gap filter leaves it to AMI.
  const gaps = await runCmd(LOG, 'asterisk[mode=gaps]');
  assert.match(gaps.out, /^Lines: 9 lines, 0 matched/m);
  const regex = await runCmd(LOG, "failed for '<HOST>:\\d+' - Wrong password");
  assert.match(regex.out, /^Lines: 9 lines, 2 matched/m);
});

test('errors: unreadable log, broken regex (code and position)', async () => {
  const missing = await runCmd(join(tmp, 'nope.log'), 'asterisk');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /cannot read/);
  const bad = await runCmd(LOG, '(?P<x>unclosed <HOST>');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /E_REGEX/);
  const broken = join(tmp, 'broken.conf');
  writeFileSync(broken, '[Definition]\nfailregex = ^ok <HOST>$\n            ^a(?i)b <HOST>\n');
  const fileErr = await runCmd(LOG, broken);
  assert.equal(fileErr.code, 1);
  assert.match(fileErr.err, /broken\.conf:3: inline flags/);
});

test('a big file streams in chunks with exact counts; lines over 64 KiB are cut', async () => {
  const big = join(tmp, 'big.log');
  const line = "[2026-11-27 10:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:a@b>' failed for '203.0.113.7' - Wrong password\n";
  const noise = '[2026-11-27 10:00:00] VERBOSE[1] pbx.c: Executing [s@public:1] NoOp("SIP/x", "") in new stack\n';
  const huge = `[2026-11-27 10:00:00] NOTICE[1] chan_sip.c: ${'y'.repeat(6 << 20)}\n`;
  writeFileSync(big, (line + noise.repeat(9)).repeat(60_000) + huge + line);
  const r = await runCmd(big, 'asterisk', { json: true });
  const s = JSON.parse(r.out.trim().split('\n').at(-1)!) as Record<string, number>;
  assert.deepEqual([s.lines, s.matched, s.missed], [600_002, 60_001, 540_001]);
});

test('a filter name reads NAME.conf with NAME.local laid over it, as the daemon does', async () => {
  const dir = join(tmp, 'overlay');
  (await import('node:fs')).mkdirSync(join(dir, 'filter.d'), { recursive: true });
  writeFileSync(join(dir, 'filter.d', 'mine.conf'), "[Definition]\nfailregex = chan_iax2\\.c: Host <HOST> failed MD5 authentication for '\nignoreregex =\n");
  writeFileSync(join(dir, 'filter.d', 'mine.local'), '[Definition]\nignoreregex = Host 192\\.0\\.2\\.9 \n');
  const log = join(tmp, 'overlay.log');
  writeFileSync(log, [
    "[2026-11-27 10:00:00] NOTICE[1] chan_iax2.c: Host 192.0.2.8 failed MD5 authentication for 'a' (1 != 2)",
    "[2026-11-27 10:00:01] NOTICE[1] chan_iax2.c: Host 192.0.2.9 failed MD5 authentication for 'a' (1 != 2)",
    '',
  ].join('\n'));
  const r = await runCmd(log, 'mine', { config: dir });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Lines: 2 lines, 1 matched, 0 suspect, 0 ambiguous, 0 injected, 1 ignored, 0 missed$/m);
});

test('a LOG that is one line, not a file, is that line; comment and blank lines are not counted as missed', async () => {
  const one = await runCmd("[2026-11-27 10:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:a@b>' failed for '203.0.113.44:5060' - Wrong password", 'asterisk', { json: true });
  assert.equal(one.code, 0, one.err);
  assert.equal((JSON.parse(one.out.split('\n')[0]!) as { host: string }).host, '203.0.113.44');
  const file = join(tmp, 'commented.log');
  writeFileSync(file, "# a comment\n\n[2026-11-27 10:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:a@b>' failed for '203.0.113.45:5060' - Wrong password\n");
  const r = await runCmd(file, 'asterisk');
  assert.match(r.out, /^Lines: 3 lines, 1 matched, .*, 0 missed, 2 comment or blank$/m);
});

test('the executable starts the worker before parsing: the run is the same, and a command line that runs nothing still exits at once', async () => {
  const bin = join(repoRoot, 'bin', 'asterisk-ban.js');
  const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, TZ: 'UTC' } });
  const r = run(['test-filter', LOG, 'asterisk', '--config', CONFIG]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Lines: 9 lines, 4 matched, 0 suspect, 0 ambiguous, 2 injected, 0 ignored, 3 missed$/m);
  const started = Date.now();
  const help = run(['test-filter', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /run a filter over a log file/);
  const usage = run(['test-filter']);
  assert.equal(usage.status, 2, usage.stderr);
  assert.match(usage.stderr, /missing required argument 'log'/);
  // The waiting worker never holds the process open (the timeout above would have killed it).
  assert.ok(help.signal === null && usage.signal === null);
  assert.ok(Date.now() - started < 15_000);
});
