import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer } from 'node:net';
import { statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ControlServer } from '../../src/control/server.js';
import { request } from '../../src/control/client.js';
import { AsteriskBanError, isAsteriskBanError } from '../../src/core/errors.js';
import { FakeApi, tempDir } from './fake-api.js';

/** Writes raw bytes, returns every answer line until the server closes or `count` arrive. */
function raw(path: string, payload: string | Buffer, count: number): Promise<{ answers: any[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    const answers: any[] = [];
    let buf = '';
    let closed = false;
    const done = (): void => {
      sock.destroy();
      resolve({ answers, closed });
    };
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        answers.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
      if (answers.length >= count) done();
    });
    sock.on('end', () => { closed = true; done(); });
    sock.on('close', () => { closed = true; done(); });
    // A peer that closes while we still write gives EPIPE/ECONNRESET: expected here.
    sock.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    sock.write(payload);
  });
}

describe('control server', () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'run', 'ab.sock');
  const api = new FakeApi();
  const server = new ControlServer({ path, api });

  before(() => server.start());
  after(async () => {
    await server.close();
    tmp.remove();
  });

  it('creates the socket 0600 in a 0750 directory', () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(tmp.dir, 'run')).mode & 0o777, 0o750);
  });

  it('round-trips every command', async () => {
    assert.deepEqual(await request(path, 'ping'), { pong: true });
    assert.deepEqual(await request(path, 'version'), { version: '9.9.9', pid: 4242, uptime: 3723 });
    const status = (await request(path, 'status', { jail: 'asterisk' })) as any[];
    assert.equal(status[0].jail, 'asterisk');
    assert.equal(status[0].totalFailed, 120);
    const list = (await request(path, 'list')) as any[];
    assert.deepEqual(list.map((b) => b.ip), ['203.0.113.5', '2001:db8::1']);
    const ban = (await request(path, 'ban', { jail: 'asterisk', ip: '::ffff:198.51.100.9', seconds: 3600, force: true })) as any;
    assert.equal(ban.ip, '198.51.100.9');
    assert.deepEqual(api.calls.at(-1), { method: 'ban', args: ['asterisk', '198.51.100.9', { seconds: 3600, force: true }] });
    const unbanned = (await request(path, 'unban', { ip: '198.51.100.9' })) as any[];
    assert.deepEqual(unbanned.map((b) => b.ip), ['198.51.100.9']);
    assert.deepEqual(await request(path, 'reload', { jail: 'asterisk' }), { reloaded: ['asterisk'], stopped: [], started: [] });
    assert.deepEqual(api.calls.at(-1), { method: 'reload', args: ['asterisk'] });
  });

  it('answers several pipelined requests on one connection, in order, with their ids', async () => {
    const lines = [
      JSON.stringify({ id: 'a', cmd: 'ping' }),
      JSON.stringify({ id: 2, cmd: 'list' }),
      JSON.stringify({ id: 3, cmd: 'nope' }),
    ].join('\n') + '\n';
    const { answers } = await raw(path, lines, 3);
    assert.deepEqual(answers.map((a) => [a.id, a.ok]), [['a', true], [2, true], [3, false]]);
    assert.equal(answers[2].error.code, 'E_UNKNOWN_COMMAND');
  });

  const garbage: Array<[string, string, string]> = [
    ['not JSON', 'hello\n', 'E_REQUEST'],
    ['an array', '[1,2]\n', 'E_REQUEST'],
    ['no cmd', '{"id":1}\n', 'E_REQUEST'],
    ['cmd not a string', '{"id":1,"cmd":5}\n', 'E_REQUEST'],
    ['args not an object', '{"id":1,"cmd":"list","args":[]}\n', 'E_REQUEST'],
    ['unknown command', '{"id":1,"cmd":"shutdown"}\n', 'E_UNKNOWN_COMMAND'],
    ['prototype key as command', '{"id":1,"cmd":"constructor"}\n', 'E_UNKNOWN_COMMAND'],
    ['unknown argument', '{"id":1,"cmd":"ban","args":{"jail":"asterisk","ip":"203.0.113.1","rm":"-rf"}}\n', 'E_REQUEST'],
    ['ban without jail', '{"id":1,"cmd":"ban","args":{"ip":"203.0.113.1"}}\n', 'E_REQUEST'],
    ['ban of a non-address', '{"id":1,"cmd":"ban","args":{"jail":"asterisk","ip":"1.2.3.4; reboot"}}\n', 'E_ADDRESS'],
    ['ban with bad seconds', '{"id":1,"cmd":"ban","args":{"jail":"asterisk","ip":"203.0.113.1","seconds":0}}\n', 'E_REQUEST'],
    ['ban for longer than ten years', '{"id":1,"cmd":"ban","args":{"jail":"asterisk","ip":"203.0.113.1","seconds":1e308}}\n', 'E_REQUEST'],
    ['unban with neither ip nor all', '{"id":1,"cmd":"unban","args":{}}\n', 'E_REQUEST'],
    ['unban with both', '{"id":1,"cmd":"unban","args":{"ip":"203.0.113.1","all":true}}\n', 'E_REQUEST'],
    ['invalid UTF-8', '\u00ff\u00fe{\n', 'E_REQUEST'],
  ];
  for (const [name, line, code] of garbage) {
    it(`answers ${name} with ${code} and keeps serving`, async () => {
      const before = api.calls.length;
      const { answers } = await raw(path, line, 1);
      assert.equal(answers[0].ok, false);
      assert.equal(answers[0].error.code, code);
      assert.equal(api.calls.length, before, 'the daemon never saw the bad request');
      assert.deepEqual(await request(path, 'ping'), { pong: true });
    });
  }

  it('keeps the code of an AsteriskBanError thrown by a handler', async () => {
    api.fail = new AsteriskBanError('E_UNKNOWN_JAIL', 'no jail named "x"', { hint: 'jails: asterisk' });
    await assert.rejects(request(path, 'status', { jail: 'x' }), (err) =>
      isAsteriskBanError(err, 'E_UNKNOWN_JAIL') && /no jail named/.test(err.message) && err.hint === 'jails: asterisk');
  });

  it('turns any other error into E_INTERNAL without its internals', async () => {
    api.fail = new Error('secret=hunter2 at /etc/asterisk-ban/.env');
    await assert.rejects(request(path, 'list'), (err) => isAsteriskBanError(err, 'E_INTERNAL') && !/hunter2|\.env/.test(err.message));
  });

  // The timeout only turns a regression (server waiting for a newline) into a failure instead of a hang.
  it('refuses a 10 MB line with E_REQUEST and closes that connection before it is all sent', { timeout: 30_000 }, async () => {
    const sock = createConnection(path);
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    let sent = 0;
    let answer = '';
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('data', (d) => { answer += d.toString('utf8'); });
    sock.on('error', () => undefined); // EPIPE once the server hangs up: expected
    await new Promise<void>((r) => sock.once('connect', () => r()));
    while (sent < 10 * 1024 * 1024 && !sock.destroyed) {
      if (!sock.write(chunk)) await new Promise<void>((r) => { sock.once('drain', r); sock.once('close', r); });
      sent += chunk.length;
    }
    await closed;
    const parsed = JSON.parse(answer.split('\n')[0]!);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.error.code, 'E_REQUEST');
    assert.match(parsed.error.message, /longer than 65536 bytes/);
    assert.ok(sent < 10 * 1024 * 1024, `the server kept reading: ${sent} bytes went through`);
    assert.deepEqual(await request(path, 'ping'), { pong: true }, 'others are still served');
  });

  it('refuses to start a second server on the same socket', async () => {
    const second = new ControlServer({ path, api: new FakeApi() });
    await assert.rejects(second.start(), (err) => isAsteriskBanError(err, 'E_SOCKET_IN_USE'));
    assert.deepEqual(await request(path, 'ping'), { pong: true }, 'the first one still answers');
  });

  it('refuses to replace a file that is not a socket', async () => {
    const file = join(tmp.dir, 'plain');
    writeFileSync(file, 'keep me');
    await assert.rejects(new ControlServer({ path: file, api }).start(), (err) => isAsteriskBanError(err, 'E_SOCKET_IN_USE'));
    assert.ok(existsSync(file));
  });
});

describe('control server on a stale socket', () => {
  it('replaces a socket file nobody listens on', async () => {
    const tmp = tempDir();
    const path = join(tmp.dir, 'stale.sock');
    // Leave a socket file behind the way a killed daemon does: bind, then close without unlinking.
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(path, r));
    const { unlinkSync, renameSync } = await import('node:fs');
    renameSync(path, `${path}.keep`);
    await new Promise<void>((r) => dead.close(() => r()));
    renameSync(`${path}.keep`, path);
    assert.ok(statSync(path).isSocket());
    await assert.rejects(request(path, 'ping'), (err) => isAsteriskBanError(err, 'E_NOT_RUNNING'));
    const server = new ControlServer({ path, api: new FakeApi() });
    await server.start();
    try {
      assert.deepEqual(await request(path, 'ping'), { pong: true });
    } finally {
      await server.close();
      if (existsSync(path)) unlinkSync(path);
      tmp.remove();
    }
  });
});

describe('control client', () => {
  it('says the daemon is not running when there is no socket', async () => {
    await assert.rejects(request('/nonexistent/ab.sock', 'ping'), (err) =>
      isAsteriskBanError(err, 'E_NOT_RUNNING') && err.message === 'asterisk-ban is not running (no socket at /nonexistent/ab.sock)');
  });

  it('gives up with E_NOT_RUNNING when nobody answers in time', async () => {
    const tmp = tempDir();
    const path = join(tmp.dir, 'mute.sock');
    const held = new Set<import('node:net').Socket>();
    const mute = createServer((s) => held.add(s));
    await new Promise<void>((r) => mute.listen(path, r));
    try {
      await assert.rejects(request(path, 'ping', {}, { timeoutMs: 50 }), (err) => isAsteriskBanError(err, 'E_NOT_RUNNING') && /did not answer/.test(err.message));
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
      tmp.remove();
    }
  });
});

describe('control server lifecycle and limits', () => {
  it('removes its socket file on close, so the next start finds nothing stale', async () => {
    const tmp = tempDir();
    const path = join(tmp.dir, 'ab.sock');
    const server = new ControlServer({ path, api: new FakeApi() });
    await server.start();
    const held = createConnection(path);
    await new Promise<void>((r) => held.once('connect', () => r()));
    held.on('error', () => undefined);
    await server.close();
    assert.equal(existsSync(path), false);
    await new Promise<void>((r) => (held.destroyed ? r() : held.once('close', () => r())));
    tmp.remove();
  });

  it('makes room for a newcomer by closing the longest idle connection', async () => {
    const tmp = tempDir();
    const path = join(tmp.dir, 'ab.sock');
    const server = new ControlServer({ path, api: new FakeApi(), maxConnections: 2 });
    await server.start();
    const held = [createConnection(path), createConnection(path)];
    try {
      await Promise.all(held.map((s) => new Promise<void>((r) => s.once('connect', () => r()))));
      const closed = held.map((s) => new Promise<void>((r) => s.once('close', () => r())));
      // The server registers connections asynchronously; a moment lets both arrive first.
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await request(path, 'ping'), { pong: true });
      await closed[0];
      assert.equal(held[1]!.destroyed, false, 'the younger idle connection stays');
      assert.deepEqual(await request(path, 'ping'), { pong: true }, 'and again: the second idle one makes room');
      await closed[1];
    } finally {
      for (const s of held) s.destroy();
      await server.close();
      tmp.remove();
    }
  });

  it('says "busy" when every connection has a request in progress, and serves again after', async () => {
    const tmp = tempDir();
    const path = join(tmp.dir, 'ab.sock');
    const api = new FakeApi();
    let release = (): void => {};
    api.hold = new Promise<void>((r) => (release = r));
    const server = new ControlServer({ path, api, maxConnections: 2 });
    await server.start();
    try {
      const slow = [request(path, 'reload'), request(path, 'reload')];
      for (let i = 0; i < 100 && api.calls.filter((c) => c.method === 'reload').length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      await assert.rejects(request(path, 'ping'), (err) => isAsteriskBanError(err, 'E_BUSY') && /busy: 2 control requests in progress/.test(err.message));
      release();
      await Promise.all(slow);
      let answer: unknown = null;
      for (let i = 0; i < 100 && answer === null; i++) {
        answer = await request(path, 'ping').catch(() => null);
        if (answer === null) await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(answer, { pong: true });
    } finally {
      release();
      await server.close();
      tmp.remove();
    }
  });
});

describe('control server path problems', () => {
  it('refuses a socket path too long for a Unix socket with E_CONFIG', async () => {
    const path = `/tmp/${'x'.repeat(110)}.sock`;
    await assert.rejects(new ControlServer({ path, api: new FakeApi() }).start(), (err) => isAsteriskBanError(err, 'E_CONFIG') && /longer than 107 bytes/.test(err.message));
  });

  it('reports a directory it may not create as E_PERMISSION', async () => {
    // sysfs refuses mkdir even to root (EPERM, or EROFS when mounted read-only).
    await assert.rejects(new ControlServer({ path: '/sys/asterisk-ban-test/ab.sock', api: new FakeApi() }).start(), (err) =>
      isAsteriskBanError(err, 'E_PERMISSION') && /cannot create the control socket/.test(err.message));
  });
});

describe('control server idle connections', () => {
  it('drops a silent connection but never one whose request is still being handled', async () => {
    const tmp = tempDir();
    const path = join(tmp.dir, 'ab.sock');
    const api = new FakeApi();
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    api.reload = async () => {
      await gate;
      return { reloaded: ['asterisk'], stopped: [], started: [] };
    };
    const server = new ControlServer({ path, api, idleTimeoutMs: 30 });
    await server.start();
    try {
      const silent = createConnection(path);
      silent.on('error', () => undefined);
      const silentClosed = new Promise<void>((r) => silent.once('close', () => r()));
      const slow = request(path, 'reload', {}, { timeoutMs: 10_000 });
      await silentClosed; // the idle limit has passed at least once by now
      await new Promise((r) => setTimeout(r, 60));
      release();
      assert.deepEqual(await slow, { reloaded: ['asterisk'], stopped: [], started: [] });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
