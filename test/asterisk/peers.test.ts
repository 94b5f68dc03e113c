// The peers Asterisk trusts, read from its own configuration files: every
// form of identify match, static contacts, chan_sip and IAX2 hosts, through
// templates and includes; broken lines are warnings with file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readTrustedPeers, matchEntry, contactHost, hostEntry } from '../../src/asterisk/peers.js';
import { fixture } from '../helpers/paths.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('the fixture configuration gives the expected trusted peers, each with its file and line', () => {
  const r = readTrustedPeers(fixture('asterisk-config'));
  assert.equal(r.found, true);
  assert.deepEqual(r.peers.map((p) => `${p.entry} <- ${p.origin}`), [
    '203.0.113.10 <- pjsip.conf:15 [provider-a] match',
    '203.0.113.11 <- pjsip.conf:19 [provider-a] match',
    '198.51.100.0/28 <- pjsip.conf:19 [provider-a] match',
    '192.0.2.64/26 <- pjsip.conf:24 [provider-b] match',
    'sip.provider.test <- pjsip.conf:25 [provider-b] match',
    '2001:db8:70::5 <- pjsip.conf:26 [provider-b] match',
    '192.0.2.99 <- pjsip.conf:30 [provider-b-aor] contact',
    '2001:db8:71::7 <- pjsip_trunks.conf:3 [trunk-v6] contact',
    'backup.provider.test <- pjsip_trunks.conf:4 [trunk-v6] contact',
    'localhost <- pjsip_trunks.conf:14 [office] match',
    '203.0.113.40 <- sip.conf:7 [legacy-trunk] host',
    'voip.legacy.test <- sip.conf:19 [legacy-named] host',
    '198.51.100.77 <- iax.conf:6 [branch-office] host',
  ]);
  const warnings = r.warnings.map((w) => `${w.file.split('/').pop()}:${w.line} ${w.message}`);
  for (const want of [
    /^pjsip_missing\.conf:0 cannot read/,
    /^pjsip\.conf:42 #exec is not run/,
    /^pjsip\.conf:44 section header not understood/,
    /^pjsip\.conf:45 option match outside any \[section\]/,
    /^pjsip\.conf:47 \[provider-c\] uses template undefined-template, which is not defined/,
    /^pjsip\.conf:49 match "not an address!" names no address or host/,
  ]) {
    assert.ok(warnings.some((w) => want.test(w)), `${want} in:\n${warnings.join('\n')}`);
  }
  assert.ok(!r.peers.some((p) => p.entry === '10.9.9.9' || p.entry === '10.66.66.66' || p.entry === '10.0.0.1'), 'nothing from a broken section, a comment block or [general]');
  assert.ok(!warnings.some((w) => w.startsWith('pjsip_optional')), 'a missing #tryinclude is not a problem');
});

test('a directory that does not exist learns nothing and says so', () => {
  const r = readTrustedPeers('/nonexistent/asterisk');
  assert.deepEqual({ found: r.found, peers: r.peers.length, warnings: r.warnings.length }, { found: false, peers: 0, warnings: 0 });
});

test('entry forms', () => {
  assert.equal(matchEntry('192.0.2.0/255.255.255.0'), '192.0.2.0/24');
  assert.equal(matchEntry('192.0.2.0/255.0.255.0'), null, 'not a netmask');
  assert.equal(matchEntry('2001:db8::/48'), '2001:db8::/48');
  assert.equal(matchEntry('203.0.113.5:5060'), '203.0.113.5');
  assert.equal(contactHost('sip:203.0.113.8'), '203.0.113.8');
  assert.equal(contactHost('sip:u@[2001:db8::8]:5060;transport=tcp'), '2001:db8::8');
  assert.equal(contactHost('tel:+15551234'), null);
  assert.equal(hostEntry('Voip.Example.TEST'), 'voip.example.test');
  assert.equal(hostEntry('999.1.1.1'), null);
  assert.equal(hostEntry("a'b"), null);
});

test('includes that would block or never end, loops and garbage are warnings, never a hang or a crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'asb-astconf-'));
  try {
    execFileSync('mkfifo', [join(dir, 'fifo.conf')]);
    writeFileSync(join(dir, 'loop.conf'), '#include pjsip.conf\n');
    writeFileSync(join(dir, 'pjsip.conf'), [
      '#include fifo.conf', '#include /dev/zero', '#include loop.conf', '#include subdir',
      '[trunk]', 'type=identify', 'match=203.0.113.20', '\u0000\u00ff\u00fe garbage = =', `match=${'9'.repeat(5000)}`,
    ].join('\n'));
    mkdirSync(join(dir, 'subdir'));
    const r = readTrustedPeers(dir);
    assert.deepEqual(r.peers.map((p) => p.entry), ['203.0.113.20']);
    const text = r.warnings.map((w) => `${w.file.split('/').pop()}:${w.line} ${w.message}`).join('\n');
    for (const want of [/fifo\.conf:0 cannot read: not a regular file/, /zero:0 cannot read: not a regular file/, /pjsip\.conf:0 included more than once/, /subdir:0 cannot read: not a regular file/, /pjsip\.conf:9 match "9{10}/]) {
      assert.match(text, want);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
