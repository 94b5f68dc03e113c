// logtarget = a file: reopened on SIGUSR1 after logrotate moved it away; a
// file that cannot be written sends the log to stderr, with the reason.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { DaemonHarness, waitFor } from '../helpers/daemon.js';
import { repoRoot } from '../helpers/paths.js';

let h: DaemonHarness | null = null;
after(async () => {
  await h?.cleanup();
});

const read = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '');

test('SIGUSR1 reopens the log file that logrotate renamed', async () => {
  let file = '';
  h = new DaemonHarness((x) => {
    file = join(x.dir, 'logs', 'asterisk-ban.log');
    mkdirSync(join(x.dir, 'logs'));
    return `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = dry-run\nverify = off\n`;
  });
  // The harness reads readiness from the process output; with a file target it is in the file.
  appendFileSync(join(h.config, 'asterisk-ban.conf'), `logtarget = ${file}\n`);
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'asterisk-ban.js'), 'run', '--config', h.config], { stdio: 'ignore' });
  h.child = child;
  await waitFor(() => /asterisk-ban ready/.test(read(file)), 20_000, () => read(file));
  renameSync(file, `${file}.1`);
  child.kill('SIGUSR1');
  await waitFor(() => /SIGUSR1: log file reopened/.test(read(file)), 10_000, () => `${read(file)}\n--- .1:\n${read(`${file}.1`)}`);
  const r = await h.cli('ban', 'asterisk', '203.0.113.90');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => /Ban 203\.0\.113\.90 \[asterisk\] manual/.test(read(file)), 10_000, () => read(file));
  assert.doesNotMatch(read(`${file}.1`), /203\.0\.113\.90/);
  assert.match(read(`${file}.1`), /asterisk-ban ready/);
});

test('a log file that cannot be opened sends the log to stderr and says why', () => {
  const script = `import('${join(repoRoot, 'dist', 'src', 'core', 'logger.js')}').then(({ createLogger }) => { createLogger({ target: '/etc/hostname/x.log' }).info('still heard'); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.match(r.stderr, /cannot write to logtarget \/etc\/hostname\/x\.log: .*; logging to stderr instead/);
  assert.match(r.stderr, /still heard/);
});

test('a start-up failure is written to stderr too, where systemd shows it, not only to the log file', async () => {
  let file = '';
  const failing = new DaemonHarness((x) => {
    file = join(x.dir, 'failing.log');
    return `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = dry-run\nverify = off\n`;
  });
  try {
    appendFileSync(join(failing.config, 'asterisk-ban.conf'), `logtarget = ${file}\n`);
    const tooLong = `/tmp/${'s'.repeat(110)}.sock`;
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'asterisk-ban.js'), 'run', '--config', failing.config, '--socket', tooLong], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^asterisk-ban: start-up failed: E_CONFIG: .*longer than 107 bytes/m);
    assert.match(read(file), /start-up failed: E_CONFIG/);
  } finally {
    await failing.cleanup();
  }
});
