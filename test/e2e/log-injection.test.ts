// The real Asterisk 20.20.1 captures of injection attacks, replayed through
// `asterisk-ban run` as Asterisk wrote them: one write per message, forged
// lines in the same write as the message that carried them. maxretry = 1 and
// verify = off, so any address the daemon counted even once is banned: the
// victims must never appear, every real attacker must.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonHarness, stamp, waitFor } from '../helpers/daemon.js';
import { fixture } from '../helpers/paths.js';
import { networkCovers, parseBanTarget } from '../../src/core/address.js';

interface BanJson { jail: string; ip: string }

// Loopback is always ignored: the attacks that came from it are replayed from documentation addresses.
const V4 = '203.0.113.1';
const V6 = '2001:db8:ffff::1';
const VICTIMS = ['10.99.99.99', '10.99.99.5', '2001:db8:dead::99', 'fe80::99'];
const FORGED_THREAD = /^\[[^\]]+\] [A-Z]+\[(?:1|1234)\]/;

/** The capture cut into Asterisk's writes, with today's date and the replayed addresses. */
function writesOf(name: string): string[] {
  const now = stamp();
  const lines = readFileSync(fixture('logs', name), 'latin1').replace(/\n$/, '').split('\n').map((l) =>
    l.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]/, now)
      .replace(/127\.0\.0\.1/g, V4)
      .replace(/(?<![0-9a-fA-F:])::1(?![0-9a-fA-F:])/g, V6));
  const writes: string[][] = [];
  for (const l of lines) {
    // A dated line of Asterisk's own starts a write; forged and dateless lines came with the one before.
    if (writes.length === 0 || (/^\[\d{4}-/.test(l) && !FORGED_THREAD.test(l))) writes.push([]);
    writes.at(-1)!.push(l);
  }
  return writes.map((w) => w.map((l) => `${l}\n`).join(''));
}

let h: DaemonHarness;
let security: string;
before(async () => {
  h = new DaemonHarness((x) => {
    security = join(x.dir, 'security');
    writeFileSync(security, '');
    return `[asterisk]
enabled = true
backend = log
filter = asterisk
logpath = ${x.log}
          ${security}
action = dry-run
maxretry = 1
findtime = 1h
bantime = 1h
verify = off
`;
  });
  await h.start();
});
after(async () => {
  await h.cleanup();
});

async function banned(): Promise<string[]> {
  const r = await h.cli('list', '--json');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as BanJson).ip);
}

test('the adversarial captures, written message by message: every real attacker banned, no victim ever', async () => {
  for (const [name, path] of [['adversarial-messages-20.20.1.log', h.log], ['adversarial-security-20.20.1.log', security]] as const) {
    for (const w of writesOf(name)) {
      writeFileSync(path, w, { flag: 'a' });
      // Pacing, not timing: each write is read on its own, as the follower sees Asterisk's.
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  // A last failure in each file: once both are banned, everything before them has been read.
  writeFileSync(h.log, `${stamp()} NOTICE[2211] chan_sip.c: Registration from '<sip:1@192.0.2.1>' failed for '203.0.113.250:5060' - Wrong password\n`, { flag: 'a' });
  writeFileSync(security, `${stamp()} SECURITY[22353] res_security_log.c: SecurityEvent="InvalidPassword",EventTV="2026-11-27T15:28:45.040+0000",Severity="Error",Service="SIP",EventVersion="2",AccountID="1",SessionID="0x1",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/203.0.113.251/5060",Challenge="1",ReceivedChallenge="1",ReceivedHash="2"\n`, { flag: 'a' });
  // IPv6 counts and bans by /64 (ipv6_prefix default).
  const attackers = [V4, '2001:db8:ffff::/64', '198.51.100.2', '2001:db8:51::/64', '203.0.113.250', '203.0.113.251'];
  await waitFor(async () => {
    const ips = await banned();
    return attackers.every((a) => ips.includes(a));
  }, 20_000, () => h.output);
  const ips = await banned();
  for (const v of VICTIMS) assert.ok(!ips.some((ip) => covers(ip, v)), `victim ${v} banned:\n${h.output}`);
  assert.deepEqual(ips.sort(), attackers.sort());
  // The line an IAX2 user name carried names a victim: suspect, and with verify off not counted, said once.
  assert.match(h.output, /suspect log line not counted/);
  // A security event read two ways (AccountID holding a second RemoteAddress) counts no one, and says so.
  assert.match(h.output, /names several addresses \(.*10\.99\.99\.99.*\): counted for none/);
});

function covers(target: string, ip: string): boolean {
  const t = parseBanTarget(target);
  const a = parseBanTarget(ip);
  return t !== null && a !== null && networkCovers(t, a);
}
