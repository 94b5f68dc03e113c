import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettings } from '../../src/settings/index.js';
import { configDir, configErrors, STUB_FILTER } from './helpers.js';

describe('file precedence', () => {
  it('reads jail.conf < jail.d/*.conf (sorted) < jail.local < jail.d/*.local (sorted)', () => {
    const dir = configDir({
      'filter.d/stub.conf': STUB_FILTER,
      'jail.conf': '[DEFAULT]\nmaxretry = 1\nfindtime = 1\nbantime = 1\nsender = conf@x\n[j]\nenabled = true\nfilter = stub\nlogpath = /x\ndestemail = conf@x\n',
      'jail.d/b.conf': '[j]\nmaxretry = 3\nfindtime = 3\nbantime = 3\ndestemail = b@x\n',
      'jail.d/a.conf': '[j]\nmaxretry = 2\nfindtime = 2\nbantime = 2\n',
      'jail.local': '[j]\nfindtime = 4\nbantime = 4\n[DEFAULT]\nsender = local@x\n',
      'jail.d/z.local': '[j]\nbantime = 6\n',
      'jail.d/y.local': '[j]\nbantime = 5\n',
      'jail.d/ignored.txt': '[j]\nbantime = 99\n',
    });
    const j = loadSettings(dir, { env: {} }).jails[0]!;
    assert.deepEqual([j.maxretry, j.findtime, j.bantime, j.destemail, j.sender], [3, 4, 6, 'b@x', 'local@x']);
    assert.ok(j.file.endsWith('/jail.conf'), 'a jail is located where it is first defined');
  });

  it('lets a .local enable a jail that jail.conf disables, and extend it with %(known/...)s', () => {
    const dir = configDir({
      'filter.d/stub.conf': STUB_FILTER,
      'jail.conf': '[j]\nenabled = false\nfilter = stub\nlogpath = /x\naction = fw\n',
      'jail.local': '[j]\nenabled = true\naction = %(known/action)s\n         mail[dest=root]\n',
    });
    const j = loadSettings(dir, { env: {} }).jails[0]!;
    assert.equal(j.enabled, true);
    assert.deepEqual(j.actions.map((a) => [a.name, a.line, a.file.split('/').pop()]), [['fw', 3, 'jail.local'], ['mail', 4, 'jail.local']]);
  });

  it('reads filter.d/NAME.local after NAME.conf', () => {
    const dir = configDir({
      'filter.d/f.conf': '[Definition]\nfailregex = ^a <HOST>$\nignoreregex = ^x$\n',
      'filter.d/f.local': '[Definition]\nfailregex = %(known/failregex)s\n            ^b <HOST>$\n',
      'jail.conf': '[j]\nenabled = true\nfilter = f\nlogpath = /x\n',
    });
    const f = loadSettings(dir, { env: {} }).jails[0]!.filterDef!;
    assert.deepEqual(f.failregex.map((l) => [l.value, l.file.split('/').pop(), l.line]), [['^a <HOST>$', 'f.local', 2], ['^b <HOST>$', 'f.local', 3]]);
    assert.deepEqual(f.ignoreregex.map((l) => l.value), ['^x$']);
  });

  it('reads the jail files\' own [INCLUDES]', () => {
    const dir = configDir({
      'filter.d/stub.conf': STUB_FILTER,
      'paths.conf': '[DEFAULT]\nasterisk_log = /var/log/asterisk/full\n',
      'jail.conf': '[INCLUDES]\nbefore = paths.conf\n[j]\nenabled = true\nfilter = stub\nlogpath = %(asterisk_log)s\n',
    });
    assert.equal(loadSettings(dir, { env: {} }).jails[0]!.logpath[0]!.value, '/var/log/asterisk/full');
  });

  it('reports errors in a jail.d file with that file\'s name', () => {
    const dir = configDir({
      'filter.d/stub.conf': STUB_FILTER,
      'jail.conf': '[j]\nenabled = true\nfilter = stub\nlogpath = /x\n',
      'jail.d/custom.local': '\n[j]\nmaxretry = lots\n',
    });
    const errors = configErrors(() => loadSettings(dir, { env: {} }));
    assert.ok(errors[0]!.location?.file.endsWith('jail.d/custom.local'));
    assert.equal(errors[0]!.location?.line, 3);
  });
});

describe('hostile files', () => {
  it('rejects a 1 MB line in jail.conf with file:line', () => {
    const dir = configDir({ 'jail.conf': `[j]\nenabled = false\nx = ${'a'.repeat(1 << 20)}\n` });
    const errors = configErrors(() => loadSettings(dir, { env: {} }));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.location?.line, 3);
  });

  it('rejects a binary garbage jail.conf without crashing', () => {
    const garbage = Buffer.alloc(4096);
    let x = 12345;
    for (let i = 0; i < garbage.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      garbage[i] = x >> 16;
    }
    garbage[7] = 0;
    const errors = configErrors(() => loadSettings(configDir({ 'jail.conf': garbage }), { env: {} }));
    assert.match(errors[0]!.message, /binary data/);
  });

  it('rejects text garbage with a bounded number of errors', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `garbage line ${i} ]][[ %(x`).join('\n');
    const errors = configErrors(() => loadSettings(configDir({ 'jail.conf': lines }), { env: {} }));
    assert.ok(errors.length <= 21, `${errors.length} errors`);
    assert.equal(errors[0]!.location?.line, 1);
  });

  it('rejects invalid UTF-8', () => {
    const errors = configErrors(() => loadSettings(configDir({ 'jail.conf': Buffer.from([0x5b, 0x6a, 0x5d, 0x0a, 0xff, 0xfe, 0x0a]) }), { env: {} }));
    assert.match(errors[0]!.message, /UTF-8/);
  });

  it('rejects a file over the size limit', () => {
    const big = `[j]\n${'x = 1\n'.repeat(1)}${'# padding padding padding padding padding\n'.repeat(110_000)}`;
    const errors = configErrors(() => loadSettings(configDir({ 'jail.conf': big }), { env: {} }));
    assert.match(errors[0]!.message, /larger than/);
  });
});
