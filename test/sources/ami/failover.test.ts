import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileFilter, definitionFromRegex } from '../../../src/filter/index.js';
import { LogSource } from '../../../src/sources/logfile/source.js';
import { systemClock } from '../../../src/core/clock.js';
import type { BanRequest, Failure } from '../../../src/core/types.js';
import { Jail } from '../../../src/jail/jail.js';
import { defaultJailSettings, DEFAULT_AMI } from '../../../src/settings/defaults.js';
import { AmiSource } from '../../../src/sources/ami/source.js';
import { AutoSource, type LogMode, type ModalLogSource } from '../../../src/sources/failover.js';
import type { SourceEvents, SourceStatus } from '../../../src/sources/types.js';
import { FakeAmiServer, securityEvent } from '../../helpers/fake-ami-server.js';
import { memoryLogger, waitFor } from './util.js';

/**
 * Stands in for the log source: lines "written" to it carry a time; in 'full'
 * mode each counts, 'gaps' counts none (these lines are all AMI-reported kinds),
 * and switching to 'full' replays the lines already seen dated >= sinceMs.
 */
class ScriptedLog implements ModalLogSource {
  readonly name = 'log:/var/log/asterisk/messages';
  modes: Array<{ mode: LogMode; since?: number }> = [];
  private mode: LogMode = 'off';
  private readonly seen: Failure[] = [];
  constructor(private readonly events: SourceEvents) {}
  setMode(mode: LogMode, sinceMs?: number): void {
    this.modes.push({ mode, since: sinceMs });
    const replay = mode === 'full' && this.mode !== 'full';
    this.mode = mode;
    if (replay && sinceMs !== undefined) for (const f of this.seen) if (f.time >= sinceMs) this.events.failure(f);
  }
  write(f: Failure): void {
    this.seen.push(f);
    if (this.mode === 'full') this.events.failure(f);
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  status(): SourceStatus[] {
    return [{ name: this.name, kind: 'log', state: 'following', since: 0 }];
  }
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('backend = auto', () => {
  it('log in gaps mode while AMI is ready, full from the last sign of life when it drops, gaps again when back', async () => {
    const fake = await FakeAmiServer.start();
    const { logger } = memoryLogger();
    const settings = defaultJailSettings('asterisk', {
      backend: 'auto',
      maxretry: 5,
      ami: { ...DEFAULT_AMI, port: fake.port, username: fake.username, secret: fake.secret, pingInterval: 0.05, pingTimeout: 0.2 },
    });
    const bans: BanRequest[] = [];
    const jail = new Jail(settings, { clock: systemClock, logger, onBan: (r) => bans.push(r) });
    const events: SourceEvents = { failure: (f) => jail.addFailure(f), success: (ip, clears) => jail.succeeded(ip, clears) };
    const ami = new AmiSource({ jail: 'asterisk', settings, clock: systemClock, logger, events, backoff: { baseMs: 20, maxMs: 100, jitter: 0 } });
    const log = new ScriptedLog(events);
    const auto = new AutoSource({ jail: 'asterisk', ami, log, clock: systemClock, logger });
    cleanups.push(async () => {
      await auto.stop();
      jail.stop();
      await fake.close();
    });
    await auto.start();
    await waitFor(() => auto.logMode === 'gaps', 'gaps mode');
    assert.deepEqual(log.modes.map((m) => m.mode), ['full', 'gaps']);
    assert.ok(log.modes[1]!.since! >= log.modes[0]!.since!, 'gaps handover names the moment AMI came up');
    await waitFor(() => ami.lastSeen > 0, 'a pong');

    // Asterisk goes away: nothing listens, so every failure is only in the log.
    await fake.close();
    await waitFor(() => auto.logMode === 'full', 'full mode');
    const handover = log.modes.at(-1)!;
    assert.equal(handover.since, ami.lastSeen);
    assert.ok(handover.since! <= Date.now());
    for (let i = 0; i < 5; i++) log.write({ ip: '203.0.113.90', family: 4, time: Date.now(), source: 'log', reason: 'failregex 0' });
    assert.equal(bans.length, 1);
    assert.equal(bans[0]!.ip, '203.0.113.90');
    assert.equal(bans[0]!.source, 'log');

    // Back: the log returns to gaps, AMI counts again.
    await fake.restart();
    await waitFor(() => auto.logMode === 'gaps', 'gaps again');
    assert.deepEqual(log.modes.map((m) => m.mode), ['full', 'gaps', 'full', 'gaps']);
    assert.deepEqual(auto.handovers, { toLog: 1, toAmi: 2 });
    log.write({ ip: '203.0.113.91', family: 4, time: Date.now(), source: 'log', reason: 'failregex 0' });
    await waitFor(() => fake.logins === 2, 'logged in');
    await waitFor(() => fake.loggedIn === 1, 'authed');
    for (let i = 0; i < 5; i++) fake.send(securityEvent({ ip: '203.0.113.92', time: new Date().toISOString().replace('Z', '+0000') }));
    await waitFor(() => bans.length === 2, 'AMI ban');
    assert.equal(bans[1]!.ip, '203.0.113.92');
    assert.deepEqual(auto.status().map((s) => s.kind), ['ami', 'log']);
    assert.match(auto.status()[1]!.detail ?? '', /mode gaps/);
  });

  it('stopping does not hand over to the log', async () => {
    const fake = await FakeAmiServer.start();
    const { logger } = memoryLogger();
    const settings = defaultJailSettings('asterisk', { ami: { ...DEFAULT_AMI, port: fake.port, username: fake.username, secret: fake.secret } });
    const ami = new AmiSource({ jail: 'asterisk', settings, clock: systemClock, logger, events: { failure: () => undefined } });
    const log = new ScriptedLog({ failure: () => undefined });
    const auto = new AutoSource({ jail: 'asterisk', ami, log, clock: systemClock, logger });
    cleanups.push(() => fake.close());
    await auto.start();
    await waitFor(() => auto.logMode === 'gaps', 'gaps mode');
    await auto.stop();
    assert.deepEqual(log.modes.map((m) => m.mode), ['full', 'gaps']);
  });
});

describe('backend = auto with the real LogSource', () => {
  // The filter engine cuts the date out of the line before the regex, as fail2ban does.
  const REGEX = String.raw`^\s*NOTICE\[\d+\] chan_sip\.c: Registration from '[^']*' failed for '<HOST>(?::\d+)?' - Wrong password$`;
  const line = (ip: string) => `[${new Date().toISOString().slice(0, 19).replace('T', ' ')}] NOTICE[1234] chan_sip.c: Registration from '<sip:100@192.0.2.1>' failed for '${ip}:5060' - Wrong password\n`;

  async function rig(port: number, ping = { pingInterval: 10, pingTimeout: 5 }) {
    const dir = mkdtempSync(join(tmpdir(), 'asterisk-ban-auto-'));
    const path = join(dir, 'messages');
    writeFileSync(path, '');
    const { logger } = memoryLogger();
    const settings = defaultJailSettings('asterisk', {
      backend: 'auto',
      maxretry: 5,
      ami: { ...DEFAULT_AMI, port, username: 'ban', secret: 's3cret-value', ...ping },
    });
    const bans: BanRequest[] = [];
    const modeAtBan: string[] = [];
    const jail = new Jail(settings, {
      clock: systemClock,
      logger,
      onBan: (r) => {
        bans.push(r);
        modeAtBan.push(auto.logMode);
      },
    });
    const events: SourceEvents = { failure: (f) => jail.addFailure(f), success: (ip, clears) => jail.succeeded(ip, clears) };
    const filter = compileFilter(definitionFromRegex(REGEX), { timezone: 'UTC' });
    const log = new LogSource({ jail: 'asterisk', paths: [path], filter, clock: systemClock, logger, events, pollMs: 20, watch: false });
    const ami = new AmiSource({ jail: 'asterisk', settings, clock: systemClock, logger, events, backoff: { baseMs: 20, maxMs: 100, jitter: 0 } });
    const auto = new AutoSource({ jail: 'asterisk', ami, log, clock: systemClock, logger });
    cleanups.push(async () => {
      await auto.stop();
      jail.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await auto.start();
    return { path, bans, auto, ami, modeAtBan };
  }

  it('Asterisk down: failures appended to the log ban', async () => {
    const fake = await FakeAmiServer.start();
    const port = fake.port;
    await fake.close();
    const { path, bans, auto } = await rig(port);
    assert.equal(auto.logMode, 'full');
    for (let i = 0; i < 5; i++) appendFileSync(path, line('203.0.113.95'));
    await waitFor(() => bans.length === 1, 'a ban from the log');
    assert.equal(bans[0]!.ip, '203.0.113.95');
    assert.equal(bans[0]!.source, 'log');
  });

  it('half-open AMI: lines logged while the ping times out are replayed and ban', async () => {
    const fake = await FakeAmiServer.start();
    cleanups.push(() => fake.close());
    const { path, bans, auto, ami, modeAtBan } = await rig(fake.port, { pingInterval: 0.05, pingTimeout: 0.5 });
    await waitFor(() => auto.logMode === 'gaps' && ami.lastSeen > 0, 'gaps mode');
    // Lines dated in the very second AMI came up belong to both sides of that handover
    // (log dates have one-second resolution) and may count twice; start in the next second.
    const upSecond = Math.floor(Date.now() / 1000);
    await waitFor(() => Math.floor(Date.now() / 1000) > upSecond, 'the next second', 3_000);
    fake.silent = true;
    // Asterisk still logs; AMI no longer delivers. No gap filter: in gaps mode the log counts nothing.
    for (let i = 0; i < 5; i++) appendFileSync(path, line('203.0.113.96'));
    await waitFor(() => auto.logMode === 'full', 'the ping timeout hands over');
    await waitFor(() => bans.length >= 1, 'a ban from the replayed lines');
    assert.equal(bans[0]!.ip, '203.0.113.96');
    assert.deepEqual(modeAtBan, ['full']);
    for (let i = 0; i < 4; i++) appendFileSync(path, line('203.0.113.96'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(bans.length, 1, 'the five replayed lines were counted more than once');
  });
});
