import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { locateDaemon } from '../../src/cli/locate.js';
import { main } from '../../src/cli/main.js';

const tmp = mkdtempSync(join(tmpdir(), 'ab-locate-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("from an installed copy's directory, the system daemon's socket is found when the shipped config's is not there", () => {
  const opt = join(tmp, 'opt');
  const etc = join(tmp, 'etc');
  mkdirSync(join(opt, 'config'), { recursive: true });
  mkdirSync(etc);
  writeFileSync(join(opt, 'config', 'asterisk-ban.conf'), '[Definition]\nsocket = ./var/asterisk-ban.sock\n');
  const sys = join(tmp, 'run.sock');
  writeFileSync(join(etc, 'asterisk-ban.conf'), `[Definition]\nsocket = ${sys}\n`);
  // No daemon for either yet: the shipped config's socket is the answer, and said so.
  assert.deepEqual(locateDaemon(undefined, undefined, {}, opt, etc), { socket: join(opt, 'var', 'asterisk-ban.sock'), from: join(opt, 'config') });
  writeFileSync(sys, '');
  const found = locateDaemon(undefined, undefined, {}, opt, etc);
  assert.equal(found.socket, sys);
  assert.match(found.from, /etc \(nothing answers for .*opt\/config\)$/);
  // An explicit choice is never second-guessed.
  assert.equal(locateDaemon(undefined, join(opt, 'config'), {}, opt, etc).socket, join(opt, 'var', 'asterisk-ban.sock'));
  assert.deepEqual(locateDaemon('/x.sock', undefined, {}, opt, etc), { socket: '/x.sock', from: '--socket' });
});

test('a daemon that does not answer: the error says which socket was tried, and from where', async () => {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  const code = await main(['node', 'asterisk-ban', '--socket', join(tmp, 'none.sock'), 'status'], {
    stdout: new PassThrough(), stderr, env: {}, cwd: tmp,
  } as never);
  assert.equal(code, 3);
  assert.match(text, new RegExp(`hint: tried ${join(tmp, 'none.sock')} \\(from --socket\\); --config DIR or --socket PATH reaches another daemon`));
});
