import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mailActions } from '../../../src/actions/mail/index.js';
import type { MailAction } from '../../../src/actions/mail/action.js';
import { startFakeWhois } from '../../helpers/fake-whois.js';
import { ban, decodeBody, deps, invocation, splitMessage } from './support.js';

const dir = await mkdtemp(join(tmpdir(), 'ab-sendmail-'));
const outDir = join(dir, 'out');
const whois = await startFakeWhois();
after(async () => {
  await whois.close();
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in for /usr/sbin/sendmail: each call leaves {argv, message} in outDir; exits 75 (EX_TEMPFAIL) while `down` exists. */
async function fakeSendmail(): Promise<string> {
  const path = join(dir, 'sendmail');
  await writeFile(
    path,
    `#!/usr/bin/env node
const fs = require('fs');
const path = require('path');
const out = ${JSON.stringify(outDir)};
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  if (fs.existsSync(path.join(out, '..', 'down'))) process.exit(75);
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, Date.now() + '-' + process.pid + '.json');
  fs.writeFileSync(file, JSON.stringify({ argv: process.argv.slice(2), message: Buffer.concat(chunks).toString('utf8') }));
});
`,
  );
  await chmod(path, 0o755);
  return path;
}

async function delivered(): Promise<{ argv: string[]; message: string }[]> {
  const files = await readdir(outDir).catch(() => [] as string[]);
  return Promise.all(files.sort().map(async (f) => JSON.parse(await readFile(join(outDir, f), 'utf8')) as { argv: string[]; message: string }));
}

test('the seed sendmail-whois action mails through the sendmail binary, sender and recipient as argv', async () => {
  const path = await fakeSendmail();
  const d = deps();
  const params = { name: 'ASTERISK', dest: 'root', sender: 'fail2ban@example.org', sendmail_path: path, whois_server: '127.0.0.1', whois_port: String(whois.port) };
  const a = mailActions['sendmail-whois']!.factory(invocation('sendmail-whois', params), d) as MailAction;
  await a.start();
  assert.ok(!d.lines.some((l) => /missing or not executable/.test(l)));
  await a.ban([ban('203.0.113.5')], { restored: false });
  await a.settled();
  const got = await delivered();
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.argv, ['-i', '-f', 'fail2ban@example.org', 'root']);
  const { headers } = splitMessage(got[0]!.message);
  assert.match(headers, /^Subject: \[asterisk-ban\] ASTERISK: banned 203\.0\.113\.5$/m);
  assert.match(decodeBody(got[0]!.message), /netname: TEST-NET-203\.0\.113\.5/);
  await a.stop();
});

test('sendmail failing (exit 75) keeps the mail queued until sendmail accepts it', async () => {
  const path = await fakeSendmail();
  await rm(outDir, { recursive: true, force: true });
  await writeFile(join(dir, 'down'), '');
  const d = deps();
  const a = mailActions.sendmail!.factory(invocation('sendmail', { dest: 'root', sendmail_path: path }), d) as MailAction;
  await a.start();
  await a.ban([ban('198.51.100.1')], { restored: false });
  await a.settled();
  assert.equal((await delivered()).length, 0);
  assert.equal(a.stats().queued, 1);
  assert.ok(d.lines.some((l) => /sendmail .* failed \(exit 75\)/.test(l)), d.lines.join("\n"));
  await rm(join(dir, 'down'));
  d.clock.advance(60_000);
  await a.settled();
  const got = await delivered();
  assert.equal(got.length, 1);
  assert.match(decodeBody(got[0]!.message), /198\.51\.100\.1/);
  await a.stop();
});

test('a missing sendmail binary is reported plainly at start', async () => {
  const d = deps();
  const a = mailActions.sendmail!.factory(invocation('sendmail', { sendmail_path: join(dir, 'nope') }), d) as MailAction;
  await a.start();
  assert.ok(d.lines.some((l) => /nope is missing or not executable; install an MTA or set transport=smtp/.test(l)));
  await a.stop();
});

test('a sendmail that never returns is killed at the timeout, with what it started', async () => {
  const path = join(dir, 'sendmail-hangs');
  const pids = join(dir, 'hang-pids');
  await writeFile(
    path,
    `#!/usr/bin/env node
const { spawn } = require('child_process');
// Like sendmail handing the mail to postdrop: a child of its own, then nothing more.
const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
require('fs').writeFileSync(${JSON.stringify(pids)}, JSON.stringify([process.pid, child.pid]));
setInterval(() => {}, 1000);
`,
  );
  await chmod(path, 0o755);
  const { createSender } = await import('../../../src/actions/mail/transport.js');
  const sender = createSender({ transport: { kind: 'sendmail', path }, to: ['root'], from: 'ab@example.org', fromName: 'asterisk-ban', timeoutMs: 500 });
  const started = Date.now();
  await assert.rejects(sender.send({ subject: 's', text: 't' }), /timed out after 500 ms/);
  assert.ok(Date.now() - started < 5_000);
  const [parent, grandchild] = JSON.parse(await readFile(pids, 'utf8')) as number[];
  // Gone, or a zombie waiting for init to reap it: either way it runs no more.
  const gone = async (pid: number): Promise<boolean> => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    return stat === null || /^\d+ \(.*\) Z/.test(stat);
  };
  for (let i = 0; i < 150 && !((await gone(parent!)) && (await gone(grandchild!))); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(await gone(parent!), 'sendmail itself is killed');
  assert.ok(await gone(grandchild!), 'and the process it started');
  sender.close();
});
