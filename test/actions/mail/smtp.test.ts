import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mailActions } from '../../../src/actions/mail/index.js';
import type { MailAction } from '../../../src/actions/mail/action.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { startFakeWhois } from '../../helpers/fake-whois.js';
import { ban, decodeBody, deps, failure, invocation, nthAddress, splitMessage } from './support.js';

const whois = await startFakeWhois();
const hangingWhois = await startFakeWhois({ hang: true });
after(async () => {
  await whois.close();
  await hangingWhois.close();
});

type Deps = ReturnType<typeof deps>;

function action(name: string, params: Record<string, string>, env: Record<string, string>): { a: MailAction; d: Deps } {
  const d = deps(env);
  const a = mailActions[name]!.factory(invocation(name, params), d) as MailAction;
  return { a, d };
}

const seed = { name: 'ASTERISK', dest: 'root@example.org', sender: 'fail2ban@example.org' };
const whoisParams = (w = whois) => ({ whois_server: '127.0.0.1', whois_port: String(w.port) });

async function withServer<T>(fn: (s: TestSmtpServer) => Promise<T>, opts: Parameters<typeof startSmtpServer>[0] = {}): Promise<T> {
  const s = await startSmtpServer(opts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

test('a ban sends one mail with the address, the jail and the whois text', () =>
  withServer(async (s) => {
    const { a } = action('sendmail-whois', { ...seed, ...whoisParams() }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    await a.ban([ban('203.0.113.5')], { restored: false });
    await a.settled();
    await s.waitFor(1);
    assert.equal(s.received.length, 1);
    const m = s.received[0]!;
    assert.equal(m.from, 'fail2ban@example.org');
    assert.deepEqual(m.to, ['root@example.org']);
    const { headers } = splitMessage(m.raw);
    assert.match(headers, /^Subject: \[asterisk-ban\] ASTERISK: banned 203\.0\.113\.5$/m);
    assert.match(headers, /^Auto-Submitted: auto-generated$/m);
    const body = decodeBody(m.raw);
    assert.match(body, /address: +203\.0\.113\.5/);
    assert.match(body, /jail: +asterisk-iptables/);
    assert.match(body, /netname: TEST-NET-203\.0\.113\.5/);
    assert.ok(whois.queries.includes('203.0.113.5'));
    await a.stop();
    assert.equal(s.received.length, 1, 'stop() with nothing pending sends nothing');
  }));

test('an IPv6 prefix ban is mailed as the prefix, whois asked about its first address', () =>
  withServer(async (s) => {
    const { a } = action('sendmail-whois', { ...seed, ...whoisParams() }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    await a.ban([{ ...ban('2001:db8:1:2::/64'), family: 6 }], { restored: false });
    await a.settled();
    await s.waitFor(1);
    const m = s.received[0]!;
    assert.match(splitMessage(m.raw).headers, /^Subject: \[asterisk-ban\] ASTERISK: banned 2001:db8:1:2::\/64$/m);
    assert.match(decodeBody(m.raw), /address: +2001:db8:1:2::\/64/);
    assert.ok(whois.queries.includes('2001:db8:1:2::'), whois.queries.join(' '));
    await a.stop();
  }));

test('restored bans and unbans send nothing', () =>
  withServer(async (s) => {
    const { a } = action('sendmail', seed, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    await a.ban([ban('203.0.113.6'), ban('203.0.113.7')], { restored: true });
    await a.unban([ban('203.0.113.8')]);
    await a.settled();
    await a.stop();
    assert.equal(s.received.length, 0);
    assert.equal(a.stats().sent, 0);
  }));

test('500 bans in a burst arrive as a handful of digest mails holding all 500 addresses', () =>
  withServer(async (s) => {
    const { a, d } = action('sendmail-whois', { ...seed, ...whoisParams() }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    for (let i = 0; i < 500; i++) await a.ban([ban(nthAddress(i))], { restored: false });
    await a.settled();
    d.clock.advance(60_000);
    await a.settled();
    await s.waitFor(2);
    assert.ok(s.received.length <= 5, `${s.received.length} mails`);
    const seen = new Set(s.received.flatMap((m) => [...decodeBody(m.raw).matchAll(/\b10\.\d+\.\d+\.\d+\b/g)].map((x) => x[0])));
    for (let i = 0; i < 500; i++) assert.ok(seen.has(nthAddress(i)), nthAddress(i));
    assert.ok(whois.queries.length <= 10, 'whois is bounded per digest, not one query per ban');
    await a.stop();
  }));

test('SMTP server down: the mail is re-queued and delivered once the server is up', async () => {
  const probe = await startSmtpServer();
  const port = probe.port;
  await probe.close();
  const { a, d } = action('sendmail', seed, { SMTP_URL: `smtp://127.0.0.1:${port}` });
  await a.start();
  await a.ban([ban('198.51.100.20')], { restored: false });
  await a.settled();
  assert.equal(a.stats().queued, 1);
  assert.ok(a.stats().failedAttempts >= 1);
  assert.ok(d.lines.some((l) => /mail not delivered/.test(l) && /ECONNREFUSED/.test(l)));
  await withServer(
    async (s) => {
      d.clock.advance(60_000);
      await a.settled();
      await s.waitFor(1);
      assert.match(decodeBody(s.received[0]!.raw), /198\.51\.100\.20/);
      assert.equal(a.stats().queued, 0);
      await a.stop();
    },
    { port },
  );
});

test('stop() flushes bans still waiting for their digest', () =>
  withServer(async (s) => {
    const { a } = action('sendmail', seed, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    await a.ban([ban('192.0.2.1')], { restored: false });
    await a.settled();
    await a.ban([ban('192.0.2.2'), ban('192.0.2.3')], { restored: false });
    await a.settled();
    assert.equal(s.received.length, 1);
    await a.stop();
    await s.waitFor(2);
    const body = decodeBody(s.received[1]!.raw);
    assert.match(body, /192\.0\.2\.2/);
    assert.match(body, /192\.0\.2\.3/);
  }));

test('notify_start mails jail start and stop', () =>
  withServer(async (s) => {
    const { a } = action('sendmail', { ...seed, notify_start: 'true' }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    await a.settled();
    await a.stop();
    await s.waitFor(2);
    assert.deepEqual(
      s.received.map((m) => /^Subject: (.*)$/m.exec(splitMessage(m.raw).headers)?.[1]),
      ['[asterisk-ban] ASTERISK: jail started', '[asterisk-ban] ASTERISK: jail stopped'],
    );
  }));

test('attacker text with CR/LF in account, reason and raw lines never breaks the headers', () =>
  withServer(async (s) => {
    const { a } = action('sendmail-whois-lines', { ...seed, whois: 'false' }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    const evil = ban('198.51.100.66', {
      reason: 'InvalidPassword\r\nBcc: victim1@example.com',
      failures: [
        failure('198.51.100.66', { account: '100\r\nBcc: victim2@example.com\r\n\r\nfake body', raw: 'x\nSubject: pwned\r\nTo: victim3@example.com' }),
      ],
    });
    await a.ban([evil], { restored: false });
    await a.settled();
    await s.waitFor(1);
    const m = s.received[0]!;
    assert.deepEqual(m.to, ['root@example.org']);
    const { headers } = splitMessage(m.raw);
    assert.doesNotMatch(headers, /victim|pwned|^Bcc:/im);
    assert.equal((headers.match(/^Subject:/gim) ?? []).length, 1);
    assert.equal((headers.match(/^To:/gim) ?? []).length, 1);
    const body = decodeBody(m.raw);
    assert.match(body, /Bcc: victim2@example\.com\\x0d\\x0a\\x0d\\x0afake body/);
    for (const line of body.split(/\r?\n/)) assert.doesNotMatch(line, /^(Bcc|Subject|To):/i, line);
    await a.stop();
  }));

test('the SMTP password from env is used for AUTH and never appears in a log line or error', async () => {
  const secret = 'Pa55:w/rd+s3cret';
  await withServer(
    async (s) => {
      const { a, d } = action('sendmail', { ...seed, transport: `smtp://mailer@127.0.0.1:${s.port}` }, { SMTP_PASSWORD: secret });
      await a.start();
      await a.ban([ban('192.0.2.50')], { restored: false });
      await a.settled();
      await s.waitFor(1);
      assert.deepEqual(s.auths, [{ user: 'mailer', pass: secret }]);
      assert.equal(s.received[0]!.user, 'mailer');
      await a.stop();
      assertNoSecret(d.lines, secret);
    },
    { auth: { user: 'mailer', pass: secret } },
  );
  // A server that refuses the password: the failure is logged, still without the secret.
  await withServer(
    async (s) => {
      const { a, d } = action('sendmail', { ...seed, transport: `smtp://mailer@127.0.0.1:${s.port}` }, { SMTP_PASSWORD: secret });
      await a.start();
      await a.ban([ban('192.0.2.51')], { restored: false });
      await a.settled();
      assert.equal(s.received.length, 0);
      assert.equal(s.auths[0]?.pass, secret);
      assert.ok(d.lines.some((l) => /mail not delivered/.test(l) && /EAUTH/.test(l)), d.lines.join('\n'));
      await a.stop();
      assertNoSecret(d.lines, secret);
    },
    { auth: { user: 'mailer', pass: 'something-else' } },
  );
});

function assertNoSecret(lines: string[], secret: string): void {
  assert.ok(lines.length > 0);
  const forms = [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64'), Buffer.from(`\u0000mailer\u0000${secret}`).toString('base64')];
  for (const l of lines) for (const f of forms) assert.ok(!l.includes(f), `secret in log: ${l}`);
}

test('whois that never answers: the mail still goes, without whois', () =>
  withServer(async (s) => {
    const { a } = action('sendmail-whois', { ...seed, ...whoisParams(hangingWhois), whois_timeout: '0.2' }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    await a.ban([ban('203.0.113.99')], { restored: false });
    await a.settled();
    await s.waitFor(1);
    const body = decodeBody(s.received[0]!.raw);
    assert.match(body, /address: +203\.0\.113\.99/);
    assert.match(body, /Whois for 203\.0\.113\.99:\n {2}\(not available: no answer from 127\.0\.0\.1:\d+ within 200 ms\)/);
    await a.stop();
  }));

test('notify_unban=true mails lifted bans; the action can start again after stop()', () =>
  withServer(async (s) => {
    const { a } = action('sendmail', { ...seed, notify_unban: 'yes' }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    await a.unban([ban('192.0.2.77')]);
    await a.settled();
    await a.stop();
    await a.ban([ban('192.0.2.78')], { restored: false });
    await a.settled();
    assert.equal(s.received.length, 1, 'a stopped action mails nothing');
    await a.start();
    await a.ban([ban('192.0.2.79')], { restored: false });
    await a.settled();
    await s.waitFor(2);
    assert.match(splitMessage(s.received[0]!.raw).headers, /^Subject: \[asterisk-ban\] ASTERISK: unbanned 192\.0\.2\.77$/m);
    assert.match(splitMessage(s.received[1]!.raw).headers, /^Subject: \[asterisk-ban\] ASTERISK: banned 192\.0\.2\.79$/m);
    await a.stop();
  }));

test('smtps: a self-signed certificate is refused unless tls_verify=no', () =>
  withServer(
    async (s) => {
      const strict = action('sendmail', { ...seed, transport: `smtps://127.0.0.1:${s.port}` }, {});
      await strict.a.ban([ban('192.0.2.90')], { restored: false });
      await strict.a.settled();
      assert.equal(s.received.length, 0);
      assert.ok(strict.d.lines.some((l) => /mail not delivered/.test(l) && /certificate/i.test(l)), strict.d.lines.join('\n'));
      await strict.a.stop();
      const lax = action('sendmail', { ...seed, transport: `smtps://127.0.0.1:${s.port}?tls_verify=no` }, {});
      await lax.a.ban([ban('192.0.2.91')], { restored: false });
      await lax.a.settled();
      await s.waitFor(1);
      assert.match(decodeBody(s.received[0]!.raw), /192\.0\.2\.91/);
      await lax.a.stop();
    },
    { secure: true },
  ));

test('starttls=required refuses a server that offers no STARTTLS', () =>
  withServer(async (s) => {
    const { a, d } = action('sendmail', { ...seed, transport: `smtp://127.0.0.1:${s.port}?starttls=required` }, {});
    await a.ban([ban('192.0.2.92')], { restored: false });
    await a.settled();
    assert.equal(s.received.length, 0);
    assert.ok(d.lines.some((l) => /mail not delivered/.test(l) && /STARTTLS/i.test(l)), d.lines.join('\n'));
    await a.stop();
  }));

test('alerts are mailed through a real SMTP server; events = alerts mails no bans, events = bans no alerts', () =>
  withServer(async (s) => {
    const alert = {
      rule: 'compromise' as const, severity: 'high' as const, jail: 'asterisk', time: Date.UTC(2026, 10, 27, 12, 0, 0),
      summary: 'account "6001" logged in from 203.0.113.5 after 37 failure(s) from that address in the last 10m',
      address: '203.0.113.5', account: '6001', facts: [['failures', '37']] as [string, string][],
    };
    const { a } = action('sendmail', { ...seed, events: 'alerts' }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` });
    await a.start();
    await a.ban([ban('198.51.100.9')], { restored: false });
    await a.alert!([alert]);
    await a.settled();
    await s.waitFor(1);
    assert.equal(s.received.length, 1);
    assert.match(splitMessage(s.received[0]!.raw).headers, /^Subject: \[asterisk-ban\] ASTERISK: ALERT compromise 203\.0\.113\.5$/m);
    assert.match(decodeBody(s.received[0]!.raw), /HIGH compromise .*account "6001" logged in from 203\.0\.113\.5 after 37/);
    await a.stop();
    const b = action('sendmail', { ...seed, events: 'bans' }, { SMTP_URL: `smtp://127.0.0.1:${s.port}` }).a;
    await b.start();
    await b.alert!([alert]);
    await b.settled();
    await b.stop();
    assert.equal(s.received.length, 1);
  }));
