process.env.TZ = 'UTC';

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { main } from '../../src/cli/main.js';
import { EXIT, exitCodeFor } from '../../src/cli/io.js';
import { connectError } from '../../src/control/client.js';
import { ControlServer } from '../../src/control/server.js';
import { AsteriskBanError } from '../../src/core/errors.js';
import { FakeApi, tempDir } from '../control/fake-api.js';
import { repoRoot } from '../helpers/paths.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

function collect(stream: PassThrough): () => string {
  const parts: Buffer[] = [];
  stream.on('data', (d: Buffer) => parts.push(d));
  return () => Buffer.concat(parts).toString('utf8');
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = '/'): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const code = await main(['node', 'asterisk-ban', ...args], { stdout, stderr, env, cwd });
  return { code, out: out(), err: err() };
}

describe('cli against a control server', () => {
  const tmp = tempDir();
  const socket = join(tmp.dir, 'ab.sock');
  const api = new FakeApi();
  const server = new ControlServer({ path: socket, api });
  const run = (...args: string[]): Promise<Run> => cli(['--socket', socket, ...args]);

  before(() => server.start());
  after(async () => {
    await server.close();
    tmp.remove();
  });

  it('status prints a table per jail with counters, bans and source state', async () => {
    const r = await run('status');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.match(r.out, /^Jail asterisk \(enabled, backend ami\)$/m);
    assert.match(r.out, /^ {2}currently failed: +3$/m);
    assert.match(r.out, /^ {2}total failed: +120$/m);
    assert.match(r.out, /^ {2}currently banned: +2$/m);
    assert.match(r.out, /^ {2}total banned: +15$/m);
    assert.match(r.out, /^ {2}refused by verify: +1$/m);
    assert.match(r.out, /^ {2}too old: +2 \(dated before findtime, ignored\)$/m);
    assert.doesNotMatch(r.out, /future-dated/, 'a zero count is not shown');
    assert.match(r.out, /^ {2}banned: +203\.0\.113\.5 2001:db8::1$/m);
    assert.match(r.out, /^ {2}failing now: +198\.51\.100\.7 \(3\)$/m);
    assert.match(r.out, /^ {4}ami: ready since 2026-11-27 12:00:00$/m);
    assert.match(r.out, /^ {2}alerts: +compromise health; raised: 1 compromise \(high\)$/m);
    assert.match(r.out, /^ {2}fleet: +counts; DISCONNECTED since 2026-11-27 12:05:00: banning locally, changes kept for Redis; bans here from other nodes: pbx-2 4$/m);
    assert.equal(r.err, '');
  });

  it('fleet status; list shows where a remote ban came from; unban --node lifts those', async () => {
    let r = await run('fleet', 'status');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.match(r.out, /^Fleet node pbx-1: connected since /m);
    assert.match(r.out, /nodes seen: +pbx-1 \(1s ago\), pbx-2 \(3s ago\)/);
    r = await run('fleet', 'status', '--json');
    assert.equal(JSON.parse(r.out).remoteApplied, 12);
    api.bans.push(api.remoteBan);
    r = await run('list');
    assert.match(r.out, /192\.0\.2\.200 .*InvalidPassword \(from node pbx-2\)/);
    r = await run('list', '--json');
    assert.ok(r.out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).some((b) => b.node === 'pbx-2'));
    r = await run('unban', '--node', 'pbx-2');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.equal(r.out, 'Unbanned 192.0.2.200 from asterisk.\n');
    assert.deepEqual(api.calls.at(-1), { method: 'unban', args: [{ node: 'pbx-2' }] });
    r = await run('unban', '--node', 'pbx-2', '10.0.0.1');
    assert.equal(r.code, EXIT.USAGE);
  });

  it('alerts lists recent alerts with their facts; --json one object per alert; --since reaches the daemon', async () => {
    let r = await run('alerts', '--since', 'all');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.match(r.out, /HIGH +compromise +\[asterisk\] account "6001" logged in from 203\.0\.113\.5 after 37 failure\(s\)/);
    assert.match(r.out, /^ {4}failures: 37$/m);
    assert.match(r.out, /INFO +health +\[asterisk\] AMI connection ami is back/);
    assert.deepEqual(api.calls.at(-1), { method: 'alerts', args: [0, 10_000] });
    r = await run('alerts', '--json', '--since', 'all');
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], {
      id: 1, time: '2026-11-27T12:10:00.000Z', jail: 'asterisk', rule: 'compromise', severity: 'high',
      summary: 'account "6001" logged in from 203.0.113.5 after 37 failure(s) from that address in the last 10m',
      address: '203.0.113.5', account: '6001', facts: { failures: '37', window: '10m' },
    });
    const before = Date.now();
    r = await run('alerts', '--since', '1h');
    const since = api.calls.at(-1)!.args[0] as number;
    assert.ok(since >= before - 3_600_000 - 1000 && since <= Date.now() - 3_600_000 + 1000, `since ${since}`);
    assert.equal(r.out, 'No alerts.\n');
    r = await run('alerts', '--since', 'yesterday');
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.err, /--since "yesterday" is not a duration/);
  });

  it('status --json prints one JailStatus object per line', async () => {
    const r = await run('status', 'asterisk', '--json');
    assert.equal(r.code, EXIT.OK);
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 1);
    assert.deepEqual(Object.keys(lines[0]), [
      'jail', 'enabled', 'backend', 'currentlyFailed', 'totalFailed', 'currentlyBanned', 'totalBanned', 'refusedByVerify', 'banned', 'failing', 'sources', 'actions', 'tooOld', 'futureDated', 'notPersistedSince', 'unsavedChanges', 'trustedPeers', 'recentSuccess', 'asteriskLogDiscarded', 'asteriskLogDiscardingSince', 'alertRules', 'alerts',
    ]);
    assert.deepEqual(lines[0].alerts, [{ rule: 'compromise', severity: 'high', count: 1 }]);
    assert.deepEqual(lines[0].failing, [{ ip: '198.51.100.7', count: 3 }]);
    assert.deepEqual(lines[0].sources, [{ name: 'ami', kind: 'ami', state: 'ready', since: Date.UTC(2026, 10, 27, 12, 0, 0) }]);
    assert.deepEqual(api.calls.at(-1), { method: 'status', args: ['asterisk'] });
  });

  it('status of an unknown jail exits 1 with the daemon message on stderr', async () => {
    const r = await run('status', 'nosuch');
    assert.equal(r.code, EXIT.ERROR);
    assert.equal(r.out, '');
    assert.equal(r.err, 'asterisk-ban: no jail named "nosuch"\n');
  });

  it('under --json an error is a JSON object on stdout too', async () => {
    const r = await run('status', 'nosuch', '--json');
    assert.equal(r.code, EXIT.ERROR);
    assert.deepEqual(JSON.parse(r.out), { error: { code: 'E_UNKNOWN_JAIL', message: 'no jail named "nosuch"' } });
  });

  it('banned tells which jails ban each address; ban and unban take several addresses', async () => {
    let r = await run('banned', '203.0.113.5', '192.0.2.77');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.equal(r.out, '203.0.113.5: asterisk\n192.0.2.77: not banned\n');
    r = await run('banned', '203.0.113.5', '--json');
    assert.deepEqual(JSON.parse(r.out), { ip: '203.0.113.5', jails: ['asterisk'], bans: ['203.0.113.5'] });
    r = await run('ban', 'asterisk', '198.51.100.61', '198.51.100.62');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.equal(r.out.split('\n').filter((l) => l.startsWith('Banned 198.51.100.6')).length, 2);
    r = await run('unban', '198.51.100.61', '198.51.100.62');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.match(r.out, /Unbanned 198\.51\.100\.61 from asterisk\.\nUnbanned 198\.51\.100\.62 from asterisk\./);
  });

  it('get JAIL OPTION and set loglevel reach the daemon', async () => {
    let r = await run('get', 'asterisk', 'maxretry');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.equal(r.out, '5\n');
    assert.deepEqual(api.calls.at(-1), { method: 'get', args: ['asterisk', 'maxretry'] });
    r = await run('set', 'loglevel', 'debug');
    assert.equal(r.out, 'loglevel = debug\n');
    assert.deepEqual(api.calls.at(-1), { method: 'set', args: ['loglevel', 'debug'] });
  });

  it('prints the hint the daemon gave with its error', async () => {
    api.fail = new AsteriskBanError('E_UNKNOWN_JAIL', 'no jail named sip', { hint: 'jails: asterisk' });
    const r = await run('reload', 'sip');
    assert.equal(r.code, EXIT.ERROR);
    assert.equal(r.err, 'asterisk-ban: no jail named sip\n  hint: jails: asterisk\n');
  });

  it('list prints aligned columns, permanent bans as such', async () => {
    const r = await run('list');
    assert.equal(r.code, EXIT.OK);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^ADDRESS +JAIL +SINCE +UNTIL +COUNT +REASON$/);
    assert.match(lines[1]!, /^203\.0\.113\.5 +asterisk +2026-11-27 12:00:00 +2026-11-27 13:00:00 +2 +InvalidPassword$/);
    assert.match(lines[2]!, /^2001:db8::1 +asterisk +2026-11-27 12:05:00 +permanent +1 +failregex 0$/);
    assert.equal(lines[1]!.indexOf('JAIL'), -1);
    assert.equal(lines[0]!.indexOf('JAIL'), lines[1]!.indexOf('asterisk'), 'columns line up');
  });

  it('list --json prints one BanView per line with stable fields', async () => {
    const r = await run('list', '--json');
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, api.bans);
    assert.deepEqual(Object.keys(lines[0]), ['jail', 'ip', 'since', 'until', 'count', 'source', 'reason']);
  });

  it('escapes terminal control sequences an attacker put into a reason', async () => {
    api.bans.push({ jail: 'asterisk', ip: '198.51.100.66', since: '2026-11-27T12:00:00.000Z', until: null, count: 1, source: 'log', reason: 'x\u001b[2J\u009b31m' });
    try {
      const human = await run('list');
      assert.ok(!/[\u001b\u009b]/.test(human.out));
      assert.match(human.out, /x\\x1b\[2J\\x9b31m/);
      const json = await run('list', '--json');
      assert.ok(!/[\u001b\u009b]/.test(json.out));
      assert.equal(JSON.parse(json.out.trimEnd().split('\n').at(-1)!).reason, 'x\u001b[2J\u009b31m');
    } finally {
      api.bans.pop();
    }
  });

  it('ban sends a normalised address and --time in seconds', async () => {
    const r = await run('ban', 'asterisk', '::FFFF:192.0.2.7', '--time', '1h', '--force');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.deepEqual(api.calls.at(-1), { method: 'ban', args: ['asterisk', '192.0.2.7', { seconds: 3600, force: true }] });
    assert.equal(r.out, 'Banned 192.0.2.7 in asterisk until 2026-11-27 13:00:00 (ban #1).\n');
  });

  it('a ban the daemon could not persist says so, in words and in JSON', async () => {
    api.diskFull = true;
    try {
      const r = await run('ban', 'asterisk', '192.0.2.9');
      assert.equal(r.code, EXIT.OK, r.err);
      assert.match(r.out, /^Banned 192\.0\.2\.9 .*\nNot persisted: the state database cannot be written/);
      const j = await run('ban', 'asterisk', '192.0.2.10', '--json');
      assert.equal(JSON.parse(j.out).persisted, false);
    } finally {
      api.diskFull = false;
    }
  });

  it('ban --time -1 is permanent', async () => {
    const r = await run('ban', 'asterisk', '192.0.2.8', '--time', '-1');
    assert.equal(r.code, EXIT.OK, r.err);
    assert.deepEqual(api.calls.at(-1)!.args[2], { seconds: -1 });
    assert.match(r.out, /until never \(permanent\)/);
  });

  const usage: Array<[string, string[], RegExp]> = [
    ['a non-address', ['ban', 'asterisk', '1.2.3.4; reboot'], /is neither an IP address nor an IPv6 prefix/],
    ['an IPv4 range', ['ban', 'asterisk', '198.51.100.0/24'], /is neither an IP address nor an IPv6 prefix/],
    ['an IPv6 prefix wider than /48', ['ban', 'asterisk', '2001:db8::/32'], /is neither an IP address nor an IPv6 prefix/],
    ['a bad duration', ['ban', 'asterisk', '192.0.2.9', '--time', 'soon'], /"soon" is not a duration/],
    ['a zero duration', ['ban', 'asterisk', '192.0.2.9', '--time', '0'], /longer than 0/],
    ['a missing address', ['ban', 'asterisk'], /missing required argument/],
    ['unban with neither address nor --all', ['unban'], /needs an ADDRESS, --all or --node NAME/],
    ['unban with both', ['unban', '192.0.2.9', '--all'], /either an ADDRESS or --all/],
    ['an unknown command', ['frobnicate'], /unknown command/],
    ['an unknown option', ['list', '--colour'], /unknown option/],
    ['test-filter --jobs 0', ['test-filter', '/dev/null', 'asterisk', '--jobs', '0'], /--jobs: expected a whole number from 1 to 64, got "0"/],
    ['test-filter --jobs two', ['test-filter', '/dev/null', 'asterisk', '--jobs', 'two'], /--jobs: expected a whole number/],
  ];
  for (const [name, args, message] of usage) {
    it(`exits 2 on ${name} without asking the daemon`, async () => {
      const before = api.calls.length;
      const r = await run(...args);
      assert.equal(r.code, EXIT.USAGE);
      assert.match(r.err, message);
      assert.ok(!/\n\s+at /.test(r.err), 'no stack trace');
      assert.equal(api.calls.length, before);
    });
  }

  it('unban one address, then all', async () => {
    const one = await run('unban', '192.0.2.7', '--jail', 'asterisk');
    assert.equal(one.code, EXIT.OK, one.err);
    assert.equal(one.out, 'Unbanned 192.0.2.7 from asterisk.\n');
    assert.deepEqual(api.calls.at(-1), { method: 'unban', args: [{ ip: '192.0.2.7', jail: 'asterisk' }] });
    const again = await run('unban', '192.0.2.7');
    assert.equal(again.code, EXIT.ERROR);
    assert.match(again.err, /not banned/);
    const all = await run('unban', '--all');
    assert.equal(all.code, EXIT.OK);
    assert.deepEqual(api.calls.at(-1), { method: 'unban', args: [{ all: true }] });
    assert.equal(api.bans.length, 0);
  });

  it('reload names what was reloaded', async () => {
    const r = await run('reload', 'asterisk');
    assert.equal(r.code, EXIT.OK);
    assert.equal(r.out, 'reloaded: asterisk; started: -; stopped: -\n');
  });

  it('version prints the client and the daemon', async () => {
    const r = await run('version');
    assert.equal(r.code, EXIT.OK);
    assert.match(r.out, /^asterisk-ban \d+\.\d+\.\d+\ndaemon: 9\.9\.9, pid 4242, up 1h2m3s\n$/);
  });

  it('finds the socket through ASTERISK_BAN_SOCKET', async () => {
    const r = await cli(['list', '--json'], { ASTERISK_BAN_SOCKET: socket });
    assert.equal(r.code, EXIT.OK, r.err);
  });
});

describe('cli without a daemon', () => {
  it('exits 3 with one clear line, and where it looked, when nothing listens', async () => {
    const r = await cli(['--socket', '/nonexistent/ab.sock', 'status']);
    assert.equal(r.code, EXIT.NOT_RUNNING);
    assert.equal(r.err, 'asterisk-ban is not running (no socket at /nonexistent/ab.sock)\n  hint: tried /nonexistent/ab.sock (from --socket); --config DIR or --socket PATH reaches another daemon\n');
  });

  it('version still prints the client version', async () => {
    const r = await cli(['--socket', '/nonexistent/ab.sock', 'version']);
    assert.equal(r.code, EXIT.OK);
    assert.match(r.out, /daemon: not running/);
  });

  it('maps EACCES on the socket to exit 4 with a hint', () => {
    const err = connectError('/run/asterisk-ban/asterisk-ban.sock', Object.assign(new Error('x'), { code: 'EACCES' }));
    assert.equal(err.code, 'E_PERMISSION');
    assert.equal(err.message, "permission denied on /run/asterisk-ban/asterisk-ban.sock: run as root or as the daemon's user");
    assert.equal(exitCodeFor(err), EXIT.PERMISSION);
  });

  it('--help exits 0 and documents the exit codes', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, EXIT.OK);
    assert.match(r.out, /Exit codes:\n {2}0 {2}ok\n {2}1 .*\n {2}2 {2}usage error\n {2}3 .*not running.*\n {2}4 {2}permission denied/);
  });
});

describe('cli commands that work on the configuration', () => {
  it('check-config and run both read --config and exit 1 on a directory without a configuration', async () => {
    const tmp = tempDir();
    try {
      const check = await cli(['--config', tmp.dir, 'check-config']);
      assert.equal(check.code, 1);
      assert.ok(check.err.includes(tmp.dir), check.err);
      const run = await cli(['run'], { ASTERISK_BAN_CONFIG: tmp.dir, ASTERISK_BAN_SOCKET: join(tmp.dir, 'ab.sock') });
      assert.equal(run.code, 1);
    } finally {
      tmp.remove();
    }
  });
});

describe('cli list with a million bans', () => {
  it('prints the table without overflowing the stack', async () => {
    const { formatBans } = await import('../../src/cli/format.js');
    const one = { jail: 'asterisk', ip: '203.0.113.5', since: '2026-11-27T12:00:00.000Z', until: null, count: 1, source: 'ami', reason: 'InvalidPassword' };
    const text = formatBans(new Array(1_000_000).fill(one));
    assert.equal(text.split('\n').length, 1_000_002);
  });
});

describe('the executable in a checkout that was never built', () => {
  it('says to build first, for every command, test-filter (whose worker starts early) included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'asb-unbuilt-'));
    try {
      cpSync(join(repoRoot, 'bin'), join(dir, 'bin'), { recursive: true });
      cpSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
      for (const args of [['test-filter', 'x.log', 'asterisk'], ['list']]) {
        const r = spawnSync(process.execPath, [join(dir, 'bin', 'asterisk-ban.js'), ...args], { encoding: 'utf8', timeout: 20_000 });
        assert.equal(r.status, 1, args[0]);
        assert.equal(r.stderr, 'asterisk-ban: not built yet: run `npm ci` (or `npm run build`) in the asterisk-ban directory first\n', args[0]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
