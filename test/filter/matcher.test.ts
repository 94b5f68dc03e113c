import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFilter } from '../../src/filter/index.js';
import type { CompiledFilter, FilterMatch, LineOutcome } from '../../src/filter/index.js';
import { loadFilterFile as readFilterFile } from '../../src/settings/filter-file.js';
import { MAX_HELD_LINES, MAX_LINE_CHARS } from '../../src/filter/limits.js';
import { fixture, repoRoot } from '../helpers/paths.js';
import { generateAsteriskLog, prng } from '../bench/gen-asterisk-log.js';

const NOW = Date.UTC(2026, 10, 27, 13, 0, 0);
const asterisk = (params: Record<string, string> = {}): CompiledFilter =>
  compileFilter(readFilterFile(join(repoRoot, 'config', 'filter.d', 'asterisk.conf'), params), { timezone: 'UTC', now: () => NOW });

interface Run { matches: string[]; counts: Record<LineOutcome, number> }

function run(f: CompiledFilter, feed: (m: ReturnType<CompiledFilter['matcher']>) => void): Run {
  const matches: string[] = [];
  const counts: Record<LineOutcome, number> = { matched: 0, ignored: 0, missed: 0, injected: 0 };
  const m = f.matcher({
    onMatch: (x: FilterMatch) => matches.push(`${x.lineNo} ${x.ip} ${x.time} ${x.regex}`),
    onLine: (_n, _l, o) => counts[o]++,
    onGap: (n, o) => { counts[o] += n; },
  });
  feed(m);
  m.flush();
  return { matches, counts };
}

/** The multi-line injections of the fixture: each a whole message as Asterisk writes it in one go. */
function injections(): string[][] {
  const text = readFileSync(fixture('filter', 'asterisk-injection.log'), 'utf8');
  const groups = text.split(/\n\n/).map((g) => g.split('\n').filter((l) => l !== '' && !l.startsWith('#')));
  return groups.filter((g) => g.length >= 3 && g.some((l) => !l.startsWith('[')));
}

/** Generated traffic with whole injections spliced in at random places. */
function mixedLog(): string {
  const inj = injections();
  const rnd = prng(7);
  const out: string[] = [];
  for (const line of generateAsteriskLog({ lines: 20_000, seed: 3, start: Date.UTC(2026, 10, 27, 12) })) {
    out.push(line);
    if (rnd() < 0.01) out.push(...inj[Math.floor(rnd() * inj.length)]!);
  }
  return `${out.join('\n')}\n`;
}

test('pushLines (screened fast path) decides exactly what push decides, line by line', () => {
  const f = asterisk();
  const text = mixedLog();
  const slow = run(f, (m) => { for (const l of text.slice(0, -1).split('\n')) m.push(l); });
  const fast = run(f, (m) => {
    // Cut at arbitrary newlines, as the chunk reader does.
    let pos = 0;
    while (pos < text.length) {
      let end = text.indexOf('\n', pos + 50_000);
      end = end < 0 ? text.length : end + 1;
      m.pushLines!(text.slice(pos, end));
      pos = end;
    }
  });
  assert.ok(slow.counts.injected > 0 && slow.counts.matched > 1000, JSON.stringify(slow.counts));
  assert.deepEqual(fast.counts, slow.counts);
  assert.deepEqual(fast.matches, slow.matches);
});

test('no victim address from the injection fixture is ever counted in the mixed log', () => {
  const victims = new Set(['192.0.2.66', '198.51.100.9', '2001:db8:bad::1']);
  const r = run(asterisk(), (m) => m.pushLines!(mixedLog()));
  assert.deepEqual(r.matches.filter((x) => victims.has(x.split(' ')[1]!)), []);
});

test('an opening waits for its remainder at most MAX_HELD_LINES lines, then is an ordinary line', () => {
  const seen: { no: number; outcome: LineOutcome }[] = [];
  const m = asterisk().matcher({ onMatch: () => {}, onLine: (no, _l, outcome) => seen.push({ no, outcome }) });
  m.push("[2026-11-27 12:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:a@b>' failed for '203.0.113.1' - Wrong password");
  for (let i = 0; i < MAX_HELD_LINES - 1; i++) m.push(`[2026-11-27 12:00:00] VERBOSE[1] pbx.c: line ${i}`);
  assert.equal(seen.length, 0, 'held while a remainder may still come');
  m.push('[2026-11-27 12:00:00] VERBOSE[1] pbx.c: one more');
  assert.deepEqual(seen[0], { no: 1, outcome: 'matched' });
  m.flush();
  assert.equal(seen.length, MAX_HELD_LINES + 1);
});

test('flush() decides held lines; a remainder after an idle flush completes nothing', () => {
  const got: string[] = [];
  const m = asterisk().matcher({ onMatch: (x) => got.push(x.ip), onLine: (n, _l, o) => got.push(`${n}:${o}`) });
  m.push("[2026-11-27 12:00:00] NOTICE[1] chan_iax2.c: No registration for peer 'x");
  m.push("[2026-11-27 12:00:00] NOTICE[1] chan_iax2.c: No registration for peer 'y' (from 203.0.113.2)");
  assert.deepEqual(got, []);
  m.flush();
  m.push("' (from 203.0.113.3)");
  m.flush();
  assert.deepEqual(got, ['1:missed', '203.0.113.2', '2:matched', '3:missed']);
});

test('over-long lines are cut, garbage never throws', () => {
  const f = asterisk();
  const rnd = prng(11);
  const r = run(f, (m) => {
    m.push(`[2026-11-27 12:00:00] NOTICE[1] chan_sip.c: Registration from '${'x'.repeat(200_000)}' failed for '203.0.113.1' - Wrong password`);
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const n = Math.floor(rnd() * 300);
      for (let k = 0; k < n; k++) s += String.fromCharCode(Math.floor(rnd() * 0x250));
      m.push(rnd() < 0.5 ? `[2026-11-27 12:00:00] NOTICE[1] chan_sip.c: ${s}` : s);
    }
  });
  assert.equal(r.counts.matched, 0, 'the cut line lost its end, so it no longer matches');
  assert.equal(r.counts.matched + r.counts.missed + r.counts.injected + r.counts.ignored, 2001);
  assert.ok(MAX_LINE_CHARS < 200_000);
});

test('a single regex given as text works as a filter', () => {
  const f = compileFilter({ name: 'x', file: '<cli>', failregex: [{ value: 'Wrong password .* from <HOST>', file: '<cli>', line: 1 }], ignoreregex: [], prefregex: null, datepattern: null, vars: {} });
  const r = run(f, (m) => m.pushLines!('[2026-11-27 12:00:00] Wrong password x from 203.0.113.1\nnothing\n'));
  assert.equal(r.matches.length, 1);
  assert.equal(r.counts.missed, 1);
});

test('mode=gaps compiles to fewer regexes than normal', () => {
  assert.ok(asterisk({ mode: 'gaps' }).failregex.length < asterisk().failregex.length);
});

/** Long runs of ordinary lines (where pushLines decides without holding) with injections and dateless lines at distances around the hold bound. */
function sparseLog(): string {
  const inj = injections();
  const rnd = prng(13);
  const out: string[] = [];
  let until = 0;
  for (const line of generateAsteriskLog({ lines: 60_000, seed: 5, start: Date.UTC(2026, 10, 27, 12) })) {
    // Mostly short lines, so the line bound (not the byte bound) is what releases a held opening.
    out.push(rnd() < 0.75 ? `${line.slice(0, 21)} VERBOSE[1] pbx.c: x` : line);
    if (out.length >= until) {
      const r = rnd();
      if (r < 0.6) out.push(...inj[Math.floor(rnd() * inj.length)]!);
      else if (r < 0.7) out.push("' (from 203.0.113.77)");
      else if (r < 0.8) out.push('');
      else if (r < 0.9) out.push(`${line}\r' (from 203.0.113.78)`);
      else out.push('[2026-13-40 12:00:00] NOTICE[1] chan_sip.c: not quite a date');
      until = out.length + MAX_HELD_LINES - 8 + Math.floor(rnd() * 24) + (rnd() < 0.3 ? 3000 : 0);
    }
  }
  return `${out.join('\n')}\n`;
}

test('pushLines decides exactly what push decides where it decides without holding', () => {
  const f = asterisk();
  const text = sparseLog();
  const slow = run(f, (m) => { for (const l of text.slice(0, -1).split('\n')) m.push(l); });
  for (const size of [7_000, 150_000, 1 << 20]) {
    const fast = run(f, (m) => {
      let pos = 0;
      while (pos < text.length) {
        let end = text.indexOf('\n', pos + size);
        end = end < 0 ? text.length : end + 1;
        m.pushLines!(text.slice(pos, end));
        pos = end;
      }
    });
    assert.ok(slow.counts.injected > 0 && slow.counts.matched > 1000, JSON.stringify(slow.counts));
    assert.deepEqual(fast.counts, slow.counts, `chunks of ${size}`);
    assert.deepEqual(fast.matches, slow.matches, `chunks of ${size}`);
  }
});
