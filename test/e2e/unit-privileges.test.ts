// The shipped systemd unit runs the daemon as root with a capability bounding
// set and no new privileges. setpriv reproduces exactly that here (root keeps
// only the bounding set across exec), against an Asterisk log directory the
// way Debian lays it out: owner asterisk, 0750, log files 0640.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { DaemonHarness, sipWrongPassword, waitFor } from '../helpers/daemon.js';

// An owner the daemon is not: uid/gid numbers need no account.
const ASTERISK = 4242;
const UNIT_CAPS = /^CapabilityBoundingSet=(.*)$/m.exec(readFileSync(join(repoRoot, 'deploy', 'asterisk-ban.service'), 'utf8'))![1]!.split(/\s+/).map((c) => c.replace(/^CAP_/, '').toLowerCase());
const skip = process.getuid?.() !== 0 ? 'needs root (to own files as another user and drop capabilities)'
  : spawnSync('setpriv', ['--version']).status !== 0 ? 'needs setpriv (util-linux)' : false;

function setpriv(caps: string[], groups: number[] = []): string[] {
  return ['setpriv', '--bounding-set', `-all,${caps.map((c) => `+${c}`).join(',')}`, '--inh-caps', '-all', '--no-new-privs', ...(groups.length ? ['--groups', groups.join(',')] : []), '--'];
}

let h: DaemonHarness;
let log: string;
before(() => {
  if (skip) return;
  h = new DaemonHarness((x) => {
    const dir = join(x.dir, 'asterisk');
    mkdirSync(dir);
    log = join(dir, 'messages');
    writeFileSync(log, '');
    chownSync(dir, ASTERISK, ASTERISK);
    chownSync(log, ASTERISK, ASTERISK);
    chmodSync(dir, 0o750);
    chmodSync(log, 0o640);
    return `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${log}\naction = dry-run\nmaxretry = 2\nverify = off\n`;
  });
});
after(async () => {
  if (!skip) await h.cleanup();
});

test('the unit\'s capability set reads a log of the asterisk group\'s; without it the daemon says why', { skip }, async () => {
  const unit = UNIT_CAPS;
  assert.ok(unit.includes('net_admin') && unit.includes('dac_read_search'), `unit caps: ${unit.join(' ')}`);
  const firewallOnly = ['net_admin', 'net_raw'];

  // check-config with firewall capabilities only: a warning naming the directory, its owner and mode, and the fix.
  const [cmd, ...args] = [...setpriv(firewallOnly), process.execPath, join(repoRoot, 'bin', 'asterisk-ban.js'), 'check-config', '--config', h.config];
  const check = spawnSync(cmd!, args, { encoding: 'utf8' });
  assert.equal(check.status, 0, 'an unreadable log is a warning: an AMI jail beside it must still start');
  assert.match(check.stderr, new RegExp(`logpath ${log} cannot be read: permission denied: .*owner ${ASTERISK}:${ASTERISK}, mode 0750.*SupplementaryGroups=asterisk.*CAP_DAC_READ_SEARCH`));

  // The daemon under the same set: an error line, and status says error, not waiting.
  await h.start({}, setpriv(firewallOnly));
  await waitFor(() => /ERROR.*cannot read .*messages: permission denied/.test(h.output), 10_000, () => h.output);
  const st = await h.cli('status', 'asterisk', '--json');
  assert.equal(st.code, 0, st.stderr);
  const src = (JSON.parse(st.stdout.trim().split('\n')[0]!) as { sources: { state: string; detail: string }[] }).sources[0]!;
  assert.equal(src.state, 'error');
  assert.match(src.detail, /permission denied$/);
  await h.stop();

  // The unit's own set, and alternatively the group instead of the capability: the log is read and counted.
  for (const [i, prefix] of [setpriv(unit), setpriv(firewallOnly, [ASTERISK])].entries()) {
    await h.start({}, prefix);
    const ip = `203.0.113.${70 + i}`;
    appendFileSync(log, `${sipWrongPassword(ip)}\n${sipWrongPassword(ip)}\n`);
    await waitFor(async () => (await h.cli('list', '--json')).stdout.includes(ip), 10_000, () => h.output);
    await h.stop();
  }
});

test('under ProtectSystem=strict (all read-only but ReadWritePaths) the daemon runs and keeps its state', { skip: skip || (spawnSync('unshare', ['-m', 'true']).status !== 0 ? 'needs unshare -m (mount namespaces)' : false) }, async () => {
  // The state directory is the unit's StateDirectory/RuntimeDirectory: the one place it may write.
  const state = join(h.dir, 'state');
  mkdirSync(state, { recursive: true });
  writeFileSync(join(h.config, 'asterisk-ban.local'), `[Definition]\nsocket = ${join(state, 'ab.sock')}\ndbfile = ${join(state, 'state.sqlite3')}\n`);
  // A mount namespace of its own: the test directory read-only, its state directory writable again.
  const mounts = `mount --rbind "$D" "$D" && mount -o remount,bind,ro "$D" && mount --bind "$S" "$S" && mount -o remount,bind,rw "$S" && exec "$@"`;
  const argv = ['unshare', '-m', '--', 'env', `D=${h.dir}`, `S=${state}`, 'sh', '-c', mounts, 'sh', ...setpriv(UNIT_CAPS), process.execPath, join(repoRoot, 'bin', 'asterisk-ban.js'), 'run', '--config', h.config];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  try {
    await waitFor(() => /asterisk-ban ready/.test(output), 20_000, () => output);
    const ip = '203.0.113.79';
    appendFileSync(log, `${sipWrongPassword(ip)}\n${sipWrongPassword(ip)}\n`);
    await waitFor(async () => (await h.cli('list', '--json')).stdout.includes(ip), 10_000, () => output);
    assert.doesNotMatch(output, /read-only file system|EROFS/i);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});
