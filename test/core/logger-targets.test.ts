// Where log lines end up for each logtarget; run in a child so its stderr can be read.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'ab-logtarget-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const LOGGER = join(repoRoot, 'dist', 'src', 'core', 'logger.js');

function logWith(target: string, opts: { journalStream?: boolean; path?: string } = {}): { stderr: string } {
  const script = `
const { fstatSync } = require('fs');
${opts.journalStream ? "const st = fstatSync(2); process.env.JOURNAL_STREAM = st.dev + ':' + st.ino;" : ''}
import(${JSON.stringify(LOGGER)}).then(({ createLogger }) => {
  const log = createLogger({ target: ${JSON.stringify(target)}, level: 'debug' });
  log.warn('careful', { jail: 'asterisk' });
  log.error('broken');
  setTimeout(() => {}, 300);
});`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '', PATH: opts.path ?? process.env.PATH! } });
  return { stderr: r.stderr };
}

test('journal: priority prefixes journald understands, and no timestamp of ours', () => {
  const { stderr } = logWith('journal');
  assert.match(stderr, /^<4>careful \[jail=asterisk\]$/m);
  assert.match(stderr, /^<3>broken$/m);
});

test('console under systemd (stderr is the journal, JOURNAL_STREAM says so) writes the journal form; elsewhere timestamps', () => {
  assert.match(logWith('console', { journalStream: true }).stderr, /^<4>careful/m);
  assert.match(logWith('console').stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN {2}careful/m);
});

test('syslog: one logger(1) process fed <N>-prefixed lines, tagged asterisk-ban', () => {
  const bin = join(tmp, 'bin');
  rmSync(bin, { recursive: true, force: true });
  mkdirSync(bin);
  const out = join(tmp, 'syslog.txt');
  writeFileSync(join(bin, 'logger'), `#!/bin/sh\necho "args: $*" > ${out}\ncat >> ${out}\n`);
  chmodSync(join(bin, 'logger'), 0o755);
  logWith('syslog', { path: `${bin}:${process.env.PATH}` });
  const got = readFileSync(out, 'utf8');
  assert.match(got, /^args: --prio-prefix -t asterisk-ban$/m);
  assert.match(got, /^<4>careful \[jail=asterisk\]$/m);
  assert.match(got, /^<3>broken$/m);
});

test('a log file it creates is readable by its owner only', () => {
  const file = join(tmp, 'created.log');
  // umask 0 would make a file created without a mode 0666.
  const script = `process.umask(0); import(${JSON.stringify(LOGGER)}).then(({ createLogger }) => { createLogger({ target: ${JSON.stringify(file)}, level: 'info' }).info('hello'); setTimeout(() => {}, 300); });`;
  spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.match(readFileSync(file, 'utf8'), /hello/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
});
