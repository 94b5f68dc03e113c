import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseIni, valueText, MAX_LINE_CHARS } from '../../src/settings/ini.js';
import { interpolateLines, interpolateValue, type Scope } from '../../src/settings/interpolate.js';
import { Problems } from '../../src/settings/problems.js';
import { latest, readStack, type ConfigStack } from '../../src/settings/stack.js';
import { configDir } from './helpers.js';

function parse(text: string) {
  const problems = new Problems();
  const ini = parseIni(text, 'x.conf', problems);
  const get = (sec: string, key: string) => ini.sections.find((s) => s.name === sec)?.values.get(key);
  return { ini, problems, get };
}

describe('INI reader', () => {
  it('reads "=" and ":" options, lowercasing option names but not section names', () => {
    const { get, problems, ini } = parse('[Jail]\nMaxRetry = 3\nfindtime: 1h\nurl = http://x:80/a=b\n');
    assert.equal(problems.errors.length, 0);
    assert.deepEqual(ini.sections.map((s) => s.name), ['Jail']);
    assert.equal(valueText(get('Jail', 'maxretry')!), '3');
    assert.equal(valueText(get('Jail', 'findtime')!), '1h');
    assert.equal(valueText(get('Jail', 'url')!), 'http://x:80/a=b', 'the first delimiter splits');
  });

  it('joins indented continuation lines with \\n, each keeping its line number', () => {
    const text = '[s]\nlist = a\n    b\n\n    # a comment inside\n    c\n\nnext = 1\n';
    const { get } = parse(text);
    const v = get('s', 'list')!;
    assert.deepEqual(v.lines, [{ text: 'a', line: 2 }, { text: 'b', line: 3 }, { text: '', line: 4 }, { text: 'c', line: 6 }]);
    assert.equal(valueText(v), 'a\nb\n\nc');
    assert.equal(valueText(get('s', 'next')!), '1');
  });

  it('treats # and ; as comments at line start, " ;" as inline comment, keeps " #"', () => {
    const { get } = parse('# top\n; top\n[s]\na = 1 ; one\nb = x #not a comment\nc = a;b\n  ;indented comment line\n');
    assert.equal(valueText(get('s', 'a')!), '1');
    assert.equal(valueText(get('s', 'b')!), 'x #not a comment');
    assert.equal(valueText(get('s', 'c')!), 'a;b');
  });

  it('accepts CRLF line ends', () => {
    const { get, problems } = parse('[s]\r\na = 1\r\n  2\r\n');
    assert.equal(problems.errors.length, 0);
    assert.equal(valueText(get('s', 'a')!), '1\n2');
  });

  const bad: Array<[string, string, number, RegExp]> = [
    ['option outside a section', 'a = 1\n', 1, /outside any \[section\]/],
    ['line without delimiter', '[s]\na = 1\nthis is not an option\n', 3, /expected "option = value"/],
    ['malformed header', '[s\n', 1, /malformed section header/],
    ['empty header', '[]\n', 1, /malformed section header/],
    ['duplicate option', '[s]\na = 1\nA = 2\n', 3, /"a" appears twice in \[s\] \(first at line 2\)/],
    ['duplicate section', '[s]\na = 1\n[t]\n[s]\n', 4, /section \[s\] appears twice/],
    ['missing name', '[s]\n= 1\n', 2, /missing option name/],
  ];
  for (const [name, text, line, re] of bad) {
    it(`reports ${name} at its line`, () => {
      const { problems } = parse(text);
      assert.equal(problems.errors.length, 1, problems.errors.map((e) => e.describe()).join('\n'));
      assert.equal(problems.errors[0]!.location?.line, line);
      assert.match(problems.errors[0]!.message, re);
    });
  }

  it('hints that an unindented continuation should be indented', () => {
    const { problems } = parse('[s]\nfailregex = a <HOST>\nb <HOST>\n');
    assert.match(problems.errors[0]!.hint ?? '', /indent it/);
  });

  it('rejects a 1 MB line as an error at that line', () => {
    const { problems, get } = parse(`[s]\na = 1\nb = ${'x'.repeat(1024 * 1024)}\nc = 3\n`);
    assert.equal(problems.errors.length, 1);
    assert.equal(problems.errors[0]!.location?.line, 3);
    assert.match(problems.errors[0]!.message, new RegExp(`longer than ${MAX_LINE_CHARS}`));
    assert.equal(valueText(get('s', 'c')!), '3', 'the rest of the file is still read');
  });
});

function stackOf(files: Record<string, string>, mains: string[]): { stack: ConfigStack; problems: Problems; dir: string } {
  const dir = configDir(files);
  const problems = new Problems();
  return { stack: readStack(mains.map((m) => join(dir, m)), problems), problems, dir };
}

function scope(stack: ConfigStack, section: string, problems: Problems, vars: Record<string, string> = { __name__: section }): Scope {
  return { stack, vars, chain: [section, 'DEFAULT'], problems };
}

function value(stack: ConfigStack, section: string, key: string, problems = new Problems()): string | null {
  const v = latest(stack.sections.get(section), key) ?? latest(stack.sections.get('DEFAULT'), key);
  assert.ok(v, `${section}/${key} missing`);
  return interpolateValue(v, scope(stack, section, problems));
}

describe('file stack and includes', () => {
  it('reads [INCLUDES] before and after relative to the including file; a missing include is skipped', () => {
    const { stack, problems } = stackOf({
      'sub/main.conf': '[INCLUDES]\nbefore = common.conf\n   missing.conf\nafter = late.conf\n[s]\na = main\nb = main\n',
      'sub/common.conf': '[s]\na = common\nc = common\n',
      'sub/late.conf': '[s]\nb = late\n',
    }, ['sub/main.conf']);
    assert.equal(problems.errors.length, 0);
    assert.deepEqual(stack.files.map((f) => f.split('/').pop()), ['common.conf', 'main.conf', 'late.conf']);
    assert.equal(value(stack, 's', 'a'), 'main');
    assert.equal(value(stack, 's', 'b'), 'late');
    assert.equal(value(stack, 's', 'c'), 'common');
    assert.ok(!stack.sections.has('INCLUDES'));
  });

  it('reads an included file\'s .local after it', () => {
    const { stack } = stackOf({
      'main.conf': '[INCLUDES]\nbefore = common.conf\n[s]\nx = 1\n',
      'common.conf': '[s]\na = conf\n',
      'common.local': '[s]\na = local\n',
    }, ['main.conf']);
    assert.equal(value(stack, 's', 'a'), 'local');
  });

  it('survives an include loop', () => {
    const { stack, problems } = stackOf({
      'a.conf': '[INCLUDES]\nbefore = b.conf\n[s]\nx = a\n',
      'b.conf': '[INCLUDES]\nbefore = a.conf\n[s]\nx = b\n',
    }, ['a.conf']);
    assert.equal(problems.errors.length, 0);
    assert.equal(value(stack, 's', 'x'), 'a');
  });

  it('inherits [DEFAULT] and lets a section override it', () => {
    const { stack } = stackOf({ 'j.conf': '[DEFAULT]\nbantime = 1h\nmaxretry = 5\n[a]\nmaxretry = 3\n[b]\n' }, ['j.conf']);
    assert.equal(value(stack, 'a', 'maxretry'), '3');
    assert.equal(value(stack, 'b', 'maxretry'), '5');
    assert.equal(value(stack, 'a', 'bantime'), '1h');
  });
});

describe('interpolation', () => {
  it('expands %(name)s recursively in the reading section, with __name__ and %%', () => {
    const { stack } = stackOf({
      'j.conf': '[DEFAULT]\nport = 5060\naction_ = fw[name=%(__name__)s, port="%(port)s"]\naction = %(action_)s\npct = 100%%\n[sip]\nport = 5061\n',
    }, ['j.conf']);
    assert.equal(value(stack, 'sip', 'action'), 'fw[name=sip, port="5061"]');
    assert.equal(value(stack, 'sip', 'pct'), '100%');
  });

  it('keeps the referencing line number for each line of an expanded value', () => {
    const { stack } = stackOf({ 'j.conf': '[DEFAULT]\nmulti = a\n  b\n[s]\nlist = first\n  %(multi)s\n' }, ['j.conf']);
    const v = latest(stack.sections.get('s'), 'list')!;
    const lines = interpolateLines(v, scope(stack, 's', new Problems()))!;
    assert.deepEqual(lines.map((l) => [l.value, l.line]), [['first', 5], ['a', 6], ['b', 6]]);
  });

  it('resolves %(known/x)s to the value before the file that refers to it, through several files', () => {
    const { stack } = stackOf({
      'j.conf': '[s]\nfailregex = one\n',
      'j.d.conf': '[s]\nfailregex = %(known/failregex)s\n  two\n',
      'j.local': '[s]\nfailregex = %(known/failregex)s\n  three\n',
    }, ['j.conf', 'j.d.conf', 'j.local']);
    assert.equal(value(stack, 's', 'failregex'), 'one\ntwo\nthree');
  });

  it('falls back to [DEFAULT] for known/, and reads default/ and section/ references', () => {
    const { stack } = stackOf({ 'j.conf': '[DEFAULT]\nx = d\n[other]\ny = o\n[s]\nx = %(known/x)s+s\nz = %(default/x)s %(other/y)s\n' }, ['j.conf']);
    assert.equal(value(stack, 's', 'x'), 'd+s');
    assert.equal(value(stack, 's', 'z'), 'd o');
  });

  const errs: Array<[string, string, number, RegExp, RegExp?]> = [
    ['an undefined name', '[s]\na = 1\nb = x %(nope)s\n', 3, /%\(nope\)s in option "b" is not defined/],
    ['a typo with a suggestion', '[s]\nbantime = 1\nb = %(bantim)s\n', 3, /not defined/, /did you mean "bantime"/],
    ['a loop', '[s]\na = %(b)s\nb = %(a)s\n', 3, /interpolation loop: s\/a -> s\/b -> s\/a/],
    ['a self reference', '[s]\na = x %(a)s\n', 2, /interpolation loop/],
    ['a lone %', '[s]\na = 50% off\n', 2, /not followed by "%" or "\(name\)s"/, /%%/],
    ['%(name) without s', '[s]\na = %(b)d\nb = 1\n', 2, /not followed/],
  ];
  for (const [name, text, line, re, hint] of errs) {
    it(`reports ${name} at the line holding the reference`, () => {
      const { stack, problems } = stackOf({ 'j.conf': text }, ['j.conf']);
      const key = name.includes('loop') && !name.includes('self') ? 'a' : name.includes('self') || name.includes('%') ? 'a' : 'b';
      assert.equal(value(stack, 's', key, problems), null);
      assert.equal(problems.errors.length, 1, problems.errors.map((e) => e.describe()).join('\n'));
      const e = problems.errors[0]!;
      assert.ok(e.location?.file.endsWith('j.conf'));
      assert.equal(e.location?.line, line);
      assert.match(e.message, re);
      if (hint) assert.match(e.hint ?? '', hint);
    });
  }

  it('stops an exponential expansion', () => {
    let text = '[s]\nv0 = xxxxxxxxxxxxxxxx\n';
    for (let i = 1; i < 19; i++) text += `v${i} = %(v${i - 1})s%(v${i - 1})s\n`;
    const { stack, problems } = stackOf({ 'j.conf': text }, ['j.conf']);
    assert.equal(value(stack, "s", "v18", problems), null);
    assert.match(problems.errors[0]!.message, /expands to more than/);
  });
});
