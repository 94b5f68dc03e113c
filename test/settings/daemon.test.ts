import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettings, parseMetrics } from '../../src/settings/index.js';
import { configDir, configErrors, errorAt, STUB_FILTER } from './helpers.js';

const JAIL = '[j]\nenabled = true\nfilter = stub\nlogpath = /x\n';

function load(files: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  return loadSettings(configDir({ 'jail.conf': JAIL, 'filter.d/stub.conf': STUB_FILTER, ...files }), { env });
}

describe('daemon settings', () => {
  it('uses the defaults without asterisk-ban.conf', () => {
    const d = load({}).daemon;
    assert.equal(d.socket, '/run/asterisk-ban/asterisk-ban.sock');
    assert.equal(d.loglevel, 'info');
    assert.equal(d.metrics, null);
    assert.equal(d.dbpurgeage, 86400);
    assert.equal(d.asteriskConfig, '/etc/asterisk');
  });

  it('reads [Definition], resolving relative paths against the working directory', () => {
    const d = load({
      'asterisk-ban.conf': '[Definition]\nsocket = ./var/a.sock\ndbfile = /tmp/x.sqlite3\nloglevel = NOTICE\nlogtarget = SYSLOG\nlogjson = yes\nmetrics = 127.0.0.1:9797\ndbpurgeage = 1w\nasterisk_config = ./etc/asterisk\n',
    }).daemon;
    assert.deepEqual(d, {
      socket: resolve('./var/a.sock'), dbfile: '/tmp/x.sqlite3', loglevel: 'info', logtarget: 'syslog', logjson: true,
      metrics: { host: '127.0.0.1', port: 9797 }, dbpurgeage: 604800, asteriskConfig: resolve('./etc/asterisk'), fleet: null,
    });
  });

  it('lets asterisk-ban.local override asterisk-ban.conf, and the environment override both', () => {
    const files = {
      'asterisk-ban.conf': '[Definition]\nloglevel = info\nsocket = /a.sock\nmetrics = off\n',
      'asterisk-ban.local': '[Definition]\nloglevel = DEBUG\nsocket = /b.sock\n',
    };
    assert.deepEqual([load(files).daemon.loglevel, load(files).daemon.socket], ['debug', '/b.sock']);
    const d = load(files, {
      ASTERISK_BAN_SOCKET: '/c.sock', ASTERISK_BAN_DBFILE: 'rel.db', ASTERISK_BAN_LOGLEVEL: 'warning',
      ASTERISK_BAN_LOGTARGET: join(tmpdir(), 'ab.log'), ASTERISK_BAN_METRICS: '9100',
    }).daemon;
    assert.deepEqual([d.socket, d.dbfile, d.loglevel, d.logtarget, d.metrics], ['/c.sock', resolve('rel.db'), 'warn', join(tmpdir(), 'ab.log'), { host: '127.0.0.1', port: 9100 }]);
  });

  const levels: Array<[string, string]> = [['CRITICAL', 'error'], ['ERROR', 'error'], ['WARNING', 'warn'], ['NOTICE', 'info'], ['INFO', 'info'], ['DEBUG', 'debug']];
  for (const [name, level] of levels) {
    it(`maps loglevel ${name} to ${level}`, () => {
      assert.equal(load({ 'asterisk-ban.conf': `[Definition]\nloglevel = ${name}\n` }).daemon.loglevel, level);
    });
  }

  const bad: Array<[string, RegExp, RegExp?]> = [
    ['loglevel = loud', /bad value "loud" for loglevel/, /CRITICAL/],
    ['logjson = perhaps', /logjson/],
    ['metrics = localhost:http', /metrics: expected host:port/],
    ['metrics = 70000', /metrics/],
    ['dbpurgeage = -1', /dbpurgeage: expected a positive duration/],
    ['dbpurgeage = later', /dbpurgeage/],
    ['sockt = /x', /unknown option "sockt" in \[Definition\]/, /did you mean "socket"/],
    ['pidfile = /x', /unknown option "pidfile"/, /known options/],
    // A log file the daemon cannot write would silence it: refused, with where and why.
    ['logtarget = /nonexistent-asterisk-ban-dir/ab.log', /logtarget \/nonexistent-asterisk-ban-dir\/ab\.log cannot be written: its directory .* does not exist/, /console, stdout, journal or syslog/],
    [`logtarget = ${tmpdir()}`, /cannot be written: it is a directory/],
    ['logtarget = /etc/hostname/ab.log', /cannot be written: its directory \/etc\/hostname does not exist/],
  ];
  for (const [line, re, hint] of bad) {
    it(`rejects ${line} at asterisk-ban.conf:2`, () => {
      const errors = configErrors(() => load({ 'asterisk-ban.conf': `[Definition]\n${line}\n` }));
      const e = errorAt(errors, 'asterisk-ban.conf', 2);
      assert.match(e.message, re);
      if (hint) assert.match(e.hint ?? '', hint);
    });
  }

  it('names an unknown section, with a hint', () => {
    const errors = configErrors(() => load({ 'asterisk-ban.conf': '[Defintion]\nloglevel = info\n' }));
    assert.match(errorAt(errors, 'asterisk-ban.conf', 1).hint ?? '', /did you mean "Definition"/);
  });

  it('names the environment variable holding a bad value', () => {
    const errors = configErrors(() => load({}, { ASTERISK_BAN_LOGLEVEL: 'shouty' }));
    assert.equal(errors[0]!.location?.file, 'environment variable ASTERISK_BAN_LOGLEVEL');
  });

  const metrics: Array<[string, unknown]> = [
    ['off', null], ['no', null], ['9797', { host: '127.0.0.1', port: 9797 }], ['0.0.0.0:80', { host: '0.0.0.0', port: 80 }],
    ['[::1]:9797', { host: '::1', port: 9797 }], ['metrics.local:9797', { host: 'metrics.local', port: 9797 }],
    ['::1:9797', undefined], ['host:', undefined], ['host:0', undefined],
  ];
  for (const [text, want] of metrics) {
    it(`parses metrics = ${text}`, () => assert.deepEqual(parseMetrics(text), want));
  }
});

describe('[Fleet]', () => {
  const FLEET_JAIL = `${JAIL}fleet = bans\nfleet_maxretry = 8\n`;

  it('reads redis, node, prefix and the caps; the URL and password may come from .env', () => {
    const s = load({ 'jail.conf': FLEET_JAIL, 'asterisk-ban.local': '[Fleet]\nredis = redis://10.0.0.5:6379/2\nnode = pbx-1\nprefix = acme:\nremote_bans_per_minute = 50\n' });
    const f = s.daemon.fleet!;
    assert.equal(f.redis, 'redis://10.0.0.5:6379/2');
    assert.equal(f.node, 'pbx-1');
    assert.equal(f.prefix, 'acme:');
    assert.equal(f.remoteBansPerMinute, 50);
    assert.equal(f.tls, null);
    assert.deepEqual([s.jails[0]!.fleet, s.jails[0]!.fleetMaxretry], ['bans', 8]);
    const e = load({ 'jail.conf': JAIL, 'asterisk-ban.local': '[Fleet]\n', '.env': 'FLEET_REDIS_URL=rediss://ab:pw@redis.example.org:6380\nFLEET_REDIS_PASSWORD=hunter2-long\n' }).daemon.fleet!;
    assert.equal(e.redis, 'rediss://ab:pw@redis.example.org:6380');
    assert.equal(e.password, 'hunter2-long');
    assert.deepEqual(e.tls, { ca: null, cert: null, key: null, verify: true });
    assert.equal(load({}).daemon.fleet, null, 'no [Fleet]: no fleet');
    const counts = load({ 'jail.conf': `${JAIL}fleet = counts\n`, 'asterisk-ban.local': '[Fleet]\nredis = redis://x:6379\n' }).jails[0]!;
    assert.deepEqual([counts.fleet, counts.fleetMaxretry], ['counts', counts.maxretry], 'fleet_maxretry defaults to maxretry');
  });

  it('sentinels instead of a URL', () => {
    const f = load({ 'asterisk-ban.local': '[Fleet]\nsentinels = 127.0.0.1:26379 [::1]:26380, sentinel.example.org:26381\nsentinel_name = pbx\n' }).daemon.fleet!;
    assert.deepEqual(f.sentinels, [{ host: '127.0.0.1', port: 26379 }, { host: '::1', port: 26380 }, { host: 'sentinel.example.org', port: 26381 }]);
    assert.equal(f.sentinelName, 'pbx');
    assert.equal(f.redis, null);
  });

  const bad: [Record<string, string>, string, number, RegExp][] = [
    [{ 'asterisk-ban.local': '[Fleet]\nnode = a\n' }, 'asterisk-ban.local', 1, /\[Fleet\] needs redis/],
    [{ 'asterisk-ban.local': '[Fleet]\nredis = http://u:s3cret@x\n' }, 'asterisk-ban.local', 2, /redis = http:\/\/x is not a Redis URL/],
    [{ 'asterisk-ban.local': '[Fleet]\nredis = redis://x:6379\nnode = bad name\n' }, 'asterisk-ban.local', 3, /node = "bad name" is not usable/],
    [{ 'asterisk-ban.local': '[Fleet]\nredis = redis://x:6379\nsentinels = a:1\n' }, 'asterisk-ban.local', 3, /both redis and sentinels/],
    [{ 'asterisk-ban.local': '[Fleet]\nredis = redis://x:6379\nsentinels = nope\n' }, 'asterisk-ban.local', 3, /sentinels entry "nope" is not host:port/],
    [{ 'asterisk-ban.local': '[Fleet]\nredis = redis://x:6379\nredis_host = y\n' }, 'asterisk-ban.local', 3, /unknown option "redis_host" in \[Fleet\]/],
    [{ 'jail.conf': FLEET_JAIL }, 'jail.conf', 1, /jail \[j\] has fleet = bans but there is no \[Fleet\] section/],
    [{ 'jail.conf': `${JAIL}fleet = everywhere\n` }, 'jail.conf', 5, /fleet/],
    [{ 'jail.conf': `${JAIL}fleet = counts\nfleet_maxretry = 0\n`, 'asterisk-ban.local': '[Fleet]\nredis = redis://x:6379\n' }, 'jail.conf', 6, /fleet_maxretry/],
  ];
  for (const [files, file, line, re] of bad) {
    it(`rejects ${JSON.stringify(files).slice(0, 90)} at ${file}:${line}`, () => {
      const errors = configErrors(() => load(files));
      const e = errorAt(errors, file, line);
      assert.match(e.message, re);
      assert.doesNotMatch(errors.map((x) => x.describe()).join('\n'), /s3cret/);
    });
  }
});

describe('.env and the environment', () => {
  it('reads .env under the real environment without touching process.env', () => {
    const before = process.env.AMI_USERNAME;
    const s = load({ '.env': 'AMI_USERNAME=fromfile\nAMI_SECRET="with # hash"\nSMTP_URL=smtp://x\nOTHER=1\n' }, { AMI_USERNAME: 'fromenv', PATH: '/bin', SMTP_PASSWORD: 'pw' });
    assert.equal(s.env.AMI_USERNAME, 'fromenv');
    assert.equal(s.env.AMI_SECRET, 'with # hash');
    assert.equal(s.env.SMTP_PASSWORD, 'pw');
    assert.equal(s.env.OTHER, '1');
    assert.ok(!('PATH' in s.env), 'unrelated variables are not kept');
    assert.equal(s.jails[0]!.ami.username, 'fromenv');
    assert.equal(s.jails[0]!.ami.secret, 'with # hash');
    assert.equal(process.env.AMI_USERNAME, before);
  });

  it('writes .env into process.env only when asked, never overwriting', () => {
    const key = 'ASTERISK_BAN_TEST_ONLY_VAR';
    const dir = configDir({ 'jail.conf': JAIL, 'filter.d/stub.conf': STUB_FILTER, '.env': `${key}=fromfile\n` });
    try {
      loadSettings(dir, { env: {} });
      assert.equal(process.env[key], undefined);
      loadSettings(dir, { env: {}, writeEnv: true });
      assert.equal(process.env[key], 'fromfile');
    } finally {
      delete process.env[key];
    }
  });

  it('rejects a binary .env', () => {
    const errors = configErrors(() => load({ '.env': 'A=1\u0000\u0001' }));
    assert.match(errors[0]!.message, /binary/);
  });

  it('reports a missing configuration directory', () => {
    const errors = configErrors(() => loadSettings('/nonexistent/asterisk-ban-config', { env: {} }));
    assert.equal(errors[0]!.code, 'E_CONFIG_IO');
  });

  it('reports a directory without jail.conf', () => {
    const errors = configErrors(() => loadSettings(configDir({ 'asterisk-ban.conf': '[Definition]\n' }), { env: {} }));
    assert.match(errors[0]!.message, /no jail.conf or jail.local/);
  });
});
