import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ControlServer } from '../../src/control/server.js';
import { fixture, repoRoot } from '../helpers/paths.js';
import { FakeApi, tempDir } from '../control/fake-api.js';
import { NOBODY, cannotRunAsNobody } from '../helpers/as-nobody.js';


function runAs(uid: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', fixture('cli', 'run-main.ts'), ...args], { uid, gid: uid, cwd: repoRoot, env: { PATH: process.env.PATH ?? '', HOME: '/tmp' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('socket permissions, as another user', { skip: cannotRunAsNobody() }, () => {
  const tmp = tempDir();
  const socket = join(tmp.dir, 'ab.sock');
  const server = new ControlServer({ path: socket, api: new FakeApi() });

  before(async () => {
    // The directory is open to all, so only the socket's own 0600 mode can stop nobody.
    chmodSync(tmp.dir, 0o755);
    await server.start();
  });
  after(async () => {
    await server.close();
    tmp.remove();
  });

  it('an unprivileged user gets exit 4 and a one-line hint, never a ban', async () => {
    const r = await runAs(NOBODY, ['--socket', socket, 'ban', 'asterisk', '192.0.2.1']);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr, `asterisk-ban: permission denied on ${socket}: run as root or as the daemon's user\n`);
    assert.equal(r.stdout, '');
  });

  it('root, the socket owner, is served by the same process entry', async () => {
    const r = await runAs(0, ['--socket', socket, 'list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trimEnd().split('\n').length, 2);
  });
});
