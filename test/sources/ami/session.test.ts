import { after, describe, it } from 'node:test';
import { createServer, type AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { systemClock } from '../../../src/core/clock.js';
import type { Failure } from '../../../src/core/types.js';
import { defaultJailSettings, DEFAULT_AMI } from '../../../src/settings/defaults.js';
import type { AmiSettings } from '../../../src/settings/types.js';
import { AmiSource } from '../../../src/sources/ami/source.js';
import type { SessionStatus } from '../../../src/sources/ami/session.js';
import { FakeAmiServer, securityEvent, type FakeAmiOptions } from '../../helpers/fake-ami-server.js';
import { fixture } from '../../helpers/paths.js';
import { ALL_FAILURE_EVENTS, memoryLogger, waitFor } from './util.js';

const SECRET = 'very-secret-Xq7';
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setup(server: FakeAmiOptions = {}, ami: Partial<AmiSettings> = {}) {
  const fake = await FakeAmiServer.start({ secret: SECRET, ...server });
  const failures: Failure[] = [];
  const successes: string[] = [];
  const statuses: string[] = [];
  const { logger, lines } = memoryLogger();
  const settings = defaultJailSettings('asterisk', {
    backend: 'ami',
    ami: { ...DEFAULT_AMI, host: '127.0.0.1', port: fake.port, username: 'ban', secret: SECRET, events: ALL_FAILURE_EVENTS, pingInterval: 0.05, pingTimeout: 0.2, ...ami },
  });
  const source = new AmiSource({
    jail: 'asterisk',
    settings,
    clock: systemClock,
    logger,
    events: { failure: (f) => failures.push(f), success: (ip) => successes.push(ip) },
    onStatus: (next: SessionStatus, prev: SessionStatus) => statuses.push(`${prev}->${next}`),
    backoff: { baseMs: 10, maxMs: 100, jitter: 0.2 },
    connectTimeoutMs: 1_000,
  });
  cleanups.push(async () => {
    await source.stop();
    await fake.close();
  });
  await source.start();
  await waitFor(() => source.sessionStatus === 'ready', 'ready');
  return { fake, source, failures, successes, statuses, lines };
}

describe('AmiSource with no Asterisk listening', () => {
  it('says the refused connection at warning once, with the address, then retries quietly', async () => {
    // A port nobody listens on: take one, then let it go.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { logger, lines } = memoryLogger();
    const statuses: string[] = [];
    const settings = defaultJailSettings('asterisk', { backend: 'ami', ami: { ...DEFAULT_AMI, host: '127.0.0.1', port, username: 'ban', secret: SECRET } });
    const source = new AmiSource({
      jail: 'asterisk', settings, clock: systemClock, logger, events: { failure: () => {} },
      onStatus: (next: SessionStatus) => statuses.push(next),
      backoff: { baseMs: 5, maxMs: 20, jitter: 0.2 },
    });
    cleanups.push(() => source.stop());
    await source.start();
    const said = (): { level: string; message: string }[] =>
      lines.map((l) => JSON.parse(l) as { level: string; message: string }).filter((l) => l.message.includes(`AMI connection to 127.0.0.1:${port} failed`));
    await waitFor(() => said().length >= 5, 'five attempts');
    assert.deepEqual(statuses.slice(0, 2), ['connecting', 'reconnecting']);
    assert.equal(said().filter((l) => l.level === 'warn').length, 1, JSON.stringify(said()));
    assert.match(said()[0]!.message, /ECONNREFUSED.*retrying \(said once until AMI is back\)/);
    assert.ok(said().filter((l) => l.level === 'debug').length >= 4);
  });
});

describe('AmiSource against a fake Asterisk', () => {
  it('logs in, replays a recording and reports its failures and successes', async () => {
    const { fake, source, failures, successes, statuses } = await setup();
    assert.deepEqual(fake.loginAttempts, [{ username: 'ban', secret: SECRET }]);
    fake.replay(fixture('ami', 'asterisk-20.20.1-read-security.txt'));
    await waitFor(() => failures.length === 53, '53 failures');
    assert.equal(successes.length, 5);
    assert.equal(source.status()[0]!.state, 'ready');
    assert.equal(source.status()[0]!.detail, 'connected');
    assert.deepEqual(statuses, ['closed->connecting', 'connecting->ready']);
    await waitFor(() => fake.pings >= 2, 'pings');
  });

  function refusedSource(fake: FakeAmiServer, logger: ReturnType<typeof memoryLogger>['logger']): AmiSource {
    const source = new AmiSource({
      jail: 'asterisk',
      settings: defaultJailSettings('asterisk', { ami: { ...DEFAULT_AMI, port: fake.port, username: 'ban', secret: SECRET } }),
      clock: systemClock,
      logger,
      events: { failure: () => undefined },
      backoff: { baseMs: 10, maxMs: 150, jitter: 0 },
    });
    cleanups.push(async () => {
      await source.stop();
      await fake.close();
    });
    return source;
  }

  it('refused credentials: E_AMI_AUTH without the secret, retried at the longest delay', async () => {
    const { logger, lines } = memoryLogger();
    const fake = await FakeAmiServer.start({ secret: SECRET, refuseLogin: true });
    const source = refusedSource(fake, logger);
    await source.start();
    await waitFor(() => fake.loginAttempts.length >= 2, 'a retried login');
    const auth = lines.filter((l) => l.includes('E_AMI_AUTH'));
    assert.ok(auth.length >= 1);
    assert.match(auth[0]!, /refused: Authentication failed/);
    assert.ok(lines.every((l) => !l.includes(SECRET)), 'secret in a log line');
    assert.notEqual(source.sessionStatus, 'ready');
  });

  it('a refusal that echoes the secret is logged with the secret redacted', async () => {
    const { logger, lines } = memoryLogger();
    const fake = await FakeAmiServer.start({ secret: SECRET, refuseLogin: true, refusalMessage: `Authentication failed for ban with secret ${SECRET}` });
    const source = refusedSource(fake, logger);
    await source.start();
    await waitFor(() => lines.some((l) => l.includes('E_AMI_AUTH')), 'the refusal logged');
    assert.match(lines.find((l) => l.includes('E_AMI_AUTH'))!, /refused: Authentication failed for ban with secret \[redacted\]/);
    assert.ok(lines.every((l) => !l.includes(SECRET)), 'secret in a log line');
  });

  it('a drop in the middle of a frame: the half frame is not counted, the session comes back', async () => {
    const { fake, failures } = await setup();
    fake.dropMidFrame(securityEvent({ ip: '203.0.113.50' }));
    await fake.waitForLogins(2);
    await waitFor(() => fake.logins === 2 && fake.loggedIn === 1, 'second login');
    fake.send(securityEvent({ ip: '203.0.113.51' }));
    await waitFor(() => failures.length === 1, 'failure after reconnect');
    assert.equal(failures[0]!.ip, '203.0.113.51');
  });

  it('half-open socket: the ping times out, the socket is destroyed and the session reconnects', async () => {
    const { fake, failures, lines, statuses } = await setup();
    fake.silent = true;
    await waitFor(() => lines.some((l) => l.includes('E_AMI_TIMEOUT')), 'ping timeout');
    fake.silent = false;
    await fake.waitForLogins(2);
    await waitFor(() => statuses.filter((s) => s.endsWith('->ready')).length === 2, 'ready again');
    assert.ok(statuses.includes('ready->reconnecting'));
    fake.send(securityEvent({ ip: '203.0.113.52' }));
    await waitFor(() => failures.length === 1, 'failure after reconnect');
  });

  it('Asterisk restart (a plain close): reconnects and goes on counting', async () => {
    const { fake, failures } = await setup();
    await fake.restart();
    await fake.waitForLogins(2);
    await waitFor(() => fake.loggedIn === 1, 'logged in again');
    fake.send(securityEvent({ ip: '203.0.113.53' }));
    await waitFor(() => failures.length === 1, 'failure after restart');
  });

  it('survives garbage, stray blank lines and a 1 MB header', async () => {
    const { fake, failures, source, lines } = await setup();
    fake.send('garbage without colon\r\n\r\n\u0000\u0001\u00ff: \r\n\r\n\r\n\r\n\r\nResponse: Success\r\nActionID: nobody\r\n\r\n');
    fake.send(securityEvent({ ip: '203.0.113.54' }));
    await waitFor(() => failures.length === 1, 'failure after garbage');
    assert.ok(source.counts.dropped >= 2);
    // A "Follows" response never ends for asterisk-manager's reader; it must not swallow the Pongs after it.
    fake.send('Response: Follows\r\nPrivilege: Command\r\nno end marker\r\n\r\n');
    const pings = fake.pings;
    await waitFor(() => fake.pings >= pings + 4, 'four more pings');
    assert.equal(fake.connections, 1, 'reconnected: a Pong was lost');
    fake.send(`Event: InvalidPassword\r\nAccountID: ${'A'.repeat(1_100_000)}`);
    await waitFor(() => lines.some((l) => l.includes('without an end')), 'overflow logged');
    await fake.waitForLogins(2);
    await waitFor(() => fake.loggedIn === 1, 'logged in again');
    fake.send(securityEvent({ ip: '203.0.113.55' }));
    await waitFor(() => failures.length === 2, 'failure after overflow');
    assert.deepEqual(failures.map((f) => f.ip), ['203.0.113.54', '203.0.113.55']);
  });
});

describe('AmiSource against peers that are not Asterisk', () => {
  it('bare-LF line ends: refused with a clear message, retried', async () => {
    const { logger, lines } = memoryLogger();
    const fake = await FakeAmiServer.start({ secret: SECRET, lineEnd: '\n' });
    const source = new AmiSource({
      jail: 'asterisk',
      settings: defaultJailSettings('asterisk', { ami: { ...DEFAULT_AMI, port: fake.port, username: 'ban', secret: SECRET } }),
      clock: systemClock,
      logger,
      events: { failure: () => undefined },
      backoff: { baseMs: 10, maxMs: 50, jitter: 0 },
    });
    cleanups.push(async () => {
      await source.stop();
      await fake.close();
    });
    await source.start();
    await waitFor(() => fake.connections >= 2, 'a retry');
    assert.ok(lines.some((l) => l.includes('bare LF')));
    assert.notEqual(source.sessionStatus, 'ready');
  });

  it('nothing listening: keeps retrying until stopped, then stays closed', async () => {
    const fake = await FakeAmiServer.start();
    const port = fake.port;
    await fake.close();
    const statuses: string[] = [];
    const source = new AmiSource({
      jail: 'asterisk',
      settings: defaultJailSettings('asterisk', { ami: { ...DEFAULT_AMI, port, username: 'ban', secret: SECRET } }),
      clock: systemClock,
      logger: memoryLogger().logger,
      events: { failure: () => undefined },
      onStatus: (n) => statuses.push(n),
      backoff: { baseMs: 5, maxMs: 20, jitter: 0 },
    });
    await source.start();
    await waitFor(() => statuses.filter((s) => s === 'reconnecting').length >= 1 && source.counts !== undefined, 'retries');
    await new Promise((r) => setTimeout(r, 60));
    await source.stop();
    assert.equal(source.sessionStatus, 'closed');
    const n = statuses.length;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(statuses.length, n, 'status changed after stop');
  });
});
