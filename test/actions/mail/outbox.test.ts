import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../../../src/actions/notify/digest-queue.js';
import { composeDigest, type MailEntry } from '../../../src/actions/mail/compose.js';
import type { MailSender, OutgoingMail } from '../../../src/actions/mail/transport.js';
import { ManualClock } from '../../../src/core/clock.js';
import { AsteriskBanError } from '../../../src/core/errors.js';
import { ban, captureLogger, nthAddress } from './support.js';

/** A sender that records mails and can be switched down. */
function fakeSender(): MailSender & { sent: OutgoingMail[]; down: boolean; attempts: number; hang: boolean } {
  const s = {
    sent: [] as OutgoingMail[],
    down: false,
    hang: false,
    attempts: 0,
    describe: 'fake',
    async send(m: OutgoingMail) {
      s.attempts++;
      if (s.hang) await new Promise(() => {});
      if (s.down) throw new AsteriskBanError('E_ACTION', 'mail via fake failed: ECONNREFUSED');
      s.sent.push(m);
    },
    close() {},
  };
  return s;
}

function setup(over: { digestMs?: number; maxPending?: number; maxQueued?: number; maxPerMail?: number; maxAttempts?: number } = {}) {
  const clock = new ManualClock();
  const sender = fakeSender();
  const { logger, lines } = captureLogger();
  const composed: MailEntry[][] = [];
  const outbox = new Outbox<MailEntry, OutgoingMail>({
    clock,
    logger,
    sender,
    digestMs: over.digestMs ?? 60_000,
    maxPending: over.maxPending,
    maxQueued: over.maxQueued,
    maxPerMail: over.maxPerMail,
    maxAttempts: over.maxAttempts,
    random: () => 0,
    compose: async (entries) => {
      composed.push(entries);
      return composeDigest(entries, { name: 'J', host: 'h', lines: 0, whois: new Map() });
    },
  });
  return { clock, sender, outbox, lines, composed };
}

const entry = (i: number): MailEntry => ({ event: 'ban', ban: ban(nthAddress(i)) });
const addressesIn = (mails: OutgoingMail[]): Set<string> =>
  new Set(mails.flatMap((m) => [...m.text.matchAll(/\b10\.\d+\.\d+\.\d+\b/g)].map((x) => x[0])));

test('the first ban after a quiet period goes out at once; the rest of a burst waits for one digest', async () => {
  const { clock, sender, outbox } = setup();
  for (let i = 0; i < 500; i++) outbox.add([entry(i)]);
  await outbox.settled();
  assert.equal(sender.sent.length, 1);
  assert.match(sender.sent[0]!.subject, /banned 10\.0\.0\.0$/);
  clock.advance(59_999);
  await outbox.settled();
  assert.equal(sender.sent.length, 1);
  clock.advance(1);
  await outbox.settled();
  assert.equal(sender.sent.length, 2);
  assert.match(sender.sent[1]!.subject, /499 banned/);
  assert.equal(addressesIn(sender.sent).size, 500);
  // Quiet again: the next ban, a digest period later, is prompt.
  clock.advance(60_000);
  outbox.add([entry(1000)]);
  await outbox.settled();
  assert.equal(sender.sent.length, 3);
});

test('a digest holds at most maxPerMail bans; the rest follow in the next mails', async () => {
  const { clock, sender, outbox } = setup({ maxPerMail: 100, digestMs: 0 });
  outbox.add(Array.from({ length: 250 }, (_, i) => entry(i)));
  await outbox.settled();
  clock.advance(0);
  await outbox.settled();
  assert.deepEqual(sender.sent.map((m) => m.subject.replace(/.*: /, '')), ['100 banned', '100 banned', '50 banned']);
});

test('a failed mail is re-queued and retried with backoff; bans arriving meanwhile join one digest', async () => {
  const { clock, sender, outbox, lines } = setup();
  sender.down = true;
  outbox.add([entry(1)]);
  await outbox.settled();
  assert.equal(sender.attempts, 1);
  assert.deepEqual(outbox.stats(), { pending: 0, queued: 1, sent: 0, failedAttempts: 1, dropped: 0 });
  assert.ok(lines.some((l) => /mail not delivered, retrying in 5 s/.test(l)));
  for (let i = 2; i <= 40; i++) outbox.add([entry(i)]);
  clock.advance(5_000);
  await outbox.settled();
  assert.equal(sender.attempts, 2);
  clock.advance(9_999);
  await outbox.settled();
  assert.equal(sender.attempts, 2, 'second retry waits twice as long');
  sender.down = false;
  clock.advance(1);
  await outbox.settled();
  assert.equal(sender.sent.length, 1);
  clock.advance(60_000);
  await outbox.settled();
  assert.equal(sender.sent.length, 2);
  assert.match(sender.sent[1]!.subject, /39 banned/);
  assert.equal(addressesIn(sender.sent).size, 40);
});

test('with maxAttempts a message is dropped, counted and logged after that many failures; the next one is tried afresh', async () => {
  const { clock, sender, outbox, lines } = setup({ maxAttempts: 3, digestMs: 0 });
  sender.down = true;
  outbox.add([entry(1)]);
  await outbox.settled();
  clock.advance(5_000);
  await outbox.settled();
  assert.equal(outbox.stats().queued, 1);
  clock.advance(10_000);
  await outbox.settled();
  assert.equal(sender.attempts, 3);
  assert.deepEqual(outbox.stats(), { pending: 0, queued: 0, sent: 0, failedAttempts: 3, dropped: 1 });
  assert.ok(lines.some((l) => /mail: message dropped after 3 failed attempts/.test(l)));
  sender.down = false;
  outbox.add([entry(2)]);
  await outbox.settled();
  assert.equal(sender.sent.length, 1, 'no retry delay left over from the dropped message');
});

test('bounds: the oldest pending bans and the oldest queued mails are dropped, with a log line', async () => {
  const { sender, outbox, lines, clock } = setup({ maxPending: 10, maxQueued: 2, digestMs: 0 });
  sender.down = true;
  outbox.add([entry(0)]);
  await outbox.settled();
  outbox.add(Array.from({ length: 25 }, (_, i) => entry(100 + i)));
  assert.equal(outbox.stats().pending, 10);
  assert.equal(outbox.stats().dropped, 15);
  assert.ok(lines.some((l) => /mail backlog full: dropped 15 oldest/.test(l)));
  for (let i = 0; i < 3; i++) outbox.addMessage({ subject: `notice ${i}`, text: 'x' });
  assert.ok(lines.some((l) => /mail queue full: dropped the oldest undelivered message/.test(l)));
  await outbox.settled();
  assert.equal(outbox.stats().queued, 2);
  sender.down = false;
  clock.advance(3600_000);
  await outbox.settled();
  clock.advance(0);
  await outbox.settled();
  assert.deepEqual(sender.sent.map((m) => m.subject), ['notice 1', 'notice 2', '[asterisk-ban] J: 10 banned']);
  assert.equal(addressesIn(sender.sent.slice(2)).size, 10);
  assert.ok(addressesIn(sender.sent).has(nthAddress(124)) && !addressesIn(sender.sent).has(nthAddress(114)));
});

test('close() sends what is pending without waiting for the digest, then refuses more', async () => {
  const { sender, outbox } = setup();
  outbox.add([entry(0)]);
  await outbox.settled();
  outbox.add([entry(1), entry(2)]);
  const left = await outbox.close(5_000);
  assert.equal(sender.sent.length, 2);
  assert.equal(left.pending + left.queued, 0);
  outbox.add([entry(3)]);
  await outbox.settled();
  assert.equal(sender.sent.length, 2);
});

test('close() returns by its deadline when the mail server hangs, and reports what was lost', async () => {
  const { sender, outbox, lines } = setup();
  sender.hang = true;
  outbox.add([entry(0)]);
  outbox.add([entry(1)]);
  const left = await outbox.close(100);
  assert.deepEqual({ pending: left.pending, queued: left.queued }, { pending: 1, queued: 1 });
  assert.ok(lines.some((l) => /shutting down with undelivered notifications/.test(l)));
});

test('close() tries a failing server once, not in a loop', async () => {
  const { sender, outbox } = setup();
  sender.down = true;
  outbox.add([entry(0)]);
  await outbox.settled();
  const left = await outbox.close(5_000);
  assert.equal(sender.attempts, 2);
  assert.equal(left.queued, 1);
});

test('an urgent entry (a high alert) cuts a digest wait short, taking what was pending with it; a retry wait stays', async () => {
  const { clock, sender, outbox } = setup();
  outbox.add([entry(1)]);
  await outbox.settled();
  for (let i = 2; i <= 5; i++) outbox.add([entry(i)]);
  await outbox.settled();
  assert.equal(sender.sent.length, 1, 'the burst waits for its digest');
  outbox.add([entry(6)], true);
  await outbox.settled();
  assert.equal(sender.sent.length, 2);
  assert.match(sender.sent[1]!.subject, /5 banned/);
  sender.down = true;
  clock.advance(60_000);
  outbox.add([entry(7)]);
  await outbox.settled();
  assert.equal(sender.attempts, 3);
  outbox.add([entry(8)], true);
  await outbox.settled();
  assert.equal(sender.attempts, 3, 'no extra attempt while the retry backoff runs');
});
