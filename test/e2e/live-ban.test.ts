// The whole log-mode path, as a user runs it: `asterisk-ban run` on a config
// dir, lines appended to a followed log, `asterisk-ban list --json` polled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DaemonHarness, sipWrongPassword, stamp, waitFor } from '../helpers/daemon.js';

interface BanJson { jail: string; ip: string; since: string; until: string | null; count: number; reason: string }

function jails(h: DaemonHarness, maxretry = '3'): string {
  return `[DEFAULT]
ignoreip = 127.0.0.1/8 192.0.2.0/24

[asterisk]
enabled = true
backend = log
filter = asterisk
logpath = ${h.log}
action = dry-run
maxretry = ${maxretry}
findtime = 10m
bantime = 3s
verify = off
`;
}

async function bans(h: DaemonHarness): Promise<BanJson[]> {
  const r = await h.cli('list', '--json');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as BanJson);
}

let h: DaemonHarness;
before(async () => {
  h = new DaemonHarness((x) => jails(x));
  await h.start();
});
after(async () => {
  await h.cleanup();
});

test('an attacker in the log is banned at maxretry and unbanned bantime later', async () => {
  h.append([sipWrongPassword('203.0.113.10'), sipWrongPassword('203.0.113.10')]);
  h.append([sipWrongPassword('203.0.113.10')]);
  await waitFor(async () => (await bans(h)).some((b) => b.ip === '203.0.113.10'), 10_000, () => h.output);
  const ban = (await bans(h)).find((b) => b.ip === '203.0.113.10')!;
  assert.equal(ban.jail, 'asterisk');
  assert.equal(ban.count, 1);
  assert.ok(ban.until && Date.parse(ban.until) - Date.parse(ban.since) >= 3000);
  assert.match(h.output, /would ban 203\.0\.113\.10/);
  // One greppable line per counted failure (debug), per ban and per unban, naming the message in words.
  assert.match(h.output, /Found 203\.0\.113\.10 \[asterisk\] sip_register \(log\) 1\/3/);
  assert.match(h.output, /Ban 203\.0\.113\.10 \[asterisk\] 3 failures \(sip_register, log\), 3s until \d{4}-/);
  assert.equal(ban.reason, 'sip_register');
  await waitFor(async () => !(await bans(h)).some((b) => b.ip === '203.0.113.10'), 10_000, () => h.output);
  assert.match(h.output, /would unban 203\.0\.113\.10/);
  assert.match(h.output, /Unban 203\.0\.113\.10 \[asterisk\] expired/);
});

test('ignored addresses, injected lines and too few failures ban nobody', async () => {
  const lines = [
    sipWrongPassword('192.0.2.50'), sipWrongPassword('192.0.2.50'), sipWrongPassword('192.0.2.50'), sipWrongPassword('192.0.2.50'),
    sipWrongPassword('198.51.100.77'), sipWrongPassword('198.51.100.77'),
  ];
  // A chan_sip extension with %0A: the middle line is attacker text naming a victim.
  for (let i = 0; i < 3; i++) {
    lines.push(`${stamp()} NOTICE[31337][C-00000007] chan_sip.c: Call from '' (203.0.113.99:5071) to extension '100`);
    lines.push(sipWrongPassword('198.51.100.66'));
    lines.push(`' rejected because extension not found in context 'public'.`);
  }
  h.append(lines);
  // The injector itself is an attacker: three attempts ban it.
  await waitFor(async () => (await bans(h)).some((b) => b.ip === '203.0.113.99'), 10_000, () => h.output);
  const ips = (await bans(h)).map((b) => b.ip);
  assert.ok(!ips.includes('198.51.100.66'), 'the victim named in an injected line must not be banned');
  assert.ok(!ips.includes('192.0.2.50'), 'ignoreip');
  assert.ok(!ips.includes('198.51.100.77'), 'below maxretry');
  const st = await h.cli('status', 'asterisk', '--json');
  assert.equal(st.code, 0, st.stderr);
  const s = JSON.parse(st.stdout.trim().split('\n')[0]!);
  assert.equal(s.jail, 'asterisk');
  assert.ok(s.currentlyFailed >= 1, st.stdout);
  // The address below maxretry is failing now, with its count.
  assert.deepEqual(s.failing.find((f: { ip: string }) => f.ip === '198.51.100.77'), { ip: '198.51.100.77', count: 2 });
  assert.ok(s.totalBanned >= 2, st.stdout);
});

test('manual ban and unban through the CLI; an ignored address needs --force', async () => {
  let r = await h.cli('ban', 'asterisk', '198.51.100.200', '--time', '1h');
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await bans(h)).some((b) => b.ip === '198.51.100.200'));
  r = await h.cli('ban', 'asterisk', '192.0.2.9');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ignore/i);
  r = await h.cli('ban', 'asterisk', 'not-an-address');
  assert.notEqual(r.code, 0);
  r = await h.cli('ban', 'nosuchjail', '198.51.100.201');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /nosuchjail/);
  assert.match(h.output, /Ban 198\.51\.100\.200 \[asterisk\] manual, 1h until/);
  r = await h.cli('ban', 'asterisk', '198.51.100.200');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^198\.51\.100\.200 is already banned in asterisk until /);
  r = await h.cli('banned', '198.51.100.200');
  assert.equal(r.stdout, '198.51.100.200: asterisk\n');
  r = await h.cli('get', 'asterisk', 'maxretry');
  assert.equal(r.stdout, '3\n');
  r = await h.cli('get', 'asterisk', 'logpath');
  assert.equal(r.stdout, `${h.log}\n`);
  r = await h.cli('set', 'loglevel', 'info');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'loglevel = info\n');
  r = await h.cli('set', 'loglevel', 'debug');
  assert.equal(r.code, 0, r.stderr);
  r = await h.cli('unban', '198.51.100.200');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => /Unban 198\.51\.100\.200 \[asterisk\] unbanned/.test(h.output), 5_000, () => h.output);
  assert.ok(!(await bans(h)).some((b) => b.ip === '198.51.100.200'));
  r = await h.cli('unban', '198.51.100.200');
  assert.notEqual(r.code, 0, 'unbanning an address that is not banned says so');
});

test('bans survive a restart; reload keeps bans and refuses an invalid config', async () => {
  let r = await h.cli('ban', 'asterisk', '2001:db8:77::5', '--time', '1h');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.stop(), 0);
  await h.start();
  assert.ok((await bans(h)).some((b) => b.ip === '2001:db8:77::5'), 'restored after restart');

  h.writeJails(jails(h, '4'));
  r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await bans(h)).some((b) => b.ip === '2001:db8:77::5'), 'kept across a valid reload');

  h.writeJails(jails(h, 'many'));
  r = await h.cli('reload');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /jail\.conf:\d+/);
  r = await h.cli('status', '--json');
  assert.equal(r.code, 0, 'the running configuration stays');
  assert.ok((await bans(h)).some((b) => b.ip === '2001:db8:77::5'));

  h.writeJails(jails(h));
  r = await h.cli('unban', '--all');
  assert.equal(r.code, 0, r.stderr);
});

test('a second daemon on the same socket refuses to start', async () => {
  const other = new DaemonHarness((x) => jails(x));
  try {
    const text = `[Definition]\nsocket = ${h.socket}\ndbfile = ${other.dir}/state.sqlite3\n`;
    (await import('node:fs')).writeFileSync(`${other.config}/asterisk-ban.conf`, text);
    await assert.rejects(other.start(), /exited [1-9]/);
    assert.match(other.output, /socket|in use|already/i);
    const r = await h.cli('status');
    assert.equal(r.code, 0, 'the first daemon still answers');
  } finally {
    await other.cleanup();
  }
});

test('garbage and a 10 MB line on the control socket get error answers; the daemon keeps serving', async () => {
  const { createConnection } = await import('node:net');
  // Answers to the garbage are read before the big line is sent: once the
  // server drops a connection mid-line, unread answers may be lost to the reset.
  const answers = await new Promise<string>((resolve, reject) => {
    const sock = createConnection(h.socket);
    let got = '';
    let sentBig = false;
    const timer = setTimeout(() => reject(new Error(`no answers; got ${got.slice(0, 200)}`)), 20_000);
    timer.unref();
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (!sentBig && got.split('\n').filter(Boolean).length >= 2) {
        sentBig = true;
        sock.write(Buffer.alloc(10 * 1024 * 1024, 0x61), () => sock.end());
      }
    });
    const done = () => {
      clearTimeout(timer);
      resolve(got);
    };
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => sock.write('this is not json\n{"id": 2, "cmd": "rm -rf /"}\n'));
  });
  const lines = answers.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ok: boolean; error?: { code: string } });
  assert.ok(lines.length >= 2, answers);
  assert.ok(lines.every((l) => l.ok === false));
  assert.equal(lines[0]!.error!.code, 'E_REQUEST');
  assert.equal(lines[1]!.error!.code, 'E_UNKNOWN_COMMAND');
  const r = await h.cli('status', '--json');
  assert.equal(r.code, 0, r.stderr);
});

test('SIGHUP reloads; an invalid file on SIGHUP is refused and logged with file:line', async () => {
  h.writeJails(jails(h, '6'));
  h.child!.kill('SIGHUP');
  await waitFor(() => /reloaded:/.test(h.output), 10_000, () => h.output);
  h.writeJails(jails(h, 'six'));
  h.child!.kill('SIGHUP');
  await waitFor(() => /reload refused[\s\S]*jail\.conf:\d+/.test(h.output), 10_000, () => h.output);
  const r = await h.cli('status', '--json');
  assert.equal(r.code, 0, 'still running on the previous configuration');
  h.writeJails(jails(h));
});
