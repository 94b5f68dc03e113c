// A fail2ban user's configuration, unchanged (the Asterisk book's jail with
// iptables-allports and sendmail-whois, and its own filter), running in a
// network namespace with a real kernel firewall, a real SMTP server and a
// whois peer. Only logpath is overridden, in jail.local, as a user would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DaemonHarness, stamp, waitFor } from '../helpers/daemon.js';
import { ADDR, TestNet, haveTool, isRoot } from '../helpers/netns.js';
import { fixture, repoRoot } from '../helpers/paths.js';

const skip = !isRoot() ? 'needs root (network namespaces, iptables)' : !haveTool('iptables') || !haveTool('conntrack') ? 'needs iptables and conntrack installed' : false;

const VICTIM = '198.51.100.99';
let net: TestNet;
let h: DaemonHarness;
let peers: ChildProcess;
const mails: { raw: string; to: string[] }[] = [];

function wrongPassword(ip: string): string {
  return `${stamp()} NOTICE[3021] chan_sip.c: Registration from '"100" <sip:100@${ADDR.pbx4}>' failed for '${ip}:5060' - Wrong password`;
}

async function bannedIps(): Promise<string[]> {
  const r = await h.cli('list', '--json');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { ip: string }).ip);
}

before(async () => {
  if (skip) return;
  net = await TestNet.create({ statefulAccept: true });
  peers = spawn('ip', ['netns', 'exec', net.pbx, process.execPath, '--import', 'tsx', fixture('e2e', 'peers.ts')], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const ports = await new Promise<{ smtp: number; whois: number }>((resolve) => {
    createInterface({ input: peers.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { smtp?: number; whois?: number; mail?: { raw: string; to: string[] } };
      if (msg.mail) mails.push(msg.mail);
      else resolve(msg as { smtp: number; whois: number });
    });
  });
  h = new DaemonHarness(() => '');
  for (const f of ['jail.conf', join('filter.d', 'asterisk.conf')]) copyFileSync(fixture('seed', 'seed', f), join(h.config, f));
  writeFileSync(join(h.config, 'jail.local'), `[asterisk-iptables]\nlogpath = ${h.log}\n`);
  await h.start(
    { SMTP_URL: `smtp://127.0.0.1:${ports.smtp}`, MAIL_WHOIS_SERVER: '127.0.0.1', MAIL_WHOIS_PORT: String(ports.whois) },
    ['ip', 'netns', 'exec', net.pbx],
  );
});

after(async () => {
  if (skip) return;
  await h?.cleanup();
  peers?.stdin?.end();
  peers?.kill();
  await net?.destroy();
});

test('the seed jail bans a real attacker in the kernel, mails the admin, and refuses a forged victim', { skip }, async () => {
  assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
  const flow = await net.startFlow(ADDR.att4);
  // The victim never sent a packet here: lines naming it are forged.
  h.append(Array.from({ length: 5 }, () => wrongPassword(VICTIM)));
  h.append(Array.from({ length: 5 }, () => wrongPassword(ADDR.att4)));
  await waitFor(async () => (await bannedIps()).includes(ADDR.att4), 15_000, () => h.output);

  const r = await net.reachable(ADDR.att4);
  assert.deepEqual(r, { udp: false, tcp: false }, 'banned address is dropped for UDP and TCP');
  assert.deepEqual(await net.reachable(ADDR.other4), { udp: true, tcp: true }, 'other sources still pass');
  const before = await net.flowReplies(flow);
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(await net.flowReplies(flow), before, 'a UDP flow running before the ban stops');
  await net.stopFlow(flow);

  assert.ok(!(await bannedIps()).includes(VICTIM), 'an address that never sent packets is not banned');
  assert.match(h.output, new RegExp(`REFUSED ban of ${VICTIM.replace(/\./g, '\\.')}`));

  await waitFor(() => mails.some((m) => m.raw.includes(ADDR.att4)), 15_000, () => h.output);
  const mail = mails.find((m) => m.raw.includes(ADDR.att4))!;
  assert.deepEqual(mail.to, ['root@localhost'], 'the seed says dest=root; over SMTP it is qualified');
  assert.match(mail.raw, /TEST-NET/, 'whois text from the (fake) whois server');
});

test('the ban survives a restart without a second mail, and unban lets traffic through', { skip }, async () => {
  const mailsBefore = mails.length;
  assert.equal(await h.stop(), 0);
  assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true }, 'stop removes our chain');
  await h.start({ MAIL_WHOIS_SERVER: '127.0.0.1', MAIL_WHOIS_PORT: '9' }, ['ip', 'netns', 'exec', net.pbx]);
  assert.ok((await bannedIps()).includes(ADDR.att4));
  assert.deepEqual(await net.reachable(ADDR.att4), { udp: false, tcp: false }, 'restored into the kernel');
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(mails.length, mailsBefore, 'restored bans send no mail');
  const r = await h.cli('unban', ADDR.att4);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
});
