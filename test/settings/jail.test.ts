import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettings } from '../../src/settings/index.js';
import type { JailSettings } from '../../src/settings/types.js';
import { configDir, configErrors, errorAt, STUB_FILTER } from './helpers.js';

/** A log-backend jail [j] starting at jail.conf line 1; extra option lines start at line 5. */
function jailConf(extra: string, head = ''): string {
  return `${head}[j]\nenabled = true\nfilter = stub\nlogpath = /var/log/asterisk/messages\n${extra}`;
}

function load(files: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  return loadSettings(configDir({ 'filter.d/stub.conf': STUB_FILTER, ...files }), { env });
}

function jail(extra: string, env: NodeJS.ProcessEnv = {}): JailSettings {
  return load({ 'jail.conf': jailConf(extra) }, env).jails[0]!;
}

describe('jail options', () => {
  it('applies fail2ban defaults', () => {
    const j = jail('');
    assert.equal(j.enabled, true);
    assert.equal(j.backend, 'log');
    assert.equal(j.maxretry, 5);
    assert.equal(j.findtime, 600);
    assert.equal(j.bantime, 600);
    assert.equal(j.ignoreself, true);
    assert.equal(j.verify, 'auto');
    assert.deepEqual(j.ami.events, ['InvalidAccountID', 'InvalidPassword', 'ChallengeResponseFailed', 'FailedACL']);
    assert.equal(j.line, 1);
  });

  const good: Array<[string, (j: JailSettings) => unknown, unknown]> = [
    ['maxretry = 3', (j) => j.maxretry, 3],
    ['findtime = 1h', (j) => j.findtime, 3600],
    ['bantime = 3d', (j) => j.bantime, 259200],
    ['bantime = -1', (j) => j.bantime, -1],
    ['bantime = 1w', (j) => j.bantime, 604800],
    ['bantime.increment = yes', (j) => j.increment.enabled, true],
    ['bantime.factor = 2.5', (j) => j.increment.factor, 2.5],
    ['bantime.formula = ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor', (j) => j.increment.formula, 'ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor'],
    ['bantime.multipliers = 1 2 4 8', (j) => j.increment.multipliers, [1, 2, 4, 8]],
    ['bantime.maxtime = 5w', (j) => j.increment.maxtime, 3024000],
    ['bantime.rndtime = 10m', (j) => j.increment.rndtime, 600],
    ['bantime.overalljails = on', (j) => j.increment.overalljails, true],
    ['ignoreself = 0', (j) => j.ignoreself, false],
    ['ignoreip = 10.0.0.1, 192.168.0.0/16 ::1\n  2001:db8::/32 pbx.example.org 10.1.0.0/255.255.0.0', (j) => j.ignoreip, ['10.0.0.1', '192.168.0.0/16', '::1', '2001:db8::/32', 'pbx.example.org', '10.1.0.0/16']],
    ['verify = conntrack', (j) => j.verify, 'conntrack'],
    ['verify = OFF', (j) => j.verify, 'off'],
    ['destemail = admin@example.org', (j) => j.destemail, 'admin@example.org'],
    ['sender = ban@example.org', (j) => j.sender, 'ban@example.org'],
    ['maxtracked = 1000', (j) => j.maxtracked, 1000],
    ['ipv6_prefix = 56', (j) => j.ipv6Prefix, 56],
    ['ipv6_prefix = 128', (j) => j.ipv6Prefix, 128],
    ['maxretry = 3', (j) => j.ipv6Prefix, 64],
    ['maxretry = 3', (j) => j.alerts, { rules: ['compromise', 'health'], compromiseFailures: 3, newNetworkDays: 30, newNetworkPrefix: [24, 48], wave: 0, amiDown: 60 }],
    ['alerts = compromise, new-network wave\nalert_wave = 1000', (j) => [j.alerts.rules, j.alerts.wave], [['compromise', 'new_network', 'wave'], 1000]],
    ['alerts = none', (j) => j.alerts.rules, []],
    ['alert_compromise_failures = 1\nalert_new_network_days = 7\nalert_new_network_prefix = 16 64\nalert_ami_down = 2m', (j) => [j.alerts.compromiseFailures, j.alerts.newNetworkDays, j.alerts.newNetworkPrefix, j.alerts.amiDown], [1, 7, [16, 64], 120]],
    ['readback = true', (j) => j.readback, true],
    ['backend = polling', (j) => j.backend, 'log'],
    ['backend = pyinotify', (j) => j.backend, 'log'],
    ['ami_events = InvalidPassword, FailedACL', (j) => j.ami.events, ['InvalidPassword', 'FailedACL']],
    ['ami_services = pjsip iax2', (j) => j.ami.services, ['PJSIP', 'IAX2']],
    ['ami_success_clears = no', (j) => j.ami.successClears, false],
    ['ami_challenge_window = 30', (j) => j.ami.challengeWindow, 30],
    ['ami_ping_interval = 1m', (j) => j.ami.pingInterval, 60],
    ['ami_ping_timeout = 3', (j) => j.ami.pingTimeout, 3],
    ['ami_port = 5039', (j) => j.ami.port, 5039],
    ['maxmatches = 10\nlogencoding = utf-8\nusedns = no\nmode = normal', (j) => j.enabled, true],
    ['action = fw[name=%(__name__)s, port="%(port)s"]\n  mail\nport = 5060', (j) => j.actions.map((a) => [a.name, a.params, a.line]), [['fw', { name: 'j', port: '5060' }, 5], ['mail', {}, 6]]],
    ['logpath = /a/*.log tail\n  /b head\n  /c /d', (j) => j.logpath.map((l) => [l.value, l.line]), [['/a/*.log', 5], ['/b', 6], ['/c', 7], ['/d', 7]]],
  ];
  for (const [extra, pick, want] of good) {
    it(`reads ${extra.split('\n')[0]}`, () => {
      const text = extra.startsWith('logpath') ? extra : extra;
      const files = { 'jail.conf': extra.startsWith('logpath') ? `[j]\nenabled = true\nfilter = stub\n\n${text}\n` : jailConf(`${text}\n`) };
      assert.deepEqual(pick(load(files).jails[0]!), want);
    });
  }

  const bad: Array<[string, RegExp, RegExp?]> = [
    ['maxretry = many', /bad value "many" for maxretry: expected a whole number of at least 1/],
    ['maxretry = 0', /for maxretry/],
    ['findtime = soon', /bad value "soon" for findtime: expected a duration/, /10m/],
    ['findtime = -1', /findtime: expected a positive duration/],
    ['bantime = 0', /bantime: expected a duration above 0/],
    ['bantime = 99999999999999999999w', /at most 3650d/],
    ['bantime = 1e308', /bantime/],
    ['findtime = 400000000', /at most 3650d/],
    ['bantime = 10 # ten seconds', /bantime/, /inline comments start with " ;"/],
    ['bantime.increment = maybe', /bantime.increment: expected true or false/],
    ['bantime.factor = x', /bantime.factor/],
    ['bantime.multipliers = 1 two 4', /bantime.multipliers entry "two"/],
    ['ignoreself = sometimes', /ignoreself/],
    ['ignoreip = 127.0.0.1/8 10.0.0.256', /ignoreip entry "10.0.0.256" is not an IP address/],
    ['ignoreip = 192.168.1.0/33', /ignoreip entry "192.168.1.0\/33"/],
    ['ignoreip = 2001:db8::zz', /ignoreip entry/],
    ['verify = maybe', /verify: expected one of auto, conntrack, off/],
    ['backend = systemd', /backend "systemd" \(the journal\) is not supported/],
    ['backend = bogus', /unknown backend "bogus"/],
    ['ami_port = 99999', /ami_port: expected a port/],
    ['ami_challenge_window = x', /ami_challenge_window/],
    ['maxtracked = -5', /maxtracked/],
    ['ipv6_prefix = 32', /bad value "32" for ipv6_prefix: expected a whole number from 48 to 128/],
    ['ipv6_prefix = /64', /ipv6_prefix/],
    ['alerts = compromise sunspots', /alerts: unknown rule "sunspots"/, /compromise, new_network, wave, health/],
    ['alert_compromise_failures = 0', /alert_compromise_failures/],
    ['alert_new_network_prefix = 24 200', /alert_new_network_prefix = "24 200" is not usable/],
    ['alert_wave = lots', /alert_wave/],
    ['alert_ami_down = 0', /alert_ami_down/],
    ['ami_events = InvalidPassword Failed-ACL', /ami_events entry "Failed-ACL" is not a name/],
    ['ami_services = PJSIP, S!P', /ami_services entry "S!P"/],
    ['readback = 2', /readback/],
    ['maxmatches = lots', /maxmatches/],
    ['action = fw[name=x', /"\[" after "fw" is never closed/],
    ['gapfilter = stub other', /gapfilter takes one filter, found 2/],
    ['maxretyr = 3', /unknown option "maxretyr" in jail \[j\]/, /did you mean "maxretry"/],
    ['loglevel = debug', /unknown option "loglevel"/, /daemon setting: put it in asterisk-ban.conf/],
    ['ignorecommand = /bin/true', /ignorecommand is not supported/],
  ];
  for (const [extra, re, hint] of bad) {
    it(`rejects ${extra} at jail.conf:5`, () => {
      const errors = configErrors(() => load({ 'jail.conf': jailConf(`${extra}\n`) }));
      const e = errorAt(errors, 'jail.conf', 5);
      assert.match(e.message, re);
      if (hint) assert.match(e.hint ?? '', hint);
    });
  }

  it('expands fail2ban\'s [DEFAULT] action_ chain for each jail', () => {
    const head = '[DEFAULT]\nbanaction = iptables-multiport\nport = 0:65535\nprotocol = tcp\nchain = INPUT\n' +
      'action_ = %(banaction)s[name=%(__name__)s, port="%(port)s", protocol="%(protocol)s", chain="%(chain)s"]\n' +
      'action_mw = %(action_)s\n            %(mta)s-whois[name=%(__name__)s, dest="%(destemail)s"]\nmta = sendmail\ndestemail = a@x\naction = %(action_mw)s\n';
    const s = load({ 'jail.conf': head + jailConf('port = 5060,5061\nprotocol = udp\n') });
    assert.deepEqual(s.jails[0]!.actions.map((a) => [a.name, a.params]), [
      ['iptables-multiport', { name: 'j', port: '5060,5061', protocol: 'udp', chain: 'INPUT' }],
      ['sendmail-whois', { name: 'j', dest: 'a@x' }],
    ]);
  });

  it('reports a bad [DEFAULT] value at its own line', () => {
    const errors = configErrors(() => load({ 'jail.conf': jailConf('', '[DEFAULT]\nbantime = forever\n\n') }));
    assert.match(errorAt(errors, 'jail.conf', 2).message, /bantime/);
  });

  it('reports every problem at once', () => {
    const errors = configErrors(() => load({ 'jail.conf': jailConf('maxretry = x\nfindtime = y\nbogus = 1\n') }));
    assert.equal(errors.length, 3);
    assert.deepEqual(errors.map((e) => e.location?.line).sort(), [5, 6, 7]);
  });

  it('ignores unknown options and bad values in disabled jails, and allows [DEFAULT]-only and helper keys', () => {
    const s = load({
      'jail.conf': '[DEFAULT]\nanything = 1\naction_mw = x\n[off]\nenabled = false\nbogus = 1\nmaxretry = x\n' + jailConf('_helper = 1\n').replace('[j]', '[on]'),
    });
    assert.deepEqual(s.jails.map((j) => [j.name, j.enabled]), [['off', false], ['on', true]]);
    assert.equal(s.jails[0]!.maxretry, 5);
    assert.equal(s.jails[1]!.options.anything, '1');
  });

  it('rejects a bad enabled value even so', () => {
    const errors = configErrors(() => load({ 'jail.conf': '[j]\nenabled = sure\n' }));
    assert.match(errorAt(errors, 'jail.conf', 2).message, /enabled/);
  });

  it('reports a missing filter file at the filter = line, naming what exists', () => {
    const errors = configErrors(() => load({ 'jail.conf': '[j]\nenabled = true\n\nfilter = stubb\nlogpath = /x\n' }));
    const e = errorAt(errors, 'jail.conf', 4);
    assert.match(e.message, /filter "stubb" not found/);
    assert.match(e.hint ?? '', /did you mean "stub"/);
  });

  it('requires filter and logpath for the log backend', () => {
    const errors = configErrors(() => load({ 'jail.conf': '[j]\nenabled = true\nbackend = log\n' }));
    assert.ok(errors.some((e) => /has no filter/.test(e.message)));
    assert.ok(errors.some((e) => /has no logpath/.test(e.message)));
  });

  it('passes filter parameters and loads the gap filter', () => {
    const filter = '[Init]\nmode = normal\n[Definition]\nfailregex = ^%(mode)s from <HOST>$\n';
    const s = load({
      'filter.d/f.conf': filter,
      'jail.conf': '[j]\nenabled = true\nbackend = auto\nfilter = f\ngapfilter = f[mode=gaps]\nlogpath = /x\n',
    }, { AMI_USERNAME: 'ab', AMI_SECRET: 's3cr3t' });
    const j = s.jails[0]!;
    assert.equal(j.filterDef?.failregex[0]?.value, '^normal from <HOST>$');
    assert.deepEqual(j.gapfilter?.params, { mode: 'gaps' });
    assert.equal(j.gapFilterDef?.failregex[0]?.value, '^gaps from <HOST>$');
  });

  it('lets the jail override its filter\'s failregex, checking host tags there too', () => {
    const s = load({ 'jail.conf': jailConf('failregex = ^other <HOST>$\n') });
    assert.deepEqual(s.jails[0]!.filterDef?.failregex.map((l) => [l.value, l.line]), [['^other <HOST>$', 5]]);
    const errors = configErrors(() => load({ 'jail.conf': jailConf('failregex = ^other <HOST>$\n  tail\n') }));
    assert.match(errorAt(errors, 'jail.conf', 6).message, /no <HOST>/);
  });

  it('puts every interpolated option into options, without secrets', () => {
    const j = jail('destemail = a@x\nsubject = x\nami_secret = hunter2\n'.replace('subject = x\n', ''));
    assert.equal(j.options.destemail, 'a@x');
    assert.equal(j.options.maxretry, undefined);
    assert.equal(j.options.filter, 'stub');
    assert.ok(!('ami_secret' in j.options));
    assert.equal(j.ami.secret, 'hunter2');
  });

  it('skips [DEFAULT] helpers that cannot be interpolated for this jail', () => {
    const j = load({ 'jail.conf': jailConf('', '[DEFAULT]\naction_mwl = %(undefined_thing)s\n') }).jails[0]!;
    assert.ok(!('action_mwl' in j.options));
  });
});

describe('AMI settings and secrets', () => {
  it('falls back to AMI_* environment variables; jail options win', () => {
    const env = { AMI_HOST: '10.0.0.5', AMI_PORT: '5039', AMI_USERNAME: 'envuser', AMI_SECRET: 'envsecret' };
    const a = jail('', env);
    assert.deepEqual([a.ami.host, a.ami.port, a.ami.username, a.ami.secret, a.backend], ['10.0.0.5', 5039, 'envuser', 'envsecret', 'auto']);
    const b = jail('ami_host = ::1\nami_username = jailuser\n', env);
    assert.deepEqual([b.ami.host, b.ami.username], ['::1', 'jailuser']);
  });

  it('takes a secret verbatim (a % in a password works)', () => {
    assert.equal(jail('ami_secret = 50%(off\n').ami.secret, '50%(off');
  });

  it('never shows a secret in an error message', () => {
    const secret = 'Tr0ub4dor&3-unique';
    const cases: Array<[Record<string, string>, NodeJS.ProcessEnv]> = [
      [{ 'jail.conf': jailConf(`ami_secret = ${secret}\nami_secrte = ${secret}\naction = fw[pw="%(ami_secret)s]\n`) }, {}],
      [{ 'jail.conf': jailConf(`ami_port = x\nbackend = ami\n`) }, { AMI_SECRET: secret, AMI_PORT: secret }],
      [{ 'jail.conf': jailConf(`smtp_password = ${secret}\n`) }, {}],
      [{ 'jail.conf': jailConf(`ami_secret = 5% ${secret}\naction = fw[pw="%(ami_secret)s"]\n`) }, {}],
    ];
    for (const [files, env] of cases) {
      const errors = configErrors(() => load(files, env));
      for (const e of errors) assert.ok(!e.describe().includes(secret), e.describe());
    }
  });

  it('requires AMI credentials for backend = ami, without printing them', () => {
    const errors = configErrors(() => load({ 'jail.conf': '[j]\nenabled = true\nbackend = ami\n' }));
    assert.ok(errors.some((e) => /no AMI user name/.test(e.message)));
    assert.ok(errors.some((e) => /no AMI secret/.test(e.message) && /AMI_SECRET/.test(e.hint ?? '')));
  });

  it('reports a bad AMI_PORT from the environment by name', () => {
    const errors = configErrors(() => jail('', { AMI_PORT: 'http' }));
    assert.equal(errors[0]!.location?.file, 'environment variable AMI_PORT');
  });
});
