// The package as it is shipped: `npm pack` of the checkout, installed the
// way a service install does it (the tarball, its lockfile, `npm ci
// --omit=dev`), without the network (`--offline`: from the cache that the
// checkout's own `npm ci` filled). The installed command must run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { waitFor } from '../helpers/daemon.js';

const tmp = mkdtempSync(join(tmpdir(), 'ab-pack-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string, timeout = 240_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 16 << 20, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

test('npm pack carries the built code; the tarball installs offline with --omit=dev and runs', { timeout: 420_000 }, async (t) => {
  // dist/ is built by `npm test` already: packing must not rebuild under the tests that run it.
  const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], repoRoot);
  assert.equal(pack.code, 0, pack.out);
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'))!;
  const list = await run('tar', ['tzf', join(tmp, tgz)], tmp);
  assert.match(list.out, /package\/dist\/src\/cli\/main\.js/);
  assert.match(list.out, /package\/config\/filter\.d\/asterisk\.conf/);
  assert.doesNotMatch(list.out, /package\/dist\/test\//);

  assert.equal((await run('tar', ['xzf', join(tmp, tgz)], tmp)).code, 0);
  const pkg = join(tmp, 'package');
  copyFileSync(join(repoRoot, 'package-lock.json'), join(pkg, 'package-lock.json'));
  const install = await run('npm', ['ci', '--offline', '--omit=dev'], pkg, 300_000);
  if (install.code !== 0 && /ENOTCACHED/.test(install.out)) {
    t.skip('the npm cache lacks a package the lockfile names (run `npm ci` in the checkout first, as .ci/run does)');
    return;
  }
  assert.equal(install.code, 0, install.out);
  assert.ok(!existsSync(join(pkg, 'node_modules', 'typescript')), 'no dev dependency installed');

  const bin = join(pkg, 'bin', 'asterisk-ban.js');
  const help = await run(process.execPath, [bin, '--help'], pkg);
  assert.equal(help.code, 0, help.out);
  assert.match(help.out, /check-config/);
  const shipped = await run(process.execPath, [bin, 'check-config', '--config', join(pkg, 'config')], pkg);
  assert.equal(shipped.code, 0, shipped.out);
  const seed = await run(process.execPath, [bin, 'check-config', '--config', join(repoRoot, 'test', 'fixtures', 'seed', 'seed')], pkg);
  assert.equal(seed.code, 0, seed.out);

  // `run` with the shipped filter and a dry-run jail, for a few seconds.
  const cfg = join(tmp, 'cfg');
  cpSync(join(pkg, 'config'), cfg, { recursive: true });
  const log = join(tmp, 'messages');
  writeFileSync(log, '');
  writeFileSync(join(cfg, 'asterisk-ban.local'), `[Definition]\nsocket = ${join(tmp, 'ab.sock')}\ndbfile = ${join(tmp, 'state.sqlite3')}\n`);
  writeFileSync(join(cfg, 'jail.local'), `[asterisk]\nbackend = log\nlogpath = ${log}\naction = dry-run\nverify = off\n`);
  const child = spawn(process.execPath, [bin, 'run', '--config', cfg], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  try {
    await waitFor(() => /asterisk-ban ready/.test(output), 20_000, () => output);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(child.exitCode, null, output);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});
