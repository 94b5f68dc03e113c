import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translatePythonRegex } from '../../src/filter/python-regex.js';
import { expandTags, substituteVars } from '../../src/filter/tags.js';
import { requiredLiteral, coverLiterals, requiredRuns } from '../../src/filter/literal.js';
import { compileFilter } from '../../src/filter/index.js';
import { isAsteriskBanError } from '../../src/core/errors.js';
import type { FilterDefinition } from '../../src/settings/types.js';

const loc = { file: 'f.conf', line: 7 };

// [python, javascript source, flags] or [python, null, error fragment]. Every
// translation has the dotAll flag: Python's '.' matches a bare CR, and lines hold no '\n'.
const TRANSLATIONS: [string, string | null, string][] = [
  ['(?P<user>\\w+) (?P=user)', '(?<user>\\w+) \\k<user>', 's'],
  ['^foo\\Z', '^foo$', 's'],
  ['\\Afoo', '^foo', 's'],
  ['(?i)foo', 'foo', 'is'],
  ['(?is)foo', 'foo', 'is'],
  ['(?i)(?s)foo', 'foo', 'is'],
  ['a(?#comment)b', 'ab', 's'],
  ['[]a]', '[\\]a]', 's'],
  ['[^]a]', '[^\\]a]', 's'],
  ['[\\Z]', '[\\Z]', 's'],
  ['(?:a|b)(?=c)(?!d)(?<=e)(?<!f)', '(?:a|b)(?=c)(?!d)(?<=e)(?<!f)', 's'],
  ['a(?i)b', null, 'only supported at the very start'],
  ['a(?i:b)', null, 'only supported at the very start'],
  ['(?x)a b', null, 'no JavaScript equivalent'],
  ['(?>ab)', null, 'atomic group'],
  ['a++', null, 'possessive'],
  ['a{2}+', null, 'possessive'],
  ['(?(1)a|b)', null, 'conditional'],
  ['[abc', null, 'unterminated character class'],
  ['abc\\', null, 'lone backslash'],
];

test('"." matches a bare CR, as in Python', () => {
  const t = translatePythonRegex("^a.*' \\(from (\\S+)\\)$", loc);
  assert.equal(new RegExp(t.source, t.flags).exec("ax\r[forged]\r' (from 203.0.113.5)")?.[1], '203.0.113.5');
});

for (const [py, js, third] of TRANSLATIONS) {
  test(`translate ${JSON.stringify(py)}`, () => {
    if (js !== null) {
      const t = translatePythonRegex(py, loc);
      assert.equal(t.source, js);
      assert.equal(t.flags, third);
      return;
    }
    assert.throws(() => translatePythonRegex(py, loc), (e: unknown) => {
      assert.ok(isAsteriskBanError(e, 'E_REGEX'));
      assert.match(e.message, new RegExp(third));
      assert.deepEqual(e.location, loc);
      return true;
    });
  });
}

function def(failregex: string[], extra: Partial<FilterDefinition> = {}): FilterDefinition {
  return {
    name: 't', file: 't.conf', failregex: failregex.map((value, i) => ({ value, file: 't.conf', line: 10 + i })),
    ignoreregex: [], prefregex: null, datepattern: null, vars: {}, ...extra,
  };
}

function matchAll(d: FilterDefinition, lines: string[]): (string | null)[] {
  const got: (string | null)[] = [];
  const m = compileFilter(d, { timezone: 'UTC', now: () => Date.UTC(2026, 10, 27) }).matcher({
    onMatch: () => {},
    onLine: (_n, _l, outcome, mm) => got.push(outcome === 'matched' ? mm!.ip : outcome === 'missed' ? null : outcome),
  });
  for (const l of lines) m.push(l);
  m.flush();
  return got;
}

// [failregex, line, expected host (null = no match)]
const TAGS: [string, string, string | null][] = [
  ['^login from <HOST>$', 'login from 203.0.113.5', '203.0.113.5'],
  ['^login from <HOST>$', 'login from ::ffff:203.0.113.5', '203.0.113.5'],
  ['^login from <HOST>$', 'login from [2001:db8::1]', '2001:db8::1'],
  ['^login from <HOST>$', 'login from 2001:DB8:0::1', '2001:db8::1'],
  ['^login from <HOST>:\\d+$', 'login from 2001:db8::1:5060', '2001:db8::1'],
  ['^login from <HOST>$', 'login from host.example.com', null],
  ['^login from <HOST>$', 'login from 300.1.1.1', null],
  ['^login from <ADDR>$', 'login from 203.0.113.6', '203.0.113.6'],
  ['^login from <IP4>$', 'login from 203.0.113.7', '203.0.113.7'],
  ['^login from <IP4>$', 'login from 2001:db8::7', null],
  ['^login from <IP6>$', 'login from 2001:db8::8', '2001:db8::8'],
  ['^login from <IP6>$', 'login from 203.0.113.8', null],
  ['^login from <SUBNET>$', 'login from 203.0.113.0/24', '203.0.113.0'],
  ['^user <F-USER>\\S+</F-USER> from <HOST>$', 'user bob from 203.0.113.9', '203.0.113.9'],
  ['from <HOST>', 'text before from 203.0.113.10 and after', '203.0.113.10'],
  ['^from <HOST>', 'text before from 203.0.113.10', null],
  ['(?i)^LOGIN FROM <HOST>$', 'login from 203.0.113.11', '203.0.113.11'],
];

for (const [re, line, host] of TAGS) {
  test(`tag ${re} on ${JSON.stringify(line)}`, () => {
    assert.deepEqual(matchAll(def([re]), [line]), [host]);
  });
}

test('<F-USER> is reported, bounded', () => {
  let user: string | undefined;
  const m = compileFilter(def(['^user <F-USER>\\S+</F-USER> from <HOST>$'])).matcher({ onMatch: (x) => { user = x.user; } });
  m.push(`user ${'b'.repeat(500)} from 203.0.113.9`);
  m.flush();
  assert.equal(user, 'b'.repeat(128));
});

test('tags: a failregex without an address tag, <SKIPLINES>, <DNS>, a twice-used field are refused with file:line', () => {
  for (const [re, msg] of [['^no host here$', 'no <HOST>'], ['^a<SKIPLINES>b <HOST>', 'SKIPLINES'], ['^<DNS>$', 'DNS'], ['^<F-USER>a</F-USER><F-USER>b</F-USER> <HOST>', 'twice']] as const) {
    assert.throws(() => compileFilter(def(['^ok <HOST>$', re])), (e: unknown) => {
      assert.ok(isAsteriskBanError(e, 'E_REGEX'), String(e));
      assert.match(e.message, new RegExp(msg));
      assert.deepEqual(e.location, { file: 't.conf', line: 11 });
      return true;
    });
  }
});

test('a regex JavaScript cannot compile is E_REGEX at its line', () => {
  assert.throws(() => compileFilter(def(['^(unclosed <HOST>'])), (e: unknown) => isAsteriskBanError(e, 'E_REGEX') && e.location?.line === 10 && /does not compile/.test(e.message));
});

test('a filter without failregex, or with unpaired openregex, is E_FILTER', () => {
  assert.throws(() => compileFilter(def([])), (e: unknown) => isAsteriskBanError(e, 'E_FILTER'));
  const d = def(['^x <HOST>$'], { openregex: [{ value: '^a', file: 't.conf', line: 20 }], closeregex: [] });
  assert.throws(() => compileFilter(d), (e: unknown) => isAsteriskBanError(e, 'E_FILTER') && /1 openregex \(t.conf:20\) but 0 closeregex/.test(e.message) && e.location?.line === 20);
});

test('variables substitute as tags, innermost first (fail2ban <mdre-<mode>>)', () => {
  assert.equal(substituteVars('<re-<mode>>', { mode: 'gaps', 're-gaps': 'G' }), 'G');
  assert.equal(substituteVars('<HOST> <F-USER>', { HOST: 'x' }), '<HOST> <F-USER>');
  assert.throws(() => substituteVars('<a>', { a: '<a>' }), (e: unknown) => isAsteriskBanError(e, 'E_FILTER'));
  const d = def(['<rx-<mode>>'], { vars: { mode: 'b', 'rx-a': '^a <HOST>$', 'rx-b': '^b <HOST>$\n^c <HOST>$' } });
  assert.deepEqual(matchAll(d, ['a 203.0.113.1', 'b 203.0.113.2', 'c 203.0.113.3']), [null, '203.0.113.2', '203.0.113.3']);
});

test('prefregex cuts the prefix; failregex sees only <F-CONTENT>; ignoreregex wins over a match', () => {
  const d = def(['^failed from <HOST>$'], {
    prefregex: { value: '^(?:NOTICE|WARNING) <F-CONTENT>.+</F-CONTENT>$', file: 't.conf', line: 3 },
    ignoreregex: [{ value: '203\\.0\\.113\\.99', file: 't.conf', line: 4 }],
  });
  assert.deepEqual(matchAll(d, [
    '[2026-11-27 10:00:00] NOTICE failed from 203.0.113.1',
    '[2026-11-27 10:00:00] VERBOSE failed from 203.0.113.2',
    '[2026-11-27 10:00:00] NOTICE failed from 203.0.113.99',
  ]), ['203.0.113.1', null, 'ignored']);
});

test('expandTags names one group per address alternative', () => {
  const t = expandTags('^a <HOST> b <IP4>$');
  assert.deepEqual(t.hostGroups, ['_h0', '_h1', '_h2']);
});

// [regex source, required literal]
const LITERALS: [string, string | null][] = [
  ["^Registration from '.*' failed for '", "Registration from '"],
  ['^abc(?:def)?ghij', 'ghij'],
  ['^ab?cdef', 'cdef'],
  ['^foo|bar', null],
  ['^a\\.b\\.c', 'a.b.c'],
  ['^\\d+ xy', ' xy'],
  ['^[abc]+', null],
];
for (const [src, lit] of LITERALS) {
  test(`required literal of ${src}`, () => assert.equal(requiredLiteral(src), lit));
}

test('coverLiterals picks literals that every regex contains, long rather than shared and short', () => {
  const runs = ["^Registration from '", "^Request from '", "^Host x failed MD5 '", '^SecurityEvent="'].map((s) => requiredRuns(s));
  const cover = coverLiterals(runs)!;
  for (const r of runs) assert.ok(r!.some((run) => cover.some((c) => run.includes(c))));
  // " from '" would cover two regexes, but an ordinary line holds it far more often than "Registration fro".
  assert.ok(cover.every((c) => c.length >= 12), cover.join('|'));
  // A literal shared by many regexes still wins when it is as long.
  const shared = coverLiterals(["^a failed to authenticate as '", "^b failed to authenticate as '", "^c failed to authenticate as '"].map((s) => requiredRuns(s)))!;
  assert.equal(shared.length, 1, shared.join('|'));
  assert.equal(coverLiterals([['abc'], null]), null);
});
