import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeDigest, composeSingle, headerAddress, whoisTargets, type ComposeContext } from '../../../src/actions/mail/compose.js';
import type { WhoisResult } from '../../../src/actions/mail/whois.js';
import { ban, failure, nthAddress } from './support.js';

function ctx(over: Partial<ComposeContext> = {}): ComposeContext {
  return { name: 'ASTERISK', host: 'pbx1', lines: 0, whois: new Map<string, WhoisResult>(), ...over };
}

test('a single ban: subject names jail and address; body has count, until, reason, account', () => {
  const m = composeSingle({ event: 'ban', ban: ban('203.0.113.5', { count: 3 }) }, ctx());
  assert.equal(m.subject, '[asterisk-ban] ASTERISK: banned 203.0.113.5');
  assert.match(m.text, /address: +203\.0\.113\.5/);
  assert.match(m.text, /ban #: +3 for this address/);
  assert.match(m.text, /until: +2026-11-27T13:00:00\.000Z \(1h\)/);
  assert.match(m.text, /reason: +InvalidPassword \(seen via ami\)/);
  assert.match(m.text, /accounts: "1001"/);
  assert.doesNotMatch(m.text, /Failures of/);
  assert.match(composeSingle({ event: 'ban', ban: ban('203.0.113.5', { end: null }) }, ctx()).text, /until: +never \(permanent\)/);
});

test('attacker text with CR/LF and control characters stays on its own escaped line, out of the subject', () => {
  const evil = ban('198.51.100.7', {
    reason: 'InvalidPassword\r\nBcc: victim@example.com',
    failures: [failure('198.51.100.7', { account: 'x"\r\nSubject: pwned', raw: 'line\r\nX-Evil: 1\u0007\u001b[31m' })],
  });
  const m = composeSingle({ event: 'ban', ban: evil }, ctx({ lines: 5 }));
  assert.doesNotMatch(m.subject, /[\r\n]/);
  assert.equal(m.subject, '[asterisk-ban] ASTERISK: banned 198.51.100.7');
  assert.doesNotMatch(m.text, /\r/);
  for (const line of m.text.split('\n')) {
    assert.doesNotMatch(line, /^(Bcc|Subject|X-Evil):/i, line);
    assert.doesNotMatch(line, /[\u0000-\u0008\u000b-\u001f\u007f]/, JSON.stringify(line));
  }
  assert.match(m.text, /InvalidPassword\\x0d\\x0aBcc: victim@example\.com/);
  assert.match(m.text, /line\\x0d\\x0aX-Evil: 1\\x07\\x1b\[31m/);
});

test('an address that does not parse never reaches the subject', () => {
  assert.equal(headerAddress('1.2.3.4\r\nBcc: x@y'), 'an unparsable address');
  assert.equal(headerAddress('2001:db8::1'), '2001:db8::1');
  assert.equal(headerAddress('2001:db8:1:2::/64'), '2001:db8:1:2::/64', 'an IPv6 prefix ban');
  assert.equal(headerAddress('2001:db8::/64\r\nBcc: x@y'), 'an unparsable address');
  assert.equal(headerAddress('1.2.3.4 Bcc'), 'an unparsable address');
  const m = composeSingle({ event: 'ban', ban: ban('evil\nBcc: a@b') }, ctx());
  assert.equal(m.subject, '[asterisk-ban] ASTERISK: banned an unparsable address');
});

test('-lines: the last failures raw lines, bounded in count and length', () => {
  const failures = Array.from({ length: 30 }, (_, i) => failure('192.0.2.9', { raw: `attempt ${i} ${'A'.repeat(2000)}` }));
  const m = composeSingle({ event: 'ban', ban: ban('192.0.2.9', { failures }) }, ctx({ lines: 4 }));
  assert.match(m.text, /Failures of 192\.0\.2\.9 \(last 4 of 30\)/);
  assert.doesNotMatch(m.text, /attempt 25 /);
  assert.match(m.text, /attempt 26 /);
  assert.match(m.text, /attempt 29 /);
  assert.ok(m.text.split('\n').every((l) => l.length < 700));
});

test('whois text is included escaped and bounded; a failed lookup is named', () => {
  const whois = new Map<string, WhoisResult>([
    ['192.0.2.1', { ok: true, text: 'netname: EXAMPLE\r\ndescr: \u001b[2Jhi\n', truncated: true }],
    ['192.0.2.2', { ok: false, error: 'no answer from 127.0.0.1:43 within 5000 ms' }],
  ]);
  const a = composeSingle({ event: 'ban', ban: ban('192.0.2.1') }, ctx({ whois })).text;
  assert.match(a, /Whois for 192\.0\.2\.1:\n {2}netname: EXAMPLE\n {2}descr: \\x1b\[2Jhi/);
  assert.match(a, /whois output cut short/);
  const b = composeSingle({ event: 'ban', ban: ban('192.0.2.2') }, ctx({ whois })).text;
  assert.match(b, /not available: no answer/);
});

test('a digest lists every address once per line, details and whois only for the first few', () => {
  const entries = Array.from({ length: 300 }, (_, i) => ({ event: 'ban' as const, ban: ban(nthAddress(i)) }));
  const m = composeDigest(entries, ctx());
  assert.equal(m.subject, '[asterisk-ban] ASTERISK: 300 banned');
  for (let i = 0; i < 300; i++) assert.ok(m.text.includes(`\n  ${nthAddress(i)} `), nthAddress(i));
  assert.equal((m.text.match(/address: /g) ?? []).length, 5);
  assert.deepEqual(whoisTargets(entries), entries.slice(0, 5).map((e) => e.ban.ip));
  const mixed = composeDigest([{ event: 'ban', ban: ban('192.0.2.1') }, { event: 'unban', ban: ban('192.0.2.2') }], ctx());
  assert.equal(mixed.subject, '[asterisk-ban] ASTERISK: 1 banned, 1 unbanned');
  assert.match(mixed.text, /Unbanned:\n {2}192\.0\.2\.2 /);
});

test('a digest of one entry is the single-ban mail', () => {
  const e = { event: 'ban' as const, ban: ban('192.0.2.1') };
  assert.deepEqual(composeDigest([e], ctx()), composeSingle(e, ctx()));
});

test('an alert: the subject names rule, severity and address only; attacker text in the body is escaped', () => {
  const alert = {
    rule: 'compromise' as const, severity: 'high' as const, jail: 'asterisk', time: Date.UTC(2026, 10, 27, 12, 0, 0),
    summary: 'account "6001\\r\\nBcc: x@evil" logged in from 203.0.113.5 after 37 failure(s) from that address in the last 10m',
    address: '203.0.113.5', account: '6001\r\nBcc: x@evil', facts: [['failures', '37'], ['accounts tried', '"root\r\nX-Injected: 1"']] as [string, string][],
  };
  const m = composeSingle({ event: 'alert', alert }, ctx());
  assert.equal(m.subject, '[asterisk-ban] ASTERISK: ALERT compromise 203.0.113.5');
  assert.match(m.text, /HIGH compromise at 2026-11-27T12:00:00.000Z: account "6001\\\\r\\\\nBcc: x@evil" logged in/);
  assert.match(m.text, /^ {4}account: "6001\\x0d\\x0aBcc: x@evil"$/m);
  assert.match(m.text, /^ {4}failures: 37$/m);
  assert.doesNotMatch(m.text, /^Bcc:|^X-Injected/m);
  const d = composeDigest([{ event: 'alert', alert }, { event: 'ban', ban: ban('198.51.100.7') }, { event: 'alert', alert: { ...alert, severity: 'warning', rule: 'new_network' } }], ctx());
  assert.equal(d.subject, '[asterisk-ban] ASTERISK: 2 alerts (1 high), 1 banned');
  assert.match(d.text, /^Alerts:$/m);
  assert.match(d.text, /WARNING new_network/);
  assert.deepEqual(whoisTargets([{ event: 'alert', alert }, { event: 'ban', ban: ban('198.51.100.7') }]), ['198.51.100.7']);
});
