import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseInvocations } from '../../src/settings/index.js';
import { configErrors } from './helpers.js';

describe('parseInvocations', () => {
  const good: Array<[string, string, Array<[string, Record<string, string>, number]>]> = [
    ['a bare name', 'asterisk', [['asterisk', {}, 10]]],
    ['params', 'iptables-allports[name=ASTERISK, protocol=all]', [['iptables-allports', { name: 'ASTERISK', protocol: 'all' }, 10]]],
    ['quoted values with commas and brackets', `mail[dest="a@x, b@x", sub='[x] y', port = 5060 ]`, [['mail', { dest: 'a@x, b@x', sub: '[x] y', port: '5060' }, 10]]],
    ['the seed\'s two actions on two lines', 'iptables-allports[name=ASTERISK, protocol=all]\nsendmail-whois[name=ASTERISK, dest=root, sender=fail2ban@example.org]',
      [['iptables-allports', { name: 'ASTERISK', protocol: 'all' }, 10], ['sendmail-whois', { name: 'ASTERISK', dest: 'root', sender: 'fail2ban@example.org' }, 11]]],
    ['several on one line', 'a b[x=1]  c', [['a', {}, 10], ['b', { x: '1' }, 10], ['c', {}, 10]]],
    ['params across lines', 'fw[name=x,\n   port="5060"]\nmail', [['fw', { name: 'x', port: '5060' }, 10], ['mail', {}, 12]]],
    ['fail2ban\'s ][ groups', 'fw[a=1][b=2]', [['fw', { a: '1', b: '2' }, 10]]],
    ['a trailing comma', 'fw[a=1,]', [['fw', { a: '1' }, 10]]],
    ['an empty value', 'fw[a=, b=""]', [['fw', { a: '', b: '' }, 10]]],
    ['nothing', '  \n ', []],
  ];
  for (const [name, text, want] of good) {
    it(`parses ${name}`, () => {
      const got = parseInvocations(text, 'jail.conf', 10);
      assert.deepEqual(got.map((i) => [i.name, i.params, i.line]), want);
      for (const i of got) assert.equal(i.file, 'jail.conf');
    });
  }

  const bad: Array<[string, string, number, RegExp]> = [
    ['an unclosed bracket', 'ok\nfw[name=x,\n  port=1\n', 11, /"\[" after "fw" is never closed/],
    ['an unclosed quote', 'fw[a="x, b=2]\n', 10, /quote " in parameter "a" of "fw" is never closed/],
    ['a missing name', 'ok\n[name=x]', 11, /expected a name, found "\["/],
    ['a stray ]', 'fw]', 10, /unexpected "\]" after "fw"/],
    ['a parameter without =', 'fw[name]', 10, /parameter "name" of "fw" has no "=value"/],
    ['text after a quoted value', 'fw[a="x" y, b=1]', 10, /unexpected text after parameter "a"/],
    ['a bad name', 'f$w', 10, /is not a valid name/],
  ];
  for (const [name, text, line, re] of bad) {
    it(`reports ${name} at the right line`, () => {
      const errors = configErrors(() => parseInvocations(text, 'jail.conf', 10));
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.location?.file, 'jail.conf');
      assert.equal(errors[0]!.location?.line, line);
      assert.match(errors[0]!.message, re);
    });
  }
});
