import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DateFinder, DateResolver } from '../../src/filter/date.js';
import { DatePattern, defaultDatePattern } from '../../src/filter/datepattern.js';
import type { DateHit } from '../../src/filter/date.js';
import { isAsteriskBanError } from '../../src/core/errors.js';

const NOW = Date.UTC(2026, 10, 27, 13, 0, 0);

function find(line: string, opts: { datepattern?: string; timezone?: string } = {}): { time: string | null; rest: string } {
  const patterns = opts.datepattern ? [new DatePattern({ value: opts.datepattern, file: 'f', line: 1 })] : [defaultDatePattern()];
  const finder = new DateFinder(patterns, new DateResolver({ timezone: opts.timezone ?? 'UTC', now: () => NOW }));
  const hit: DateHit = { time: null, start: 0, end: 0 };
  finder.find(line, hit);
  return { time: hit.time === null ? null : new Date(hit.time).toISOString(), rest: line.slice(0, hit.start) + line.slice(hit.end) };
}

// [line, options, expected ISO time (null: no date), text left for the failregex]
const CASES: [string, { datepattern?: string; timezone?: string }, string | null, string][] = [
  ['[2026-11-27 10:00:00] NOTICE x', {}, '2026-11-27T10:00:00.000Z', 'NOTICE x'],
  ['[2026-11-27 10:00:00.123] NOTICE x', {}, '2026-11-27T10:00:00.123Z', 'NOTICE x'],
  ['[2026-11-27 10:00:00.123456] NOTICE x', {}, '2026-11-27T10:00:00.123Z', 'NOTICE x'],
  ['[2026-11-27 10:00:00] NOTICE x', { timezone: '+0100' }, '2026-11-27T09:00:00.000Z', 'NOTICE x'],
  ['[2026-11-27 10:00:00] NOTICE x', { timezone: '-05:30' }, '2026-11-27T15:30:00.000Z', 'NOTICE x'],
  ['[Nov 27 10:00:00] NOTICE x', {}, '2026-11-27T10:00:00.000Z', 'NOTICE x'],
  ['[Nov 28 10:00:00] NOTICE x', {}, '2026-11-28T10:00:00.000Z', 'NOTICE x'],
  ['[Nov 29 10:00:00] NOTICE x', {}, '2025-11-29T10:00:00.000Z', 'NOTICE x'],
  ['Nov  4 18:30:40 pbx asterisk[1]: NOTICE x', {}, '2026-11-04T18:30:40.000Z', 'pbx asterisk[1]: NOTICE x'],
  ['2026-11-27T10:00:00.123+01:00 NOTICE x', {}, '2026-11-27T09:00:00.123Z', 'NOTICE x'],
  ['2026-11-27T10:00:00Z NOTICE x', { timezone: '+0500' }, '2026-11-27T10:00:00.000Z', 'NOTICE x'],
  ['[2026-11-27 10:00:00 NOTICE x', {}, null, '[2026-11-27 10:00:00 NOTICE x'],
  ['[2026-13-27 10:00:00] NOTICE x', {}, null, '[2026-13-27 10:00:00] NOTICE x'],
  ['NOTICE x', {}, null, 'NOTICE x'],
  ['NOTICE at 2026-11-27 10:00:00 x', { datepattern: '%Y-%m-%d %H:%M:%S' }, '2026-11-27T10:00:00.000Z', 'NOTICE at x'],
  ['27/11/2026 10:00:00.250 x', { datepattern: '^%d/%m/%Y %H:%M:%S\\.%f' }, '2026-11-27T10:00:00.250Z', 'x'],
  ['x 27/11/2026 10:00:00', { datepattern: '{^LN-BEG}%d/%m/%Y %H:%M:%S' }, null, 'x 27/11/2026 10:00:00'],
  ['@1795773600 x', { datepattern: '^@{EPOCH}' }, '2026-11-27T10:00:00.000Z', 'x'],
  ['27 Nov 2026 10:00:00 PM x', { datepattern: '^%d %b %Y %I:%M:%S %p' }, '2026-11-27T22:00:00.000Z', 'x'],
  ['2026-11-27T10:00:00+0200 x', { datepattern: '^{ISO8601}' }, '2026-11-27T08:00:00.000Z', 'x'],
];

for (const [line, opts, time, rest] of CASES) {
  test(`date ${JSON.stringify(line)} ${JSON.stringify(opts)}`, () => {
    assert.deepEqual(find(line, opts), { time, rest });
  });
}

test('datepattern directives and braces we do not support are refused at file:line', () => {
  for (const [pattern, msg] of [['%Y %j', '%j'], ['{UNB}%Y', '{UNB}'], ['%Y %Y', 'twice']] as const) {
    assert.throws(() => new DatePattern({ value: pattern, file: 'f.conf', line: 9 }), (e: unknown) => {
      assert.ok(isAsteriskBanError(e, 'E_FILTER'));
      assert.match(e.message, new RegExp(msg.replace(/[{}]/g, '\\$&')));
      assert.deepEqual(e.location, { file: 'f.conf', line: 9 });
      return true;
    });
  }
});

test('an unknown time zone is refused', () => {
  assert.throws(() => new DateResolver({ timezone: 'Mars/Olympus' }), (e: unknown) => isAsteriskBanError(e, 'E_FILTER'));
});

test('datedAt agrees with find on every line of a sample, through the per-minute cache', () => {
  const lines = [
    '[2026-11-27 10:00:00] a', '[2026-11-27 10:00:01.5] b', '[2026-11-27 10:00:61] c', '[2026-11-27 10:00:0] d',
    '[2026-11-27 10:00:02', '[2026-11-27 10:01:02] e', "' rejected", '', '[Nov 27 10:01:02] f', '[2026-11-27 10:01:03.] g',
  ];
  const mk = (): DateFinder => new DateFinder([defaultDatePattern()], new DateResolver({ timezone: 'UTC', now: () => NOW }));
  const a = mk();
  const b = mk();
  const text = lines.join('\n');
  let pos = 0;
  for (const line of lines) {
    const hit: DateHit = { time: null, start: 0, end: 0 };
    assert.equal(a.datedAt(text, pos, pos + line.length), b.find(line, hit), line);
    pos += line.length + 1;
  }
});
