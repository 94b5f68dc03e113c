import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkFrame, mapFrame, mapOptions, parseEventTime, parseRemoteAddress, scanFrame } from '../../../src/filter/ami-event.js';
import { parseFrame } from '../../../src/sources/ami/framing.js';
import { CHALLENGE_REASON } from '../../../src/sources/ami/challenges.js';
import { ManualClock } from '../../../src/core/clock.js';
import { fixture } from '../../helpers/paths.js';
import { recordedEvents, securityEvent } from '../../helpers/fake-ami-server.js';
import { ALL_FAILURE_EVENTS, countBy, interpret } from './util.js';

const VICTIMS = ['10.99.99.99', '2001:db8:dead::99'];
const rec = (name: string) => fixture('ami', `asterisk-20.20.1-${name}.txt`);

/** Independent oracle: how many frames of each event type the recording holds. */
function eventLines(file: string, names: string[]): Record<string, number> {
  const text = readFileSync(file, 'utf8');
  const out: Record<string, number> = {};
  for (const n of names) out[n] = text.split(`\r\n\r\nEvent: ${n}\r\nPrivilege: security,all\r\n`).length - 1;
  return out;
}

describe('parseRemoteAddress', () => {
  const table: Array<[string, string | null]> = [
    ['IPV4/UDP/203.0.113.5/5060', '203.0.113.5'],
    ['IPV6/UDP/2001:db8::1/5060', '2001:db8::1'],
    ['IPV4/203.0.113.5/5060', '203.0.113.5'],
    ['IPV6/TLS/2001:DB8:0:0::1/5061', '2001:db8::1'],
    ['IPV4/TCP/127.0.0.1/5038', '127.0.0.1'],
    ['IPV4/WSS/198.51.100.2/8089', '198.51.100.2'],
    ['IPV6/UDP/::ffff:192.0.2.9/5060', '192.0.2.9'],
    ['IPV6/UDP/::1/50567', '::1'],
    ['IPV4/UDP/10.99.99.99', null],
    ['IPV6/UDP/2001:db8:de', null],
    ['IPV6/UDP/[2001:db8::1]:5060', null],
    ['IPV4/UDP/2001:db8::1/5060', null],
    ['IPV6/UDP/fe80::1%eth0/5060', null],
    ['203.0.113.5:5060', null],
    ['IPV4/UDP/203.0.113.5/port', null],
    ['IPV4/UDP/203.0.113.5/5060/x', null],
    ['', null],
  ];
  for (const [input, want] of table) {
    it(`${JSON.stringify(input)} -> ${want}`, () => assert.equal(parseRemoteAddress(input)?.text ?? null, want));
  }
});

describe('parseEventTime', () => {
  const table: Array<[string | undefined, number | null]> = [
    ['2026-11-27T10:00:00.123+0000', Date.UTC(2026, 10, 27, 10, 0, 0, 123)],
    ['2026-11-27T11:00:00.123+0100', Date.UTC(2026, 10, 27, 10, 0, 0, 123)],
    ['2026-11-27T05:00:00.5-05:00', Date.UTC(2026, 10, 27, 10, 0, 0, 500)],
    ['2026-11-27T10:00:00+0000', Date.UTC(2026, 10, 27, 10, 0, 0)],
    ['2026-11-27 10:00:00', null],
    ['yesterday', null],
    [undefined, null],
  ];
  for (const [input, want] of table) it(`${input}`, () => assert.equal(parseEventTime(input), want));
});

describe('mapFrame', () => {
  const opts = mapOptions(['InvalidPassword', 'InvalidAccountID'], []);
  it('maps a whole event to a Failure with the event time, service and an escaped account', () => {
    const text = securityEvent({ ip: '203.0.113.5', account: 'bob\tx', time: '2026-11-27T10:00:00.250+0000' }).trimEnd();
    const r = mapFrame(parseFrame(text), opts, 1);
    assert.equal(r.kind, 'failure');
    if (r.kind !== 'failure') return;
    assert.deepEqual(
      { ip: r.failure.ip, family: r.failure.family, time: r.failure.time, source: r.failure.source, service: r.failure.service, account: r.failure.account, reason: r.failure.reason },
      { ip: '203.0.113.5', family: 4, time: Date.UTC(2026, 10, 27, 10, 0, 0, 250), source: 'ami', service: 'SIP', account: 'bob\\x09x', reason: 'InvalidPassword' },
    );
  });
  it('falls back to the clock when EventTV is missing or bad', () => {
    const text = securityEvent({ ip: '2001:db8::1', time: 'garbage' }).trimEnd();
    const r = mapFrame(parseFrame(text), opts, 42);
    assert.ok(r.kind === 'failure' && r.failure.time === 42 && r.failure.family === 6);
  });
  it('ignores events not configured and services not taken', () => {
    assert.equal(mapFrame(parseFrame(securityEvent({ ip: '203.0.113.5', event: 'FailedACL' }).trimEnd()), opts, 0).kind, 'ignored');
    const onlyPjsip = mapOptions(['InvalidPassword'], ['pjsip']);
    assert.equal(mapFrame(parseFrame(securityEvent({ ip: '203.0.113.5', service: 'SIP' }).trimEnd()), onlyPjsip, 0).kind, 'ignored');
    assert.equal(mapFrame(parseFrame(securityEvent({ ip: '203.0.113.5', service: 'PJSIP' }).trimEnd()), onlyPjsip, 0).kind, 'failure');
  });
  it('reports a malformed address instead of guessing', () => {
    const text = securityEvent({ ip: '203.0.113.5' }).replace('IPV4/UDP/203.0.113.5/5060', 'IPV4/UDP/not-an-ip/5060').trimEnd();
    assert.equal(mapFrame(parseFrame(text), opts, 0).kind, 'malformed');
  });
  it('checkFrame: whole needs each security header exactly once and Privilege security,all', () => {
    const good = securityEvent({ ip: '203.0.113.5' }).trimEnd();
    assert.equal(checkFrame(parseFrame(good)).whole, true);
    assert.equal(checkFrame(parseFrame(good.replace('security,all', 'system,all'))).whole, false);
    assert.equal(checkFrame(parseFrame(good.replace('\r\nSeverity: Error', ''))).whole, false);
    const dup = checkFrame(parseFrame(good.replace('SessionID:', 'RemoteAddress: IPV4/UDP/10.99.99.99/5060\r\nSessionID:')));
    assert.equal(dup.whole, false);
    assert.equal(dup.tampered, true);
    assert.equal(dup.remote, 'IPV4/UDP/203.0.113.5/5060');
  });
});

describe('scanFrame (hot path) agrees with checkFrame', () => {
  for (const name of ['read-security', 'read-all', 'adversarial']) {
    it(name, () => {
      const frames = readFileSync(rec(name), 'utf8').split('\r\n\r\n').filter((f) => f.length > 0);
      assert.ok(frames.length > 80);
      for (const f of frames) assert.deepEqual(scanFrame(f), checkFrame(parseFrame(f)), f.slice(0, 200));
    });
  }
});

describe('recordings', () => {
  for (const name of ['read-security', 'read-all']) {
    it(`${name}: one failure per failure event, per type as in the recording`, () => {
      const { failures, interpreter } = interpret(readFileSync(rec(name), 'utf8'), { events: ALL_FAILURE_EVENTS });
      assert.deepEqual(countBy(failures, (f) => f.reason), eventLines(rec(name), ALL_FAILURE_EVENTS));
      assert.equal(interpreter.counts.tampered, 0);
      assert.equal(interpreter.counts.dropped, 0);
      assert.deepEqual(new Set(failures.map((f) => f.ip)), new Set(['127.0.0.1', '::1', '198.51.100.2', '2001:db8:51::2']));
    });
  }
  it('read-security: default events only; SuccessfulAuth clears (5 whole frames)', () => {
    const { failures, successes } = interpret(recordedEvents(rec('read-security')));
    assert.deepEqual(countBy(failures, (f) => f.reason), eventLines(rec('read-security'), ['InvalidAccountID', 'InvalidPassword', 'ChallengeResponseFailed', 'FailedACL']));
    assert.equal(successes.length, 5);
  });
  it('read-all: non-security events (PeerStatus, ContactStatus...) are ignored, not dropped', () => {
    const { interpreter, successes } = interpret(readFileSync(rec('read-all'), 'utf8'));
    assert.equal(interpreter.counts.dropped, 0);
    assert.equal(successes.length, 6);
  });
  it('successClears = false reports no success', () => {
    assert.equal(interpret(readFileSync(rec('read-security'), 'utf8'), { successClears: false }).successes.length, 0);
  });
});

describe('adversarial recording', () => {
  const run = () => interpret(readFileSync(rec('adversarial'), 'utf8'), { events: ALL_FAILURE_EVENTS });
  it('never names a victim address', () => {
    const { failures, successes } = run();
    for (const f of failures) assert.ok(!VICTIMS.includes(f.ip), `failure for victim ${f.ip}`);
    for (const ip of successes) assert.ok(!VICTIMS.includes(ip));
    assert.ok(failures.every((f) => !f.raw?.includes('99.99')));
  });
  it('counts every failure event for its real source, split ones rejoined', () => {
    const { failures, interpreter } = run();
    // 57 InvalidAccountID, 26 ChallengeResponseFailed, 11 InvalidPassword (one of them split
    // in two by an injected blank line), 5 FailedACL, 1 RequestNotAllowed; 4 "Event: Fake" tails.
    assert.deepEqual(countBy(failures, (f) => f.reason), { InvalidAccountID: 57, ChallengeResponseFailed: 26, InvalidPassword: 11, FailedACL: 5, RequestNotAllowed: 1 });
    assert.deepEqual(new Set(failures.map((f) => f.ip)), new Set(['127.0.0.1', '::1', '198.51.100.2', '2001:db8:51::2']));
    assert.ok(interpreter.counts.tampered >= 20, `tampered ${interpreter.counts.tampered}`);
    assert.equal(interpreter.counts.dropped, 0);
  });
  it('trusts only the whole SuccessfulAuth frames', () => {
    assert.deepEqual(run().successes, ['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });
  it('logs tampering once per source, escaped', () => {
    const { lines } = run();
    const tamper = lines.filter((l) => l.includes('tampered'));
    assert.ok(tamper.length >= 1 && tamper.length <= 4, `${tamper.length} tamper lines`);
    for (const l of tamper) assert.ok(!l.includes('10.99.99.99') && !/[\r]/.test(l));
  });
});

describe('forged frames', () => {
  const real = '203.0.113.7';
  const head = (event: string, account: string) =>
    `Event: ${event}\r\nPrivilege: security,all\r\nEventTV: 2026-11-27T10:00:00.000+0000\r\nSeverity: Error\r\nService: SIP\r\nEventVersion: 1\r\nAccountID: ${account}`;
  const tail = `SessionID: 0x1\r\nLocalAddress: IPV4/UDP/192.0.2.1/5060\r\nRemoteAddress: IPV4/UDP/${real}/5060\r\n\r\n`;
  const fakeWhole = securityEvent({ ip: '10.99.99.99', account: 'z' });
  const table: Array<{ name: string; text: string; failures: string[]; successes?: string[] }> = [
    { name: 'duplicated RemoteAddress, victim first', text: `${head('InvalidPassword', 'x')}\r\nRemoteAddress: IPV4/UDP/10.99.99.99/5060\r\n${tail}`, failures: [real] },
    { name: 'bare LF then RemoteAddress inside AccountID', text: `${head('InvalidPassword', 'x\nRemoteAddress: IPV4/UDP/10.99.99.99/5060')}\r\n${tail}`, failures: [real] },
    { name: 'bare CR then RemoteAddress inside AccountID', text: `${head('InvalidPassword', 'x\rRemoteAddress: IPV4/UDP/10.99.99.99/5060')}\r\n${tail}`, failures: [real] },
    { name: 'split by a blank line, tail named Fake', text: `${head('InvalidPassword', 'x')}\r\n\r\nEvent: Fake\r\n${tail}`, failures: [real] },
    {
      name: 'split, tail named SuccessfulAuth does not clear',
      text: `${head('InvalidPassword', 'x')}\r\n\r\nEvent: SuccessfulAuth\r\n${tail}`,
      failures: [real],
      successes: [],
    },
    { name: 'split SuccessfulAuth head is not trusted', text: `${head('SuccessfulAuth', 'x')}\r\n\r\nEvent: Fake\r\n${tail}`, failures: [], successes: [] },
    { name: 'a whole fake frame injected between head and tail', text: `${head('InvalidPassword', 'x')}\r\n\r\n${fakeWhole}Event: Fake\r\n${tail}`, failures: [real] },
    { name: 'a header-only frame with nothing before it', text: `Event: InvalidPassword\r\nRemoteAddress: IPV4/UDP/10.99.99.99/5060\r\n\r\n`, failures: [] },
    { name: 'victim in AccountID and SessionID text', text: securityEvent({ ip: real, account: "failed for '10.99.99.99'", session: 'IPV4/UDP/10.99.99.99/5060' }), failures: [real] },
    {
      name: 'SuccessfulAuth with a repeated RemoteAddress is not trusted',
      text: `${head('SuccessfulAuth', 'x')}\r\nRemoteAddress: IPV4/UDP/10.99.99.99/5060\r\n${tail}`,
      failures: [],
      successes: [],
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      const after = securityEvent({ ip: '198.51.100.77' });
      const { failures, successes } = interpret(c.text + after);
      assert.deepEqual(failures.map((f) => f.ip), [...c.failures, '198.51.100.77']);
      if (c.successes) assert.deepEqual(successes, c.successes);
    });
  }
});

describe('unanswered challenges', () => {
  const challenge = (ip: string) => securityEvent({ ip, event: 'ChallengeSent' });
  it('are off by default', () => {
    const clock = new ManualClock();
    const c = interpret(challenge('203.0.113.9'), {}, clock);
    clock.advance(3_600_000);
    assert.equal(c.failures.length, 0);
  });
  it('count once the window passes without SuccessfulAuth or a failure', () => {
    const clock = new ManualClock();
    const c = interpret(challenge('203.0.113.9') + challenge('203.0.113.9') + challenge('203.0.113.10') + securityEvent({ ip: '203.0.113.10', event: 'SuccessfulAuth' }) + challenge('203.0.113.11') + securityEvent({ ip: '203.0.113.11' }), { challengeWindow: 5 }, clock);
    assert.deepEqual(c.failures.map((f) => f.ip), ['203.0.113.11']);
    clock.advance(4_999);
    assert.equal(c.failures.length, 1);
    clock.advance(1);
    assert.deepEqual(c.failures.slice(1).map((f) => `${f.ip} ${f.reason}`), [`203.0.113.9 ${CHALLENGE_REASON}`, `203.0.113.9 ${CHALLENGE_REASON}`]);
  });
});

describe('an injected blank line before Asterisk\'s own headers', () => {
  it('a cut frame carrying a RemoteAddress of the attacker\'s waits for the tail; the tail names who is counted', () => {
    // AccountID and SessionID (a SIP user name and Call-ID) are attacker-written.
    const account = 'x\r\nRemoteAddress: IPV4/UDP/10.99.99.98/5060';
    const session = 'y\r\n\r\nEvent: InvalidPassword';
    const { failures } = interpret(securityEvent({ ip: '203.0.113.77', account, session }) + securityEvent({ ip: '203.0.113.9' }));
    const ips = failures.map((f) => f.ip);
    assert.ok(!ips.includes('10.99.99.98'), `a victim was counted: ${ips.join(' ')}`);
    assert.ok(ips.includes('203.0.113.9'), 'the next event still counts');
  });

  it('a forged end that makes the frame look whole is undone by the real tail in the same read', () => {
    const account = 'x\r\nSessionID: s\r\nLocalAddress: IPV4/UDP/192.0.2.1/5060\r\nRemoteAddress: IPV4/UDP/10.99.99.97/5060\r\n';
    const { failures, interpreter } = interpret(securityEvent({ ip: '203.0.113.78', account }) + securityEvent({ ip: '203.0.113.9' }));
    assert.deepEqual(failures.map((f) => f.ip), ['203.0.113.78', '203.0.113.9']);
    assert.equal(interpreter.counts.tampered, 1);
  });

  it('a whole event at the end of a read counts at once, with no wait for more', () => {
    const { failures } = interpret(securityEvent({ ip: '203.0.113.79' }));
    assert.deepEqual(failures.map((f) => f.ip), ['203.0.113.79']);
  });

  it('two header-only pieces with addresses after injected blank lines: counted for no one', () => {
    const account = '\r\n\r\nRemoteAddress: IPV4/UDP/10.99.99.96/5060\r\n\r\n';
    const { failures, interpreter } = interpret(securityEvent({ ip: '203.0.113.80', account }) + securityEvent({ ip: '203.0.113.9' }));
    assert.deepEqual(failures.map((f) => f.ip), ['203.0.113.9']);
    assert.ok(interpreter.counts.tampered >= 1);
  });

  it('a forged end with a repeated RemoteAddress is undone by the real tail too', () => {
    const account = 'x\r\nSessionID: s\r\nLocalAddress: IPV4/UDP/192.0.2.1/5060\r\nRemoteAddress: IPV4/UDP/10.99.99.95/5060\r\nRemoteAddress: IPV4/UDP/10.99.99.94/5060\r\n';
    const { failures } = interpret(securityEvent({ ip: '203.0.113.81', account }) + securityEvent({ ip: '203.0.113.9' }));
    assert.deepEqual(failures.map((f) => f.ip), ['203.0.113.81', '203.0.113.9']);
  });
});
