/**
 * Mail action under a botnet-sized burst: what ban() costs on the ban path,
 * how many mails a burst becomes, and how long the first mail and a full
 * digest take to reach a real SMTP server on loopback.
 *   node --import tsx test/bench/mail.ts
 * The test SMTP server (smtp-server) holds its greeting for a fixed 100 ms to
 * catch early talkers; end-to-end rows include that delay.
 */
import { performance } from 'node:perf_hooks';
import { mailActions } from '../../src/actions/mail/index.js';
import { createMailAction, type MailAction } from '../../src/actions/mail/action.js';
import type { MailSender } from '../../src/actions/mail/transport.js';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { ban, deps, invocation, nthAddress } from '../actions/mail/support.js';

const rows: string[][] = [];
const row = (what: string, measured: string, target: string, ok: boolean): void => {
  rows.push([what, measured, target, ok ? 'met' : 'NOT met']);
};

async function hotPath(n: number): Promise<{ us: number; mails: number; composeMs: number }> {
  const bans = Array.from({ length: n }, (_, i) => ban(nthAddress(i)));
  let mails = 0;
  const sender: MailSender = { describe: 'null', async send() { mails++; }, close() {} };
  const d = deps();
  const a = createMailAction(invocation('sendmail', {}), d, { whois: false, lines: false }, { sender, maxPending: n });
  await a.start();
  const t0 = performance.now();
  for (const b of bans) await a.ban([b], { restored: false });
  const us = ((performance.now() - t0) * 1000) / n;
  await a.settled();
  const t1 = performance.now();
  while (a.stats().pending > 0) {
    d.clock.advance(60_000);
    await a.settled();
  }
  const composeMs = performance.now() - t1;
  await a.stop();
  return { us, mails, composeMs };
}

await hotPath(20_000); // warm-up: JIT and module loading
const hot = await hotPath(100_000);
row('ban() cost, 100k bans one by one (no I/O)', `${hot.us.toFixed(2)} µs/ban`, '< 5 µs/ban', hot.us < 5);
row('mails for a 100k burst (digest 60 s, ≤1000 bans/mail)', `${hot.mails}`, '1 + 100 = 101', hot.mails === 101);
row('compose the 99,999 bans into digests', `${hot.composeMs.toFixed(0)} ms`, '< 2000 ms', hot.composeMs < 2000);

{
  let handedAt = 0;
  const sender: MailSender = { describe: 'null', async send() { handedAt = performance.now(); }, close() {} };
  const a = createMailAction(invocation('sendmail', {}), deps(), { whois: false, lines: false }, { sender });
  const t0 = performance.now();
  await a.ban([ban('192.0.2.1')], { restored: false });
  await a.settled();
  const ms = handedAt - t0;
  row('first ban to transport (queue + compose)', `${ms.toFixed(2)} ms`, '< 5 ms', ms < 5);
  await a.stop();
}

{
  const s = await startSmtpServer();
  const d = deps({ SMTP_URL: `smtp://127.0.0.1:${s.port}` });
  const a = mailActions.sendmail!.factory(invocation('sendmail', { dest: 'root@example.org' }), d) as MailAction;
  await a.start();
  const t0 = performance.now();
  await a.ban([ban('192.0.2.1')], { restored: false });
  await a.settled();
  await s.waitFor(1);
  const first = performance.now() - t0;
  row('first ban to mail accepted (SMTP on loopback, incl. 100 ms greeting)', `${first.toFixed(0)} ms`, '< 250 ms', first < 250);
  for (let i = 0; i < 1000; i++) await a.ban([ban(nthAddress(i))], { restored: false });
  const t1 = performance.now();
  d.clock.advance(60_000);
  await a.settled();
  await s.waitFor(2);
  const digest = performance.now() - t1;
  const kib = (s.received[1]!.raw.length / 1024).toFixed(0);
  row('1000-ban digest composed + accepted (incl. 100 ms greeting)', `${digest.toFixed(0)} ms, ${kib} KiB`, '< 500 ms', digest < 500);
  await a.stop();
  await s.close();
}

const heads = ['case', 'measured', 'target', 'result'];
const w = heads.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join(' | ');
console.log(line(heads));
console.log(w.map((x) => '-'.repeat(x)).join('-|-'));
for (const r of rows) console.log(line(r));
