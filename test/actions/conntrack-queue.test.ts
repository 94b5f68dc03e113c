// Deleting a banned address's flows takes two conntrack processes; under a
// flood they must not hold the next batch out of the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAction } from '../../src/actions/registry.js';
import type { CommandRunner } from '../../src/actions/exec.js';
import type { Ban } from '../../src/core/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';

function ban(ip: string, now: number): Ban {
  return { jail: 'asterisk', ip, family: ip.includes(':') ? 6 : 4, start: now, end: now + 600_000, count: 1, source: 'ami', reason: 'InvalidPassword', failures: [] };
}

/** nft answers at once; conntrack waits until released. Records what ran, in order. */
function slowConntrack() {
  const calls: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const run: CommandRunner = async (file, args, opts) => {
    calls.push(`${file} ${args.join(' ')} ${opts?.input ?? ''}`);
    if (file === 'conntrack') await released;
    return { stdout: file === 'nft' && args.includes('list') ? '{"nftables":[]}' : '', stderr: '', code: 0 };
  };
  return { calls, run, release };
}

for (const action of ['nftables-allports', 'iptables-allports']) {
  test(`${action}: the next batch reaches the firewall while the last one's flows are still being deleted`, async () => {
    const clock = new ManualClock(Date.now());
    const fake = slowConntrack();
    const a = createAction({ name: action, params: { name: 'asterisk' }, file: 'jail.local', line: 1 }, { jail: defaultJailSettings('asterisk'), logger: silentLogger(), clock, env: {}, run: fake.run });
    await a.start();
    const first = a.ban([ban('203.0.113.1', clock.now())], { restored: false });
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(fake.calls.some((c) => c.startsWith('conntrack') && c.includes('203.0.113.1')), 'flows of the first address are being deleted');
    const second = a.ban([ban('203.0.113.2', clock.now())], { restored: false });
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      fake.calls.some((c) => !c.startsWith('conntrack') && c.includes('203.0.113.2')),
      `the second address went to the firewall:\n${fake.calls.join('\n')}`,
    );
    assert.equal(firstDone, false, 'the first ban still waits for its flows');
    fake.release();
    await Promise.all([first, second]);
  });

  test(`${action}: bans that arrive while a firewall command runs share the next command`, async () => {
    const clock = new ManualClock(Date.now());
    let slow!: () => void;
    let commands = 0;
    const run: CommandRunner = async (file, args, opts) => {
      if (file === 'conntrack') return { stdout: '', stderr: '', code: 0 };
      if (`${args.join(' ')} ${opts?.input ?? ''}`.includes('203.0.113.')) {
        commands++;
        if (commands === 1) await new Promise<void>((r) => (slow = r));
      }
      return { stdout: file === 'nft' && args.includes('list') ? '{"nftables":[]}' : '', stderr: '', code: 0 };
    };
    const a = createAction({ name: action, params: { name: 'asterisk' }, file: 'jail.local', line: 1 }, { jail: defaultJailSettings('asterisk'), logger: silentLogger(), clock, env: {}, run });
    await a.start();
    const bans = [a.ban([ban('203.0.113.10', clock.now())], { restored: false })];
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 11; i < 31; i++) bans.push(a.ban([ban(`203.0.113.${i}`, clock.now())], { restored: false }));
    await new Promise((r) => setTimeout(r, 20));
    slow();
    await Promise.all(bans);
    // iptables applies v4 in one restore; its ipset or rule batches are per family: still one command for the twenty.
    assert.equal(commands, 2, 'one command for the first ban, one for the twenty that waited');
  });
}

test('the flows of a banned address are deleted again a little later: a server that answered late has opened them anew', async () => {
  const clock = new ManualClock(Date.now());
  const fake = slowConntrack();
  fake.release();
  const a = createAction({ name: 'iptables-allports', params: { name: 'asterisk' }, file: 'jail.local', line: 1 }, { jail: defaultJailSettings('asterisk'), logger: silentLogger(), clock, env: {}, run: fake.run });
  await a.start();
  await a.ban([ban('203.0.113.9', clock.now())], { restored: false });
  const deletes = () => fake.calls.filter((c) => c.startsWith('conntrack -D') && c.includes('203.0.113.9')).map((c) => c.trim());
  assert.deepEqual(deletes(), ['conntrack -D -f ipv4 -s 203.0.113.9', 'conntrack -D -f ipv4 -d 203.0.113.9'], 'once when the ban is made');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(deletes().length, 4, 'and again a quarter of a second later');
  await a.stop();
});
