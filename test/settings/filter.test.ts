import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadFilter, loadFilterFile, loadSettings } from '../../src/settings/index.js';
import { configDir, configErrors, errorAt } from './helpers.js';

function filterFile(text: string, extra: Record<string, string> = {}): string {
  return join(configDir({ 'filter.d/f.conf': text, ...extra }), 'filter.d', 'f.conf');
}

describe('filter files', () => {
  it('lets parameters override [Init] values that [Definition] interpolates', () => {
    const path = filterFile('[Init]\nmode = normal\n[Definition]\nfailregex = ^%(mode)s <HOST>$\nmode_note = %(mode)s\n');
    assert.equal(loadFilterFile(path).failregex[0]!.value, '^normal <HOST>$');
    const def = loadFilterFile(path, { mode: 'gaps' });
    assert.equal(def.failregex[0]!.value, '^gaps <HOST>$');
    assert.equal(def.vars.mode, 'gaps');
    assert.equal(def.vars.mode_note, 'gaps');
  });

  it('loads by invocation from a config dir, with the .local read after', () => {
    const dir = configDir({
      'filter.d/f.conf': '[Init]\nmode = a\n[Definition]\nfailregex = ^%(mode)s <HOST>$\n',
      'filter.d/f.local': '[Init]\nmode = b\n',
    });
    const def = loadFilter(dir, { name: 'f', params: {}, file: 'jail.conf', line: 3 });
    assert.equal(def.name, 'f');
    assert.ok(def.file.endsWith('filter.d/f.conf'));
    assert.equal(def.failregex[0]!.value, '^b <HOST>$');
  });

  it('skips a missing "before = common.conf" and uses one that exists', () => {
    const lone = filterFile('[INCLUDES]\nbefore = common.conf\n[Definition]\nfailregex = ^x <HOST>$\n');
    assert.equal(loadFilterFile(lone).failregex.length, 1);
    const withCommon = filterFile('[INCLUDES]\nbefore = common.conf\n[Definition]\n_daemon = asterisk\nfailregex = ^%(__prefix_line)sfail <HOST>$\n', {
      'filter.d/common.conf': '[DEFAULT]\n_daemon = \\S*\n__prefix_line = \\s*%(_daemon)s:\\s+\n',
    });
    assert.equal(loadFilterFile(withCommon).failregex[0]!.value, '^\\s*asterisk:\\s+fail <HOST>$');
  });

  it('exposes other sections as <section/option> variables and logtype = file, as fail2ban\'s common.conf expects', () => {
    const def = loadFilterFile(filterFile('[INCLUDES]\nbefore = common.conf\n[Definition]\nfailregex = <HOST>\n', {
      'filter.d/common.conf': '[DEFAULT]\n__prefix_line = <lt_<logtype>/__prefix_line>\n[lt_file]\n__prefix_line = \\s*\n',
    }));
    assert.equal(def.vars.logtype, 'file');
    assert.equal(def.vars['lt_file/__prefix_line'], '\\s*');
    assert.equal(def.vars.__prefix_line, '<lt_<logtype>/__prefix_line>');
  });

  it('reads ignoreregex, prefregex and datepattern (%% is a literal %)', () => {
    const def = loadFilterFile(filterFile('[Definition]\nprefregex = ^<F-CONTENT>.+</F-CONTENT>$\nfailregex = <HOST>\nignoreregex = ^a$\n  ^b$\ndatepattern = ^%%Y-%%m-%%d %%H:%%M:%%S\n'));
    assert.equal(def.prefregex?.value, '^<F-CONTENT>.+</F-CONTENT>$');
    assert.deepEqual(def.ignoreregex.map((l) => [l.value, l.line]), [['^a$', 4], ['^b$', 5]]);
    assert.equal(def.datepattern?.value, '^%Y-%m-%d %H:%M:%S');
    assert.equal(def.datepattern?.line, 6);
  });

  const tagged = ['a <HOST> b', '<ADDR>', 'from <IP4>', 'from <IP6>', 'net <CIDR>', 'net <SUBNET>', 'x (?P<host>\\S+)', '(?P<ip4>[\\d.]+)', '(?P<ip6>[0-9a-f:]+)', '(?P<addr>\\S+)', 'via <mdre> tag'];
  for (const line of tagged) {
    it(`accepts a failregex line with ${line}`, () => {
      const def = loadFilterFile(filterFile(`[Definition]\nmdre = from <HOST>\nfailregex = ${line}\n`));
      assert.equal(def.failregex[0]!.value, line);
    });
  }

  it('accepts a tag line that expands to nothing in the chosen mode, rejects it in a mode where it has no <HOST>', () => {
    const text = '[Init]\nmode = normal\n[Definition]\nmdre-normal =\nmdre-extra = ^no address$\nfailregex = ^a <HOST>$\n            <mdre-<mode>>\n';
    assert.equal(loadFilterFile(filterFile(text)).failregex.length, 2);
    const errors = configErrors(() => loadFilterFile(filterFile(text), { mode: 'extra' }));
    assert.match(errorAt(errors, 'filter.d/f.conf', 7).message, /no <HOST>/);
  });

  it('rejects a first failregex line without a host tag, suggesting <HOST>', () => {
    const errors = configErrors(() => loadFilterFile(filterFile('[Definition]\nfailregex = ^no address here$\n')));
    const e = errorAt(errors, 'filter.d/f.conf', 2);
    assert.equal(e.code, 'E_FILTER');
    assert.match(e.message, /no <HOST>/);
    assert.match(e.hint ?? '', /add <HOST>/);
  });

  it('reports a filter without failregex, and a [Definition] typo', () => {
    const errors = configErrors(() => loadFilterFile(filterFile('[Defintion]\nfailregex = <HOST>\n')));
    assert.match(errors[0]!.message, /no failregex/);
    assert.match(errors[0]!.hint ?? '', /did you mean \[Definition\]/);
  });

  it('reports a missing filter file', () => {
    const errors = configErrors(() => loadFilterFile('/nonexistent/filter.d/x.conf'));
    assert.equal(errors[0]!.code, 'E_CONFIG_IO');
  });

  it('refuses a filter name that leaves filter.d', () => {
    const dir = configDir({ 'jail.conf': '[j]\nenabled = true\nfilter = ../../etc/passwd\nlogpath = /x\n' });
    const errors = configErrors(() => loadSettings(dir, { env: {} }));
    assert.match(errorAt(errors, 'jail.conf', 3).message, /not a valid (filter )?name/);
  });

  it('accepts journalmatch and maxlines, warning that the journal is not read', () => {
    const dir = configDir({
      'filter.d/f.conf': '[Definition]\nfailregex = <HOST>\njournalmatch = _SYSTEMD_UNIT=asterisk.service\nmaxlines = 1\n',
      'jail.conf': '[j]\nenabled = true\nfilter = f\nlogpath = /x\nusedns = yes\n',
    });
    const s = loadSettings(dir, { env: {} });
    assert.ok(s.warnings?.some((w) => /f.conf:3: journalmatch is ignored/.test(w)), String(s.warnings));
    assert.ok(s.warnings?.some((w) => /jail.conf:5: usedns/.test(w)), String(s.warnings));
  });

  it('rejects a bad maxlines at its line', () => {
    const errors = configErrors(() => loadFilterFile(filterFile('[Definition]\nfailregex = <HOST>\nmaxlines = x\n')));
    errorAt(errors, 'filter.d/f.conf', 3);
  });
});
