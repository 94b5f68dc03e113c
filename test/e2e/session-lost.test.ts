// A firewall tool the daemon keeps running (here `ipset -`) is killed by
// someone who also emptied our set: the daemon checks its rules at once,
// not at the next minute's check, and the banned address is dropped again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DaemonHarness, sipWrongPassword, waitFor } from '../helpers/daemon.js';
import { ADDR, TestNet, haveTool, isRoot, processesIn } from '../helpers/netns.js';

const skip = !isRoot() ? 'needs root (network namespaces, iptables, ipset)' : !haveTool('ipset') || !haveTool('iptables-restore') ? 'needs ipset and iptables' : false;

let net: TestNet;
let h: DaemonHarness;
const jails = (x: DaemonHarness): string => `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = iptables-ipset-allports[name=SESS]\nverify = off\nmaxretry = 5\n`;

before(async () => {
  if (skip) return;
  net = await TestNet.create();
  h = new DaemonHarness(jails);
  await h.start({}, ['ip', 'netns', 'exec', net.pbx]);
});

after(async () => {
  if (skip) return;
  await h?.cleanup();
  await net?.destroy();
});

const sessions = (ns: string): number[] => processesIn(ns, 'ipset -exist -');

/** Empties our set and kills the session, as someone tampering with the firewall would; the ban must be back within 5 s. */
async function tamperAndWait(): Promise<void> {
  const running = sessions(net.pbx);
  assert.equal(running.length, 1, 'the daemon keeps one ipset - running');
  execFileSync('ip', ['netns', 'exec', net.pbx, 'ipset', 'flush', 'asban-SESS-v4']);
  process.kill(running[0]!, 'SIGKILL');
  // Read at once (a packet probe could take long enough to see the repair already).
  assert.doesNotMatch(execFileSync('ip', ['netns', 'exec', net.pbx, 'ipset', 'list', 'asban-SESS-v4'], { encoding: 'utf8' }), new RegExp(ADDR.att4.replace(/\./g, '\\.')), 'the ban is gone from the kernel');
  // The periodic check runs once a minute: only the lost session's check can repair this in time.
  await waitFor(async () => (await net.reachable(ADDR.att4)).udp === false, 5_000, () => h.output);
  assert.deepEqual(await net.reachable(ADDR.att4), { udp: false, tcp: false });
}

test('a killed ipset session and an emptied set are repaired within seconds, before and after a reload', { skip }, async () => {
  h.append(Array.from({ length: 5 }, () => sipWrongPassword(ADDR.att4)));
  await waitFor(async () => (await h.cli('list')).stdout.includes(ADDR.att4), 15_000, () => h.output);
  assert.deepEqual(await net.reachable(ADDR.att4), { udp: false, tcp: false });
  await tamperAndWait();
  assert.match(h.output, /ipset session: ipset -exist - exited/);
  assert.match(h.output, /was missing its rules; repaired with 1 ban/);
  assert.deepEqual(await net.reachable(ADDR.other4), { udp: true, tcp: true });

  // A reload that rebuilds the jail keeps its action (same settings): the session's loss must reach the new jail.
  const before = sessions(net.pbx);
  h.writeJails(jails(h).replace('maxretry = 5', 'maxretry = 6'));
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  assert.match(h.output, /reloaded: \{"reloaded":\["asterisk"\]/);
  assert.deepEqual(sessions(net.pbx), before, 'the jail is rebuilt, its action and session kept');
  await tamperAndWait();
  assert.equal((h.output.match(/was missing its rules; repaired with 1 ban/g) ?? []).length, 2, h.output);
});
