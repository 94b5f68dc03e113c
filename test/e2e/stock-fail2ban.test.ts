// A fail2ban user's whole configuration directory, as Debian installs it,
// with only the Asterisk jail enabled: it must load and validate unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../../src/cli/check-config.js';
import { repoRoot } from '../helpers/paths.js';

const STOCK = '/etc/fail2ban';
const skip = existsSync(join(STOCK, 'jail.conf')) ? false : 'fail2ban is not installed (apt-get install fail2ban)';

test("Debian's /etc/fail2ban with [asterisk] enabled passes check-config", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'asb-stock-'));
  try {
    cpSync(STOCK, dir, { recursive: true });
    // Debian enables sshd, whose filter needs fail2ban's multi-line matching.
    rmSync(join(dir, 'jail.d'), { recursive: true, force: true });
    writeFileSync(join(dir, 'jail.local'), `[sshd]\nenabled = false\n\n[asterisk]\nenabled = true\nlogpath = ${join(dir, 'messages')}\n`);
    const r = checkConfig(dir, {});
    assert.deepEqual(r.errors.map((e) => e.describe()), []);
    const jail = r.settings!.jails.find((j) => j.name === 'asterisk')!;
    assert.equal(jail.enabled, true);
    assert.equal(jail.maxretry, 10);
    assert.deepEqual(jail.actions.map((a) => [a.name, a.params.protocol]), [['iptables-multiport', 'tcp'], ['iptables-multiport', 'udp']]);
    assert.equal(jail.filterDef!.failregex.length > 5, true);
    // The stock action shortcut with mail: its sender is root@<fq-hostname>.
    writeFileSync(join(dir, 'jail.local'), `[sshd]\nenabled = false\n\n[asterisk]\nenabled = true\nlogpath = ${join(dir, 'messages')}\naction = %(action_mw)s\n`);
    const mw = checkConfig(dir, {});
    assert.deepEqual(mw.errors.map((e) => e.describe()), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Debian's filter.d/asterisk.conf copied alone works beside the common.conf asterisk-ban ships", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'asb-stock-'));
  try {
    cpSync(join(repoRoot, 'config'), dir, { recursive: true });
    rmSync(join(dir, 'filter.d', 'common.conf'));
    cpSync(join(STOCK, 'filter.d', 'asterisk.conf'), join(dir, 'filter.d', 'asterisk.conf'));
    writeFileSync(join(dir, 'jail.local'), `[asterisk]\nbackend = log\nlogpath = ${join(dir, 'messages')}\ngapfilter =\n`);
    const without = checkConfig(dir, {});
    assert.ok(without.errors.length > 0);
    assert.ok(without.warnings.some((w) => /asterisk\.conf:\d+: \[INCLUDES\] before = common\.conf: .* does not exist/.test(w)), without.warnings.join('\n'));
    cpSync(join(repoRoot, 'config', 'filter.d', 'common.conf'), join(dir, 'filter.d', 'common.conf'));
    const r = checkConfig(dir, {});
    assert.deepEqual(r.errors.map((e) => e.describe()), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
