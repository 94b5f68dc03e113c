import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFilter } from '../../src/filter/index.js';
import type { CompiledFilter, FilterMatch, LineOutcome } from '../../src/filter/index.js';
import { loadFilterFile as readFilterFile } from '../../src/settings/filter-file.js';
import { MAX_LINE_CHARS, REACH_CHARS } from '../../src/filter/limits.js';
import { fixture, repoRoot } from '../helpers/paths.js';
import { generateAsteriskLog, prng } from '../bench/gen-asterisk-log.js';

const NOW = Date.UTC(2026, 10, 27, 13, 0, 0);
const asterisk = (params: Record<string, string> = {}): CompiledFilter =>
  compileFilter(readFilterFile(join(repoRoot, 'config', 'filter.d', 'asterisk.conf'), params), { timezone: 'UTC', now: () => NOW });

interface Run { matches: string[]; counts: Record<LineOutcome, number> }

function run(f: CompiledFilter, feed: (m: ReturnType<CompiledFilter['matcher']>) => void): Run {
  const matches: string[] = [];
  const counts: Record<LineOutcome, number> = { matched: 0, suspect: 0, ambiguous: 0, injected: 0, ignored: 0, missed: 0 };
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

test('a held message is decided once its reach has passed, never later', () => {
  const seen: { no: number; outcome: LineOutcome }[] = [];
  const m = asterisk().matcher({ onMatch: () => {}, onLine: (no, _l, outcome) => seen.push({ no, outcome }) });
  m.push("[2026-11-27 12:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:a@b>' failed for '203.0.113.1' - Wrong password");
  let bytes = 0;
  let n = 0;
  while (bytes < REACH_CHARS - 100) {
    const line = `[2026-11-27 12:00:00] VERBOSE[1] pbx.c: line ${n++}`;
    m.push(line);
    bytes += line.length + 1;
  }
  assert.equal(seen.length, 0, 'held while a remainder may still come');
  m.push(`[2026-11-27 12:00:00] VERBOSE[1] pbx.c: ${'x'.repeat(120)}`);
  m.push('[2026-11-27 12:00:00] VERBOSE[1] pbx.c: past the reach');
  assert.deepEqual(seen[0], { no: 1, outcome: 'matched' });
  assert.ok(seen.length >= n, 'the lines in between are decided with it');
});

test('flush() (the end of a read) decides held lines; a remainder after it completes nothing', () => {
  const got: string[] = [];
  const m = asterisk().matcher({ onMatch: (x) => got.push(x.ip), onLine: (n, _l, o) => got.push(`${n}:${o}`) }, { reads: true });
  m.push("[2026-11-27 12:00:00] NOTICE[1] chan_iax2.c: No registration for peer 'x");
  m.push("[2026-11-27 12:00:00] NOTICE[1] chan_iax2.c: No registration for peer 'y' (from 203.0.113.2)");
  assert.deepEqual(got, []);
  m.flush();
  // Cut short with no remainder: the line that came with it in the same read is suspect.
  m.push("' (from 203.0.113.3)");
  m.flush();
  m.push("[2026-11-27 12:00:01] NOTICE[1] chan_iax2.c: No registration for peer 'z' (from 203.0.113.4)");
  m.flush();
  assert.deepEqual(got, ['1:missed', '2:suspect', '3:missed', '203.0.113.4', '4:matched']);
});

test('no later line changes an earlier verdict: every prefix of a capture labels the lines it covers as the whole file does', () => {
  for (const name of ['adversarial-messages-20.20.1.log', 'adversarial-security-20.20.1.log', 'messages-20.20.1.log']) {
    const lines = readFileSync(fixture('logs', name), 'latin1').replace(/\n$/, '').split('\n');
    const label = (upto: number): string[] => {
      const out: string[] = [];
      const m = asterisk().matcher({ onMatch: () => {}, onLine: (no, _l, o, x, c) => { out[no - 1] = `${o} ${x?.ip ?? c?.join(',') ?? ''}`; } });
      for (const l of lines.slice(0, upto)) m.push(l);
      m.flush();
      return out;
    };
    const whole = label(lines.length);
    const ends: number[] = [];
    let pos = 0;
    for (const l of lines) ends.push((pos += l.length + 1));
    for (let upto = 1; upto < lines.length; upto++) {
      const part = label(upto);
      // Line i is settled once every line starting within its reach is in.
      for (let i = 0; i < upto; i++) {
        if (ends[upto - 1]! < ends[i]! + REACH_CHARS) break;
        assert.equal(part[i], whole[i], `${name}: line ${i + 1} with the first ${upto} lines`);
      }
    }
  }
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
  assert.equal(Object.values(r.counts).reduce((a, b) => a + b, 0), 2001);
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

/** Long runs of ordinary lines (which pushLines screens out) with injections and dateless lines at distances around the reach. */
function sparseLog(): string {
  const inj = injections();
  const rnd = prng(13);
  const out: string[] = [];
  let until = 0;
  for (const line of generateAsteriskLog({ lines: 60_000, seed: 5, start: Date.UTC(2026, 10, 27, 12) })) {
    // Mostly short lines, so many of them fall within one message's reach.
    out.push(rnd() < 0.75 ? `${line.slice(0, 21)} VERBOSE[1] pbx.c: x` : line);
    if (out.length >= until) {
      const r = rnd();
      if (r < 0.6) out.push(...inj[Math.floor(rnd() * inj.length)]!);
      else if (r < 0.7) out.push("' (from 203.0.113.77)");
      else if (r < 0.8) out.push('');
      else if (r < 0.9) out.push(`${line}\r' (from 203.0.113.78)`);
      else out.push('[2026-13-40 12:00:00] NOTICE[1] chan_sip.c: not quite a date');
      until = out.length + 4 + Math.floor(rnd() * 40) + (rnd() < 0.3 ? 3000 : 0);
    }
  }
  return `${out.join('\n')}\n`;
}

test('pushLines decides exactly what push decides, around the reach of held messages', () => {
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

test('inside a cut message, a forged line without its closeregex literal is screened out yet labelled injected; everyLine names it', () => {
  const head = "[2026-11-27 12:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:100@x";
  const forged = '[2026-11-27 12:00:00] VERBOSE[1] pbx.c: nothing here';
  const rest = "' failed for '203.0.113.5:5060' - Wrong password";
  const noise = Array.from({ length: 30 }, (_x, i) => `[2026-11-27 12:00:01] VERBOSE[1] pbx.c: noise ${i}`);
  const text = `${[head, forged, forged, rest, ...noise].join('\n')}\n`;
  const gaps: string[] = [];
  const labels = (everyLine: boolean): Map<number, LineOutcome> => {
    const out = new Map<number, LineOutcome>();
    const m = asterisk().matcher({
      onMatch: () => {},
      onLine: (no, _l, o) => out.set(no, o),
      onGap: (n, o, first) => {
        gaps.push(`${first}+${n} ${o}`);
        for (let k = 0; k < n; k++) out.set(first + k, o);
      },
    }, { everyLine });
    m.pushLines!(text);
    m.flush();
    return out;
  };
  const slow = new Map<number, LineOutcome>();
  const m = asterisk().matcher({ onMatch: () => {}, onLine: (no, _l, o) => slow.set(no, o) });
  for (const l of text.slice(0, -1).split('\n')) m.push(l);
  m.flush();
  assert.equal(slow.get(1), 'matched');
  assert.deepEqual([slow.get(2), slow.get(3), slow.get(4)], ['injected', 'injected', 'injected']);
  assert.deepEqual(labels(false), slow);
  assert.ok(gaps.includes('2+2 injected'), `the forged lines came as one run: ${gaps.join(', ')}`);
  gaps.length = 0;
  assert.deepEqual(labels(true), slow);
  assert.ok(!gaps.some((g) => g.endsWith('injected')), 'everyLine: each forged line on its own');
});
