import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { IPSET, IpsetSession } from '../../src/actions/ipset-session.js';
import { createAction } from '../../src/actions/registry.js';
import { ManualClock } from '../../src/core/clock.js';
import { isAsteriskBanError } from '../../src/core/errors.js';
import { metrics } from '../../src/control/metrics.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import { ADDR, TestNet, haveTool, isRoot, processesIn } from '../helpers/netns.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { ban } from './firewall-suite.js';

describe("ipset's marker", () => {
  const line = (m: string): string => `ipset v7.17: Syntax error: unknown inet family ${m}\n`;
  it('ends the batch at its own error line, not at a longer mark it begins, nor before its line is whole', () => {
    const own = 'ipset v7.17: The set with the given name does not exist\n';
    assert.equal(IPSET.marker(own + line('asban-sync-7-10'), 'asban-sync-7-1'), null);
    const text = own + line('asban-sync-7-1');
    assert.deepEqual(IPSET.marker(text, 'asban-sync-7-1'), { own: own.length, end: text.length });
    assert.equal(IPSET.marker(own + 'ipset v7.17: Syntax error: unknown inet family asban-sync-7-1', 'asban-sync-7-1'), null);
    assert.match(IPSET.refusal(own)!.message, /ipset refused the batch: ipset v7\.17: The set with the given name does not exist/);
    assert.equal(IPSET.refusal('Warning: 192.0.2.1 is in set s.\n'), null);
  });
});

const skip = !isRoot() ? 'needs root: creates network namespaces' : !haveTool('ipset') ? 'needs ipset' : false;

describe('an ipset session on a real kernel', { skip }, () => {
  const ns = `asb-ipsetsession-${process.pid}`;
  let session: IpsetSession;
  let lost = 0;
  const { logger, lines } = memoryLogger();
  const members = (): string => execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'list', 's'], { encoding: 'utf8' });

  before(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    session = new IpsetSession(['ip', 'netns', 'exec', ns, 'ipset'], logger, { onLost: () => lost++ });
  });
  after(() => {
    session?.close();
    execFileSync('ip', ['netns', 'delete', ns]);
  });

  it('applies a batch, takes an address twice, and lets warnings pass', async () => {
    await session.run(['create s hash:ip timeout 0', 'add s 192.0.2.1 timeout 60']);
    assert.match(members(), /192\.0\.2\.1 timeout/);
    await session.run(['add s 192.0.2.1 timeout 60', 'del s 192.0.2.9']);
    // `test` of a member answers with a warning on stderr, not an error.
    await session.run(['test s 192.0.2.1']);
  });

  it('reports what ipset refused and carries on', async () => {
    await assert.rejects(
      session.run(['add s 192.0.2.2', 'add nosuch 192.0.2.3']),
      (e) => isAsteriskBanError(e, 'E_ACTION') && /ipset refused the batch: .*does not exist/.test(e.message),
    );
    await session.run(['add s 192.0.2.4']);
    assert.match(members(), /192\.0\.2\.4/, 'the session carries on after a refusal');
    assert.doesNotMatch(execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'list', '-n'], { encoding: 'utf8' }), /asban-sync/, 'the marker never makes a set');
  });

  it('starts a new ipset when the old one died, and says so', async () => {
    const pid = session.pid!;
    process.kill(-pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    await session.run(['add s 192.0.2.5']);
    assert.match(members(), /192\.0\.2\.5/);
    assert.notEqual(session.pid, pid);
    assert.match(lines.join(''), /ipset session: ipset -exist - exited/);
    assert.equal(session.usable, true);
    assert.equal(lost, 1, 'the owner hears of the loss once');
    session.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(lost, 1, 'closing is no loss');
  });
});

const actionSkip = skip || (!haveTool('iptables-restore') ? 'needs iptables-restore' : false);

describe('the iptables-ipset action through its session', { skip: actionSkip }, () => {
  let net: TestNet;
  before(async () => {
    net = await TestNet.create();
  });
  after(async () => {
    await net?.destroy();
  });

  it('bans and unbans through a running ipset - in the namespace, packets dropped and let through', async () => {
    const clock = new ManualClock(Date.now());
    const paths = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const v of (await metrics.ipsetBatches.get()).values) if (v.labels.action === 'iptables-ipset-allports[SESSION]') out[String(v.labels.path)] = v.value;
      return out;
    };
    // No runner of the test's own: the action keeps its ipset session.
    const action = createAction({ name: 'iptables-ipset-proto6-allports', params: { name: 'SESSION', netns: net.pbx, flushconntrack: 'no', protocol: 'all' }, file: 'jail.local', line: 1 },
      { jail: defaultJailSettings('asterisk'), logger: memoryLogger().logger, clock, env: {} });
    await action.start();
    await action.ban([ban(ADDR.att4, clock), ban(ADDR.att6, clock)], { restored: false });
    for (const a of [ADDR.att4, ADDR.att6]) assert.deepEqual(await net.reachable(a), { udp: false, tcp: false }, a);
    assert.deepEqual(await net.reachable(ADDR.other4), { udp: true, tcp: true });
    assert.ok(processesIn(net.pbx, 'ipset -exist -').length > 0, 'an ipset - runs in the namespace');
    await action.unban([ban(ADDR.att4, clock)]);
    assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
    assert.deepEqual((await action.list!()).sort(), [ADDR.att6]);
    const p = await paths();
    assert.ok((p.session ?? 0) >= 3, `bans, unbans and the sets went through the session: ${JSON.stringify(p)}`);
    assert.equal(p.process ?? 0, 0);
    await action.stop();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(processesIn(net.pbx, 'ipset -exist -').length > 0, false, 'stop() ends the session');
    assert.doesNotMatch(execFileSync('ip', ['netns', 'exec', net.pbx, 'ipset', 'list', '-n'], { encoding: 'utf8' }), /asban-SESSION/);
  });

  it('with persistent = no, starts ipset per batch', async () => {
    const clock = new ManualClock(Date.now());
    const action = createAction({ name: 'iptables-ipset-allports', params: { name: 'ONESHOT', netns: net.pbx, flushconntrack: 'no', persistent: 'no' }, file: 'jail.local', line: 1 },
      { jail: defaultJailSettings('asterisk'), logger: memoryLogger().logger, clock, env: {} });
    await action.start();
    await action.ban([ban(ADDR.att4, clock)], { restored: false });
    assert.deepEqual(await net.reachable(ADDR.att4), { udp: false, tcp: false });
    assert.equal(processesIn(net.pbx, 'ipset -exist -').length > 0, false);
    await action.stop();
  });
});
