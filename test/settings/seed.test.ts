import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, repoRoot } from '../helpers/paths.js';
import { loadSettings } from '../../src/settings/index.js';
import { configDir, configErrors } from './helpers.js';

describe('the seed configuration (a fail2ban user\'s, from the Asterisk book)', () => {
  it('loads unchanged, every field right', () => {
    const s = loadSettings(fixture('seed', 'seed'), { env: {} });
    assert.equal(s.jails.length, 1);
    const j = s.jails[0]!;
    assert.equal(j.name, 'asterisk-iptables');
    assert.equal(j.enabled, true);
    assert.equal(j.backend, 'log');
    assert.deepEqual(j.filter && [j.filter.name, j.filter.params, j.filter.line], ['asterisk', {}, 14]);
    assert.deepEqual(j.actions.map((a) => [a.name, a.params, a.line]), [
      ['iptables-allports', { name: 'ASTERISK', protocol: 'all' }, 15],
      ['sendmail-whois', { name: 'ASTERISK', dest: 'root', sender: 'fail2ban@example.org' }, 16],
    ]);
    assert.deepEqual(j.logpath.map((l) => l.value), ['/var/log/asterisk/messages']);
    assert.equal(j.maxretry, 5, 'the jail overrides [DEFAULT] maxretry = 3');
    assert.equal(j.bantime, 259200);
    assert.equal(j.findtime, 600);
    assert.deepEqual(j.ignoreip, ['127.0.0.1/8', '192.168.1.0/24']);
    assert.equal(j.destemail, 'root@example.org');
    assert.equal(j.options.destemail, 'root@example.org');
    const f = j.filterDef!;
    assert.ok(f.file.endsWith('seed/filter.d/asterisk.conf'));
    assert.equal(f.failregex.length, 9);
    assert.deepEqual(f.failregex.map((l) => l.line), [26, 27, 28, 29, 30, 31, 32, 33, 34]);
    assert.equal(f.failregex[0]!.value, "NOTICE.* .*: Registration from '.*' failed for '<HOST>:.*' - Wrong password");
    assert.equal(f.failregex[6]!.value, "NOTICE.* .*: No registration for peer '.*' \\(from <HOST>\\)");
    assert.deepEqual(f.ignoreregex, []);
    assert.equal(s.warnings?.length, 0, String(s.warnings));
  });

  it('as printed (wrapped lines) fails at each wrapped fragment: no <HOST>, join it to the line above', () => {
    const errors = configErrors(() => loadSettings(fixture('seed', 'seed-wrapped'), { env: {} }));
    assert.deepEqual(errors.map((e) => e.location?.line), [27, 30, 33]);
    for (const e of errors) {
      assert.ok(e.location?.file.endsWith('seed-wrapped/filter.d/asterisk.conf'));
      assert.match(e.describe(), /filter\.d\/asterisk\.conf:(27|30|33): failregex line has no <HOST>/);
      assert.match(e.hint ?? '', /join it to the line above/);
    }
    assert.match(errors[0]!.hint ?? '', /line 26/);
  });
});

describe('the shipped configuration (config/)', () => {
  const env = { AMI_USERNAME: 'asterisk-ban', AMI_SECRET: 'x' };

  function copyWithStubFilter(): string {
    const dir = configDir({});
    cpSync(join(repoRoot, 'config'), dir, { recursive: true });
    mkdirSync(join(dir, 'filter.d'), { recursive: true });
    writeFileSync(join(dir, 'filter.d', 'asterisk.conf'), '[Init]\nmode = normal\n[Definition]\nfailregex = ^%(mode)s <HOST>$\n');
    return dir;
  }

  it('loads, with the documented values', () => {
    const s = loadSettings(copyWithStubFilter(), { env });
    assert.equal(s.daemon.socket, join(process.cwd(), 'var', 'asterisk-ban.sock'));
    assert.equal(s.daemon.dbfile, join(process.cwd(), 'var', 'state.sqlite3'));
    assert.deepEqual([s.daemon.loglevel, s.daemon.logtarget, s.daemon.metrics, s.daemon.logjson], ['info', 'console', null, false]);
    const j = s.jails.find((x) => x.name === 'asterisk')!;
    assert.equal(j.enabled, true);
    assert.equal(j.backend, 'auto');
    assert.deepEqual([j.maxretry, j.findtime, j.bantime], [5, 600, 600]);
    assert.equal(j.filter?.name, 'asterisk');
    assert.deepEqual(j.gapfilter && [j.gapfilter.name, j.gapfilter.params], ['asterisk', { mode: 'gaps' }]);
    assert.equal(j.gapFilterDef?.failregex[0]!.value, '^gaps <HOST>$');
    assert.deepEqual(j.actions.map((a) => [a.name, a.params]), [['nftables-allports', { name: 'asterisk' }]]);
    assert.deepEqual(j.logpath.map((l) => l.value), ['/var/log/asterisk/messages']);
    assert.deepEqual(j.ignoreip, ['127.0.0.1/8', '::1']);
    assert.equal(j.verify, 'auto');
  });

  it('reads the log only, with a warning saying why, when no AMI account is configured', () => {
    const s = loadSettings(copyWithStubFilter(), { env: {} });
    assert.equal(s.jails.find((x) => x.name === 'asterisk')!.backend, 'log');
    assert.ok(s.warnings?.some((w) => /jail.conf:\d+: jail \[asterisk\] has backend = auto but no AMI user name or secret: reading the log only/.test(w)), String(s.warnings));
  });

  it('loads with the real filter.d/asterisk.conf', { skip: !existsSync(join(repoRoot, 'config', 'filter.d', 'asterisk.conf')) && 'config/filter.d/asterisk.conf not written yet' }, () => {
    const s = loadSettings(join(repoRoot, 'config'), { env });
    const j = s.jails.find((x) => x.name === 'asterisk')!;
    assert.ok(j.filterDef!.failregex.length > 0);
    assert.ok(j.gapFilterDef!.failregex.length > 0);
  });
});
