import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFilterPart } from '../../src/filter/test-part.js';
import type { PartResult } from '../../src/filter/test-part.js';
import { runFilterTest } from '../../src/filter/test-run.js';
import { compileOrSay } from '../../src/filter/test-run.js';
import { mergeParts, report } from '../../src/filter/test-tally.js';
import { testFilterCommand } from '../../src/cli/test-filter.js';
import type { LineOutcome } from '../../src/filter/types.js';
import { fixture, repoRoot } from '../helpers/paths.js';

const CONFIG = join(repoRoot, 'config');
const OPTS = { config: CONFIG, timezone: 'UTC' };
const tmp = mkdtempSync(join(tmpdir(), 'ab-split-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function sink(): { stream: Writable; text: () => string } {
  const parts: string[] = [];
  return { stream: new Writable({ write(c, _e, cb) { parts.push(String(c)); cb(); } }), text: () => parts.join('') };
}

/** Four copies of the recorded attack logs, injections and all: ~370 KB, far more than a seam. */
const BIG = join(tmp, 'big.log');
const ATTACKS = ['adversarial-messages-20.20.1.log', 'adversarial-security-20.20.1.log'].map((f) => readFileSync(fixture('logs', f), 'latin1')).join('');
writeFileSync(BIG, ATTACKS.repeat(4), 'latin1');

async function onePass(log: string): Promise<string> {
  const out = sink();
  const code = await runFilterTest(log, 'asterisk', OPTS, out.stream, sink().stream);
  assert.equal(code, 0);
  return out.text();
}

/** The log cut at `cuts` (byte offsets), each part run on its own, merged and reported. */
async function inParts(log: string, cuts: number[]): Promise<string | null> {
  const size = statSync(log).size;
  const bounds = [0, ...cuts, size];
  const parts: Extract<PartResult, { ok: true }>[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const r = await runFilterPart({ log, filter: 'asterisk', opts: OPTS, start: bounds[i]!, end: bounds[i + 1]!, first: i === 0, last: i + 2 === bounds.length }, size, sink().stream);
    assert.ok(r.ok);
    parts.push(r);
  }
  const total = mergeParts(parts);
  if (total === null) return null;
  const text: string[] = [];
  report(total, parts[0]!.face, (s) => text.push(s));
  return text.join('');
}

/** Byte offsets of the lines one pass sets aside (injected, suspect, ambiguous) and of the lines right after them. */
async function awkwardCuts(log: string, from: number, to: number): Promise<number[]> {
  const compiled = (await compileOrSay('asterisk', OPTS, sink().stream))!;
  const aside = new Set<number>();
  const m = compiled.matcher({
    onMatch() {},
    onLine(no, _l, outcome: LineOutcome) {
      if (outcome === 'injected' || outcome === 'suspect' || outcome === 'ambiguous') aside.add(no);
    },
  });
  const text = readFileSync(log, 'latin1');
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0 && i + 1 < text.length; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  for (const line of text.split('\n').slice(0, starts.length)) m.push(line);
  m.flush();
  const cuts = new Set<number>();
  for (const no of aside) {
    for (const k of [no - 2, no - 1, no]) {
      const at = starts[k];
      if (at !== undefined && at >= from && at < to) cuts.add(at);
    }
  }
  return [...cuts].sort((a, b) => a - b);
}

test('a log cut right at injected and suspect lines, in two parts, reports exactly what one pass does', async () => {
  const whole = await onePass(BIG);
  assert.match(whole, /injected/);
  // Cuts inside the third copy: each part starts from a fresh matcher well inside the file.
  const third = 2 * ATTACKS.length;
  const cuts = await awkwardCuts(BIG, third, third + ATTACKS.length);
  assert.ok(cuts.length >= 20, `only ${cuts.length} cuts`);
  for (const cut of cuts) assert.equal(await inParts(BIG, [cut]), whole, `cut at byte ${cut}`);
});

test('the seams matter: a matcher started at such a cut without the lines before it labels differently', async () => {
  const compiled = (await compileOrSay('asterisk', OPTS, sink().stream))!;
  const third = 2 * ATTACKS.length;
  const cuts = await awkwardCuts(BIG, third, third + ATTACKS.length);
  const text = readFileSync(BIG, 'latin1');
  const labels = (from: number): Map<number, LineOutcome> => {
    const out = new Map<number, LineOutcome>();
    const m = compiled.matcher({ onMatch() {}, onLine(no, _l, o) { out.set(no, o); } });
    const lines = text.slice(from).split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (const l of lines) m.push(l);
    m.flush();
    return out;
  };
  const whole = labels(0);
  let differ = 0;
  for (const cut of cuts) {
    const before = text.slice(0, cut).split('\n').length - 1;
    const fresh = labels(cut);
    // Within 2 KB of the cut the fresh matcher must have got something wrong for the cut to be a test of the seam.
    for (const [no, o] of fresh) if (no <= 20 && whole.get(no + before) !== o) { differ++; break; }
  }
  assert.ok(differ >= 3, `only ${differ} of ${cuts.length} cuts fool a fresh matcher`);
});

test('many parts at once, and cuts wherever the arithmetic puts them, agree with one pass', async () => {
  const whole = await onePass(BIG);
  const size = statSync(BIG).size;
  for (const n of [3, 5]) {
    const cuts = Array.from({ length: n - 1 }, (_x, i) => Math.floor((size * (i + 1)) / n));
    assert.equal(await inParts(BIG, cuts), whole, `${n} parts`);
  }
});

test('a cut whose neighbours never agree (only the first line dated): the split is given up and one pass reports', async () => {
  const undated = join(tmp, 'undated.log');
  // After a dated line, an undated one is the rest of some message; a part that saw no date reads it as a message of its own.
  const lines: string[] = ['[2026-11-27 10:00:00] NOTICE[2016] chan_sip.c: Registration from \'<sip:x@192.0.2.1>\' failed for \'203.0.113.250:5060\' - Wrong password'];
  for (let i = 0; i < 6000; i++) lines.push(`NOTICE[2016] chan_sip.c: Registration from '<sip:${i}@192.0.2.1>' failed for '203.0.113.${i % 200}:5060' - Wrong password`);
  writeFileSync(undated, `${lines.join('\n')}\n`);
  assert.equal(await inParts(undated, [Math.floor(statSync(undated).size / 2)]), null);
  const out = sink();
  const code = await testFilterCommand(undated, 'asterisk', { ...OPTS, jobs: 2, minPartBytes: 128 * 1024 }, out.stream, sink().stream);
  assert.equal(code, 0);
  assert.equal(out.text(), await onePass(undated));
  assert.match(out.text(), /^Lines: 6001 lines, .* 6000 injected/m);
});

test('test-filter --jobs 3 runs the parts on threads and prints what one pass prints', async () => {
  const out = sink();
  const err = sink();
  const code = await testFilterCommand(BIG, 'asterisk', { ...OPTS, jobs: 3, minPartBytes: 128 * 1024 }, out.stream, err.stream);
  assert.equal(code, 0, err.text());
  assert.equal(out.text(), await onePass(BIG));
});

test('a filter that does not compile is reported once, however many parts', async () => {
  const err = sink();
  const code = await testFilterCommand(BIG, '^(unclosed <HOST>', { ...OPTS, jobs: 2, minPartBytes: 128 * 1024 }, sink().stream, err.stream);
  assert.equal(code, 1);
  assert.equal(err.text().match(/test-filter:/g)?.length, 1, err.text());
});
