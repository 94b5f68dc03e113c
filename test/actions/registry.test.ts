import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAction, validateInvocation, actionNames, withHostnameTags } from '../../src/actions/registry.js';
import { parsePorts, multiportChunks } from '../../src/actions/ports.js';
import { DryRunAction } from '../../src/actions/dry-run.js';
import { countingRunner, type CommandRunner } from '../../src/actions/exec.js';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import type { Ban } from '../../src/core/types.js';
import { AsteriskBanError } from '../../src/core/errors.js';

const clock = new ManualClock();
const deps = (run?: CommandRunner) => ({ jail: defaultJailSettings('asterisk'), logger: silentLogger(), clock, env: {}, run });
const spec = (name: string, params: Record<string, string> = {}) => ({ name, params, file: '/etc/asterisk-ban/jail.local', line: 12 });
const ban = (ip: string): Ban => ({ jail: 'asterisk', ip, family: 4, start: clock.now(), end: clock.now() + 60_000, count: 1, source: 'manual', reason: 't', failures: [] });

describe('validateInvocation', () => {
  const table: { name: string; params?: Record<string, string>; code: string | null; hint?: RegExp; message?: RegExp }[] = [
    { name: 'iptables-allports', params: { name: 'ASTERISK', protocol: 'all' }, code: null },
    { name: 'iptables-multiport', params: { name: 'asterisk', port: '"5060,5061,4569"', protocol: 'udp', bantime: '600', actname: 'x' }, code: null },
    { name: 'iptables-multiport', params: { port: '10000:20000', chain: 'INPUT', blocktype: 'DROP' }, code: null },
    { name: 'iptables-ipset-proto6-allports', params: { keep: 'yes' }, code: null },
    { name: 'nftables', params: { type: 'allports', returntype: 'RETURN', lockingopt: '-w' }, code: null },
    { name: 'sendmail-whois', params: { name: 'ASTERISK', dest: 'root@localhost', sender: 'ban@localhost' }, code: null },
    { name: 'dry-run', code: null },
    { name: 'iptables-allport', code: 'E_ACTION_UNKNOWN', hint: /did you mean "iptables-allports"/ },
    { name: 'nftable', code: 'E_ACTION_UNKNOWN', hint: /"nftables"/ },
    { name: 'iptables-allports', params: { protcol: 'all' }, code: 'E_CONFIG', hint: /did you mean "protocol"/ },
    { name: 'iptables-allports', params: { protocol: 'icmp' }, code: 'E_CONFIG', message: /protocol/ },
    { name: 'iptables-multiport', params: { port: '5060,nosuchservice' }, code: 'E_CONFIG', message: /nosuchservice/ },
    { name: 'iptables-multiport', params: { port: '20000:10000' }, code: 'E_CONFIG', message: /backwards/ },
    { name: 'iptables-allports', params: { name: 'x; rm -rf /' }, code: 'E_CONFIG', message: /name/ },
    { name: 'iptables-allports', params: { blocktype: 'ACCEPT' }, code: 'E_CONFIG', message: /blocktype/ },
    { name: 'iptables-allports', params: { keep: 'yes' }, code: 'E_CONFIG', message: /keep/ },
    { name: 'iptables-allports', params: { iptables: '$(reboot)' }, code: 'E_CONFIG', message: /program/ },
  ];
  for (const row of table) {
    it(`${row.name}[${JSON.stringify(row.params ?? {})}] → ${row.code ?? 'ok'}`, () => {
      const errors = validateInvocation(spec(row.name, row.params));
      if (row.code === null) return assert.deepEqual(errors.map((e) => e.describe()), []);
      assert.equal(errors[0]?.code, row.code);
      assert.deepEqual(errors[0]?.location, { file: '/etc/asterisk-ban/jail.local', line: 12 });
      assert.match(errors[0]!.describe(), /^\/etc\/asterisk-ban\/jail\.local:12: /);
      if (row.hint) assert.match(errors[0]!.hint ?? '', row.hint);
      if (row.message) assert.match(errors[0]!.message, row.message);
    });
  }

  it('lists firewall and mail actions', () => {
    for (const n of ['iptables-allports', 'iptables-multiport', 'iptables-ipset', 'iptables-ipset-proto6', 'nftables-allports', 'nftables-multiport', 'dry-run', 'sendmail-whois']) {
      assert.ok(actionNames().includes(n), n);
    }
  });

  it('createAction throws the first error', () => {
    assert.throws(() => createAction(spec('iptables-allprots'), deps()), { code: 'E_ACTION_UNKNOWN' });
  });
});

describe('ports', () => {
  it('parses numbers, ranges and service names', () => {
    assert.deepEqual(parsePorts('5060, 10000:20000,sip-tls', new Map([['sip-tls', 5061]])), [
      { from: 5060, to: 5060 }, { from: 10000, to: 20000 }, { from: 5061, to: 5061 },
    ]);
    assert.throws(() => parsePorts('0'), { code: 'E_CONFIG' });
    assert.throws(() => parsePorts('65536'), { code: 'E_CONFIG' });
  });
  it('splits multiport lists at 15 ports, ranges counting two', () => {
    const ports = Array.from({ length: 10 }, (_, i) => ({ from: 1000 + i * 10, to: 1000 + i * 10 + 1 }));
    const chunks = multiportChunks(ports);
    assert.equal(chunks.length, 2);
    assert.equal(chunks[0]!.split(',').length, 7);
  });
});

describe('command building (no kernel)', () => {
  it('sends one iptables-restore with only validated addresses, never through a shell', async () => {
    const inputs: string[] = [];
    const fake: CommandRunner = async (_file, args, opts) => {
      inputs.push(opts?.input ?? '');
      return { stdout: args[0] === '-t' ? '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n' : '', stderr: '', code: 0 };
    };
    const run = countingRunner(fake);
    const a = createAction(spec('iptables-allports', { name: 'ASTERISK' }), deps(run));
    await a.start();
    const before = run.calls.length;
    await a.ban([ban('203.0.113.5'), ban('::ffff:203.0.113.6'), { ...ban('203.0.113.7\n-A INPUT -j ACCEPT'), ip: '203.0.113.7\n-A INPUT -j ACCEPT' }], { restored: false });
    const banCalls = run.calls.slice(before).filter((c) => c.file.endsWith('restore'));
    assert.equal(banCalls.length, 1);
    const doc = inputs.at(-1 - (run.calls.length - before - 1))!;
    assert.match(doc, /-I asban-ASTERISK 1 -s 203\.0\.113\.5 -j REJECT --reject-with icmp-port-unreachable/);
    assert.match(doc, /-s 203\.0\.113\.6 /);
    assert.doesNotMatch(doc, /203\.0\.113\.7/);
    assert.doesNotMatch(doc, /-j ACCEPT/);
  });
});

describe('hosts without IPv6', () => {
  const noV6: CommandRunner = async (file, args) => {
    if (file.startsWith('ip6tables')) {
      throw new AsteriskBanError('E_ACTION', `${file} failed (exit 3): can't initialize ip6tables table \`filter': Address family not supported by protocol`);
    }
    return { stdout: args[0] === '-t' ? '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n' : '', stderr: '', code: 0 };
  };

  it('allowipv6 = auto bans IPv4 only when ip6tables cannot work', async () => {
    const run = countingRunner(noV6);
    const a = createAction(spec('iptables-allports', { name: 'ASTERISK' }), deps(run));
    await a.start();
    const before = run.calls.length;
    await a.ban([ban('203.0.113.5'), { ...ban('2001:db8::5'), family: 6, ip: '2001:db8::5' }], { restored: false });
    const files = run.calls.slice(before).map((c) => c.file).filter((f) => f.includes('tables'));
    assert.deepEqual(files, ['iptables-restore']);
  });

  it('allowipv6 = yes fails loudly instead', async () => {
    const a = createAction(spec('iptables-allports', { name: 'ASTERISK', allowipv6: 'yes' }), deps(noV6));
    await assert.rejects(a.start(), { code: 'E_ACTION' });
  });
});

describe('dry-run', () => {
  it('records calls and holds what it would ban', async () => {
    const a = createAction(spec('dry-run'), deps()) as DryRunAction;
    await a.start();
    await a.ban([ban('203.0.113.5'), ban('bogus')], { restored: true });
    assert.deepEqual(await a.list(), ['203.0.113.5']);
    await a.unban([ban('203.0.113.5')]);
    assert.deepEqual(await a.list(), []);
    assert.deepEqual(a.calls.map((c) => c.op), ['start', 'ban', 'unban']);
    assert.equal(a.calls[1]!.restored, true);
    for (let i = 0; i < 5000; i++) await a.ban([ban(`198.51.100.${i % 250}`)], { restored: false });
    assert.equal(a.calls.length, 1000, 'a long dry run keeps only its latest calls');
    assert.equal(a.calls.at(-1)!.ips[0], '198.51.100.249');
  });
});

it("fail2ban's <fq-hostname> and <sh-hostname> tags take this host's names, anywhere in a parameter", () => {
  const spec = { name: 'sendmail-whois', params: { sender: 'root@<fq-hostname>', dest: 'admin', subject: 'on <sh-hostname>' }, file: 'jail.conf', line: 181 };
  const filled = withHostnameTags(spec, 'pbx1.example.org');
  assert.deepEqual(filled.params, { sender: 'root@pbx1.example.org', dest: 'admin', subject: 'on pbx1' });
  const plain = { ...spec, params: { dest: 'admin' } };
  assert.equal(withHostnameTags(plain, 'x'), plain, 'no tag: the invocation as given');
});
