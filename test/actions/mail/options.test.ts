import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mailActions } from '../../../src/actions/mail/index.js';
import { parseMailOptions } from '../../../src/actions/mail/options.js';
import { isAsteriskBanError } from '../../../src/core/errors.js';
import { deps, invocation } from './support.js';

const whoisVariant = { whois: true, lines: false };

test('the seed line sendmail-whois[name=ASTERISK, dest=root, sender=fail2ban@example.org] loads unchanged', () => {
  const entry = mailActions['sendmail-whois'];
  assert.ok(entry);
  for (const key of ['name', 'dest', 'sender']) assert.ok(entry.params.includes(key), key);
  const action = entry.factory(invocation('sendmail-whois', { name: 'ASTERISK', dest: 'root', sender: 'fail2ban@example.org' }), deps());
  assert.equal(action.kind, 'notify');
  assert.equal(action.id, 'sendmail-whois[ASTERISK]');
  const o = parseMailOptions(invocation('sendmail-whois', { name: 'ASTERISK', dest: 'root', sender: 'fail2ban@example.org' }), deps(), whoisVariant);
  assert.deepEqual(o.to, ['root']);
  assert.equal(o.from, 'fail2ban@example.org');
  assert.equal(o.name, 'ASTERISK');
  assert.equal(o.whois, true);
  assert.equal(o.lines, 0);
  assert.deepEqual(o.transport, { kind: 'sendmail', path: '/usr/sbin/sendmail' });
  assert.equal(o.digestMs, 60_000);
  assert.equal(o.notifyStart, false);
});

test('every fail2ban mail action name is registered, the -whois and -lines names imply their content', () => {
  for (const name of ['sendmail', 'sendmail-whois', 'sendmail-whois-lines', 'sendmail-buffered', 'mail', 'mail-whois', 'mail-whois-lines']) {
    assert.ok(mailActions[name], name);
  }
  const a = mailActions['mail-whois-lines']!.factory(invocation('mail-whois-lines', {}), deps()) as unknown as { options: { whois: boolean; lines: number } };
  assert.equal(a.options.whois, true);
  assert.equal(a.options.lines, 20);
  const b = mailActions.sendmail!.factory(invocation('sendmail', {}), deps()) as unknown as { options: { whois: boolean; lines: number } };
  assert.equal(b.options.whois, false);
  assert.equal(b.options.lines, 0);
});

test("fail2ban's stock action_mwl parameters are accepted", () => {
  const params = { name: 'x', sender: 'a@b.c', dest: 'd@e.f', logpath: '/var/log/asterisk/messages', chain: 'INPUT', grepmax: '7' };
  for (const key of Object.keys(params)) assert.ok(mailActions['sendmail-whois-lines']!.params.includes(key), key);
  const o = parseMailOptions(invocation('sendmail-whois-lines', params), deps(), { whois: true, lines: true });
  assert.equal(o.lines, 7);
});

test('dest and sender fall back to the jail destemail/sender, then to root', () => {
  const o = parseMailOptions(invocation('sendmail', {}), deps(), whoisVariant);
  assert.deepEqual(o.to, ['admin@example.org']);
  assert.equal(o.from, 'ban@example.org');
  assert.equal(o.name, 'asterisk-iptables');
  const d = deps();
  d.jail.destemail = '';
  assert.deepEqual(parseMailOptions(invocation('sendmail', {}), d, whoisVariant).to, ['root']);
  assert.deepEqual(parseMailOptions(invocation('sendmail', { dest: 'a@x.org, b@y.org' }), d, whoisVariant).to, ['a@x.org', 'b@y.org']);
});

test('transport: SMTP URL from the parameter, SMTP_URL overrides it, password only from SMTP_PASSWORD', () => {
  const o = parseMailOptions(invocation('sendmail', { transport: 'smtp://alice@mail.example.org:2525' }), deps({ SMTP_PASSWORD: 'pw' }), whoisVariant);
  assert.deepEqual(o.transport, { kind: 'smtp', host: 'mail.example.org', port: 2525, secure: false, starttls: 'auto', verify: true, user: 'alice', text: 'smtp://alice@mail.example.org:2525' });
  assert.ok(!JSON.stringify(o).includes('pw'), 'the password is not part of the options');
  const e = parseMailOptions(invocation('sendmail', { transport: 'smtp://x:1' }), deps({ SMTP_URL: 'smtps://relay.example.org' }), whoisVariant);
  assert.deepEqual(e.transport, { kind: 'smtp', host: 'relay.example.org', port: 465, secure: true, starttls: 'auto', verify: true, user: null, text: 'smtps://relay.example.org' });
  const q = parseMailOptions(invocation('sendmail', { transport: 'smtp://[::1]:25?starttls=required&tls_verify=no' }), deps(), whoisVariant);
  assert.deepEqual(q.transport, { kind: 'smtp', host: '::1', port: 25, secure: false, starttls: 'required', verify: false, user: null, text: 'smtp://[::1]:25' });
  const w = parseMailOptions(invocation('sendmail', {}), deps({ MAIL_WHOIS_SERVER: '127.0.0.1', MAIL_WHOIS_PORT: '4343' }), whoisVariant);
  assert.equal(w.whoisServer, '127.0.0.1');
  assert.equal(w.whoisPort, 4343);
});

const bad: { params: Record<string, string>; env?: Record<string, string>; match: RegExp; secret?: string }[] = [
  { params: { transport: 'smtp://alice:hunter2-secret@mail.example.org' }, match: /contains a password/, secret: 'hunter2-secret' },
  { params: {}, env: { SMTP_URL: 'smtp://bob:env-secret-9@relay' }, match: /contains a password/, secret: 'env-secret-9' },
  { params: { transport: 'http://x:pw-in-url@host' }, match: /smtp:\/\//, secret: 'pw-in-url' },
  { params: { transport: 'not a url with secret-word' }, match: /neither/, secret: 'secret-word' },
  { params: { sendmail_path: 'sendmail' }, match: /absolute/ },
  { params: { transport: 'smtp://relay:25?tls=maybe' }, match: /unsupported option "tls=maybe"/ },
  { params: { digest: 'soon' }, match: /digest must be a duration/ },
  { params: { digest: '-1' }, match: /digest/ },
  { params: { whois_timeout: '0' }, match: /whois_timeout/ },
  { params: { whois_port: '70000' }, match: /whois_port/ },
  { params: { whois: 'maybe' }, match: /whois must be true or false/ },
  { params: { dest: 'root\r\nBcc: x@y' }, match: /not a mail address/ },
  { params: { sender: '<a@b>' }, match: /not a mail address/ },
  { params: { sendername: 'x\nBcc: y' }, match: /control characters/ },
];

for (const c of bad) {
  test(`rejects ${JSON.stringify(c.params)} ${JSON.stringify(c.env ?? {})} with file:line and no secret`, () => {
    assert.throws(
      () => parseMailOptions(invocation('sendmail', c.params), deps(c.env ?? {}), whoisVariant),
      (err: unknown) => {
        assert.ok(isAsteriskBanError(err, 'E_CONFIG'));
        assert.match(err.message, c.match);
        assert.match(err.describe(), /^\/etc\/asterisk-ban\/jail\.local:12: /);
        if (c.secret) assert.ok(!err.describe().includes(c.secret), err.describe());
        return true;
      },
    );
  });
}

test('digest and whois_timeout take fail2ban durations', () => {
  const o = parseMailOptions(invocation('sendmail', { digest: '5m', whois_timeout: '0.5' }), deps(), whoisVariant);
  assert.equal(o.digestMs, 300_000);
  assert.equal(o.whoisTimeoutMs, 500);
});
