import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDefinitionKey, resolveConfigDir, resolveSocketPath, SYSTEM_CONFIG_DIR } from '../../src/cli/locate.js';
import { tempDir } from '../control/fake-api.js';

describe('config dir', () => {
  const tmp = tempDir();
  mkdirSync(join(tmp.dir, 'with', 'config'), { recursive: true });
  after(() => tmp.remove());

  const table: Array<[string, string | undefined, NodeJS.ProcessEnv, string, string]> = [
    ['--config wins', 'cfg', { ASTERISK_BAN_CONFIG: '/env' }, '/work', '/work/cfg'],
    ['then the environment', undefined, { ASTERISK_BAN_CONFIG: '/env' }, '/work', '/env'],
    ['then ./config when it exists', undefined, {}, join(tmp.dir, 'with'), join(tmp.dir, 'with', 'config')],
    ['else /etc/asterisk-ban', undefined, {}, tmp.dir, SYSTEM_CONFIG_DIR],
  ];
  for (const [name, flag, env, cwd, want] of table) {
    it(name, () => assert.equal(resolveConfigDir(flag, env, cwd), want));
  }
});

describe('socket path', () => {
  const tmp = tempDir();
  const conf = join(tmp.dir, 'asterisk-ban.conf');
  writeFileSync(conf, [
    '# comment with socket = /wrong',
    '[Other]',
    'socket = /wrong/other.sock',
    '[Definition]',
    'loglevel = INFO',
    'socket = /run/first.sock',
    'socket: /run/ab.sock   ; trailing comment',
    '  continuation = line',
    '',
  ].join('\n'));

  it('reads the last socket of [Definition], ignoring other sections and comments', () => {
    assert.equal(readDefinitionKey(conf, 'socket'), '/run/ab.sock');
    assert.equal(readDefinitionKey(join(tmp.dir, 'missing.conf'), 'socket'), null);
  });

  it('--socket, then ASTERISK_BAN_SOCKET, then .env, then .local, then .conf, then the default; relative to the working dir', () => {
    const cwd = '/srv/pbx';
    assert.equal(resolveSocketPath('/flag.sock', { ASTERISK_BAN_SOCKET: '/env.sock' }, tmp.dir, cwd), '/flag.sock');
    assert.equal(resolveSocketPath('flag.sock', {}, tmp.dir, cwd), '/srv/pbx/flag.sock');
    assert.equal(resolveSocketPath(undefined, { ASTERISK_BAN_SOCKET: '/env.sock' }, tmp.dir, cwd), '/env.sock');
    assert.equal(resolveSocketPath(undefined, {}, tmp.dir, cwd), '/run/ab.sock');
    writeFileSync(join(tmp.dir, 'asterisk-ban.local'), '[Definition]\nsocket = ./var/local.sock\n');
    assert.equal(resolveSocketPath(undefined, {}, tmp.dir, cwd), '/srv/pbx/var/local.sock');
    writeFileSync(join(tmp.dir, '.env'), 'AMI_SECRET=x\nASTERISK_BAN_SOCKET=/dotenv.sock\n');
    assert.equal(resolveSocketPath(undefined, {}, tmp.dir, cwd), '/dotenv.sock');
    assert.equal(resolveSocketPath(undefined, { ASTERISK_BAN_SOCKET: '/env.sock' }, tmp.dir, cwd), '/env.sock');
    assert.equal(resolveSocketPath(undefined, {}, join(tmp.dir, 'nowhere'), cwd), '/run/asterisk-ban/asterisk-ban.sock');
    tmp.remove();
  });
});
