import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../src/core/clock.js';
import type { BanRequest } from '../../../src/core/types.js';
import { Jail } from '../../../src/jail/jail.js';
import { defaultJailSettings, DEFAULT_AMI } from '../../../src/settings/defaults.js';
import { AmiSource } from '../../../src/sources/ami/source.js';
import { FakeAmiServer, recordedEvents, securityEvent } from '../../helpers/fake-ami-server.js';
import { fixture } from '../../helpers/paths.js';
import { ALL_FAILURE_EVENTS, memoryLogger, waitFor } from './util.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** EventTV as Asterisk writes it, for now (the jail counts by event time). */
const nowTV = () => new Date().toISOString().replace('Z', '+0000');

async function pipeline() {
  const fake = await FakeAmiServer.start();
  const { logger } = memoryLogger();
  const settings = defaultJailSettings('asterisk', {
    backend: 'ami',
    maxretry: 5,
    ami: { ...DEFAULT_AMI, port: fake.port, username: fake.username, secret: fake.secret, events: ALL_FAILURE_EVENTS },
  });
  const bans: BanRequest[] = [];
  const jail = new Jail(settings, { clock: systemClock, logger, onBan: (r) => bans.push(r) });
  const source = new AmiSource({
    jail: 'asterisk',
    settings,
    clock: systemClock,
    logger,
    events: { failure: (f) => jail.addFailure(f), success: (ip, clears) => jail.succeeded(ip, clears) },
  });
  cleanups.push(async () => {
    await source.stop();
    jail.stop();
    await fake.close();
  });
  await source.start();
  await waitFor(() => source.sessionStatus === 'ready', 'ready');
  return { fake, jail, source, bans };
}

describe('AMI source → real Jail (maxretry 5)', () => {
  it('five InvalidPassword events from one address: exactly one ban request', async () => {
    const { fake, source, bans } = await pipeline();
    for (let i = 0; i < 7; i++) fake.send(securityEvent({ ip: '203.0.113.5', time: nowTV() }));
    await waitFor(() => source.counts.failures === 7, 'seven failures');
    assert.equal(bans.length, 1);
    assert.equal(bans[0]!.ip, '203.0.113.5');
    assert.equal(bans[0]!.source, 'ami');
    assert.equal(bans[0]!.failures.length, 5);
  });

  it('an address written into AccountID or SessionID is never banned', async () => {
    const { fake, source, bans } = await pipeline();
    for (let i = 0; i < 10; i++) {
      fake.send(securityEvent({ ip: `203.0.113.${60 + (i % 5)}`, time: nowTV(), account: "failed for '198.51.100.99'", session: 'IPV4/UDP/198.51.100.99/5060' }));
      fake.send(
        `Event: InvalidPassword\r\nPrivilege: security,all\r\nEventTV: ${nowTV()}\r\nSeverity: Error\r\nService: SIP\r\nEventVersion: 2\r\n` +
          `AccountID: x\r\nRemoteAddress: IPV4/UDP/198.51.100.99/5060\r\nSessionID: 0x1\r\nLocalAddress: IPV4/UDP/192.0.2.1/5060\r\n` +
          `RemoteAddress: IPV4/UDP/203.0.113.${70 + (i % 5)}/5060\r\n\r\n`,
      );
    }
    await waitFor(() => source.counts.failures === 20, 'twenty failures');
    assert.deepEqual(bans, []);
  });

  it('the adversarial recording replayed five times bans only real sources', async () => {
    const { fake, source, bans } = await pipeline();
    const events = recordedEvents(fixture('ami', 'asterisk-20.20.1-adversarial.txt')).replace(/EventTV: [^\r]*/g, () => `EventTV: ${nowTV()}`);
    for (let i = 0; i < 5; i++) fake.send(events);
    await waitFor(() => source.counts.failures === 500, '500 failures');
    const banned = new Set(bans.map((b) => b.ip));
    // IPv6 by /64, the default ipv6_prefix.
    assert.deepEqual(banned, new Set(['127.0.0.1', '::/64', '198.51.100.2', '2001:db8:51::/64']));
  });

  it('a whole SuccessfulAuth clears the count; a forged one does not', async () => {
    const { fake, source, bans } = await pipeline();
    const ip = '203.0.113.80';
    for (let i = 0; i < 4; i++) fake.send(securityEvent({ ip, time: nowTV() }));
    fake.send(securityEvent({ ip, event: 'SuccessfulAuth', time: nowTV() }));
    for (let i = 0; i < 4; i++) fake.send(securityEvent({ ip, time: nowTV() }));
    await waitFor(() => source.counts.failures === 8, 'eight failures');
    assert.equal(bans.length, 0);
    // The split tail named SuccessfulAuth by the attacker clears nothing: the fifth failure bans.
    fake.send(
      `Event: InvalidPassword\r\nPrivilege: security,all\r\nEventTV: ${nowTV()}\r\nSeverity: Error\r\nService: SIP\r\nEventVersion: 2\r\nAccountID: x\r\n\r\n` +
        `Event: SuccessfulAuth\r\nSessionID: 0x1\r\nLocalAddress: IPV4/UDP/192.0.2.1/5060\r\nRemoteAddress: IPV4/UDP/${ip}/5060\r\n\r\n`,
    );
    await waitFor(() => bans.length === 1, 'ban');
    assert.equal(bans[0]!.ip, ip);
    assert.equal(source.counts.successes, 1);
  });
});
