import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { NftSession } from '../../src/actions/nft-session.js';
import { SessionLost } from '../../src/actions/tool-session.js';
import { createAction } from '../../src/actions/registry.js';
import { ManualClock } from '../../src/core/clock.js';
import { isAsteriskBanError } from '../../src/core/errors.js';
import { metrics } from '../../src/control/metrics.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import { ADDR, TestNet, haveTool, isRoot, processesIn } from '../helpers/netns.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { fixture } from '../helpers/paths.js';
import { ban } from './firewall-suite.js';

describe('an nft session that never answers', () => {
  it('is lost after its timeout, and given up after three losses in a row', async () => {
    const { logger, lines } = memoryLogger();
    const session = new NftSession([process.execPath, fixture('actions', 'silent.mjs')], logger, { timeoutMs: 200 });
    for (let i = 0; i < 3; i++) await assert.rejects(session.run(['add table inet x']), (e) => e instanceof SessionLost && /no answer within 200 ms/.test(e.message));
    assert.equal(session.usable, false);
    await assert.rejects(session.run(['add table inet x']), SessionLost);
    assert.match(lines.join(''), /nft session: no answer within 200 ms/);
    assert.ok(((await metrics.nftSessionLost.get()).values.find((v) => v.labels.action === 'nft')?.value ?? 0) >= 3);
    session.close();
  });
});

describe('an nft session against a scripted nft -i', () => {
  it('fails a batch on an error only, not on a warning, and carries on', async () => {
    const session = new NftSession([process.execPath, fixture('actions', 'fake-nft-i.mjs')], memoryLogger().logger);
    await session.run(['warn about something']);
    await assert.rejects(session.run(['add this', 'fail that']), (e) => isAsteriskBanError(e, 'E_ACTION') && /Could not process rule: fail that/.test(e.message));
    await session.run(['add more']);
    session.close();
  });
});

const skip = !isRoot() ? 'needs root: creates network namespaces' : !haveTool('nft') ? 'needs nft' : false;

describe('an nft session on a real kernel', { skip }, () => {
  const ns = `asb-nftsession-${process.pid}`;
  let session: NftSession;
  const { logger, lines } = memoryLogger();
  const elements = (): string => execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'set', 'inet', 'x', 's'], { encoding: 'utf8' });

  before(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    session = new NftSession(['ip', 'netns', 'exec', ns, 'nft'], logger);
  });
  after(() => {
    session?.close();
    execFileSync('ip', ['netns', 'delete', ns]);
  });

  it('applies a batch as one transaction and reports what nft refused', async () => {
    await session.run(['add table inet x', 'add set inet x s { type ipv4_addr; flags timeout; }', 'add element inet x s { 192.0.2.1 timeout 60s }']);
    assert.match(elements(), /192\.0\.2\.1/);
    await assert.rejects(
      session.run(['add element inet x s { 192.0.2.2 }', 'add element inet x nosuch { 192.0.2.3 }']),
      (e) => isAsteriskBanError(e, 'E_ACTION') && /nft refused the batch: Error: No such file or directory/.test(e.message),
    );
    assert.doesNotMatch(elements(), /192\.0\.2\.2/, 'nothing of a refused batch is applied');
    await session.run(['add element inet x s { 192.0.2.4 }']);
    assert.match(elements(), /192\.0\.2\.4/, 'the session carries on after a refusal');
  });

  it('starts a new nft when the old one died, and says so', async () => {
    const pid = session.pid!;
    process.kill(-pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    await session.run(['add element inet x s { 192.0.2.5 }']);
    assert.match(elements(), /192\.0\.2\.5/);
    assert.notEqual(session.pid, pid);
    assert.match(lines.join(''), /nft session: nft -i exited/);
    assert.equal(session.usable, true);
  });
});

describe('the nftables action through its session', { skip }, () => {
  let net: TestNet;
  before(async () => {
    net = await TestNet.create();
  });
  after(async () => {
    await net?.destroy();
  });

  it('bans and unbans through a running nft -i in the namespace, packets dropped and let through', async () => {
    const clock = new ManualClock(Date.now());
    // No runner of the test's own: the action keeps its nft session (only start-up's listing and conntrack spawn).
    const action = createAction({ name: 'nftables-allports', params: { name: 'SESSION', netns: net.pbx, flushconntrack: 'no' }, file: 'jail.local', line: 1 },
      { jail: defaultJailSettings('asterisk'), logger: memoryLogger().logger, clock, env: {} });
    await action.start();
    await action.ban([ban(ADDR.att4, clock), ban(ADDR.att6, clock)], { restored: false });
    for (const a of [ADDR.att4, ADDR.att6]) assert.deepEqual(await net.reachable(a), { udp: false, tcp: false }, a);
    assert.deepEqual(await net.reachable(ADDR.other4), { udp: true, tcp: true });
    assert.ok(processesIn(net.pbx, 'nft -i').length > 0, 'an nft -i runs in the namespace');
    await action.unban([ban(ADDR.att4, clock)]);
    assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
    assert.deepEqual((await action.list!()).sort(), [ADDR.att6]);
    await action.stop();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(processesIn(net.pbx, 'nft -i').length > 0, false, 'stop() ends the session');
    assert.equal(execFileSync('ip', ['netns', 'exec', net.pbx, 'nft', 'list', 'tables'], { encoding: 'utf8' }).includes('asban-SESSION'), false);
  });
});
