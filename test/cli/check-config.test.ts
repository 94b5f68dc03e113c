import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../../src/cli/check-config.js';
import { repoRoot } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'ab-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The shipped configuration with one filter .local laid over it. */
function shippedWith(local: string): string {
  const dir = mkdtempSync(join(tmp, 'cfg-'));
  cpSync(join(repoRoot, 'config'), dir, { recursive: true });
  writeFileSync(join(dir, 'filter.d', 'asterisk.local'), local);
  return dir;
}

test('an openregex list that no longer pairs with closeregex is named at its line, once for filter and gap filter', () => {
  const dir = shippedWith('[Definition]\nopenregex = ^Foo <HOST>\n');
  const r = checkConfig(dir, {});
  assert.equal(r.errors.length, 1, r.errors.map((e) => e.describe()).join('\n'));
  assert.equal(r.errors[0]!.code, 'E_FILTER');
  assert.match(r.errors[0]!.describe(), /asterisk\.local:2: filter "asterisk" has 1 openregex .* but 10 closeregex \(.*asterisk\.conf:\d+\) lines/);
});

test('a tailregex without <HOST> is refused at its line', () => {
  const dir = shippedWith('[Definition]\ntailregex = ^Host (\\S+) failed\n');
  const r = checkConfig(dir, {});
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!.describe(), /asterisk\.local:2: tailregex .* has no <HOST>/);
  assert.match(r.errors[0]!.describe(), /every tailregex must say where the address is/);
});

test('the shipped configuration passes', () => {
  const r = checkConfig(join(repoRoot, 'config'), {});
  assert.deepEqual(r.errors.map((e) => e.describe()), []);
});

test('check-config --dump prints each jail as it will run, secrets hidden', async () => {
  const { PassThrough } = await import('node:stream');
  const { checkConfigCommand } = await import('../../src/cli/check-config.js');
  const dir = shippedWith('[Definition]\n');
  writeFileSync(join(dir, 'jail.local'), '[asterisk]\nami_secret = s3cret-value\naction = sendmail-whois[dest=root, transport="smtp://u@mail.example.org:587"]\n  webhook[url="https://hooks.example.org/services/T0/B0/t0ken-in-path?k=1", secret=also-secret-0123456789]\n');
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const code = await checkConfigCommand({ config: dir, dump: true }, out, new PassThrough());
  assert.equal(code, 0);
  const jail = JSON.parse(text.trim().split('\n')[0]!) as { jail: string; maxretry: number; actions: { params: Record<string, string> }[]; ami: { secret: string } };
  assert.equal(jail.jail, 'asterisk');
  assert.equal(typeof jail.maxretry, 'number');
  assert.equal(jail.ami.secret, '(set)');
  assert.doesNotMatch(text, /s3cret-value/);
  assert.equal(jail.actions[0]!.params.transport, 'smtp://u@mail.example.org:587');
  assert.equal(jail.actions[1]!.params.url, 'https://hooks.example.org/(hidden)');
  assert.doesNotMatch(text, /t0ken-in-path|also-secret/);
  assert.match(text, /"alerts":\{"rules":\["compromise","health"\]/);
});

test('check-config --dump shows fleet mode and [Fleet], the Redis credentials hidden', async () => {
  const { PassThrough } = await import('node:stream');
  const { checkConfigCommand } = await import('../../src/cli/check-config.js');
  const dir = shippedWith('[Definition]\n');
  writeFileSync(join(dir, 'jail.local'), '[asterisk]\nfleet = counts\nfleet_maxretry = 8\n');
  writeFileSync(join(dir, 'asterisk-ban.local'), '[Fleet]\nredis = redis://pbx-1:fleet-s3cret@10.0.0.5:6379\nnode = pbx-1\n');
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  assert.equal(await checkConfigCommand({ config: dir, dump: true }, out, new PassThrough()), 0);
  const [jail, fleet] = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([jail!.fleet, jail!.fleetMaxretry], ['counts', 8]);
  assert.deepEqual((fleet!.fleet as Record<string, unknown>).redis, 'redis://10.0.0.5:6379');
  assert.deepEqual((fleet!.fleet as Record<string, unknown>).password, '(set)');
  assert.match(String((fleet!.fleet as Record<string, unknown>).file), /asterisk-ban\.local:1$/);
  assert.doesNotMatch(text, /fleet-s3cret/);
});

test('two jails never share a firewall table: a name used twice is refused, awkward jail names get their own', () => {
  const dir = shippedWith('[Definition]\n');
  writeFileSync(join(dir, 'jail.local'), [
    '[asterisk]\nbackend = log\nlogpath = /tmp/m\naction = nftables-allports[name=pbx]\n',
    '[second]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = /tmp/m\naction = nftables-allports[name=pbx]\n',
  ].join('\n'));
  const r = checkConfig(dir, {});
  assert.equal(r.errors.length, 1, r.errors.map((e) => e.describe()).join('\n'));
  assert.match(r.errors[0]!.describe(), /jail\.local:\d+: action nftables-allports of jail \[second\] would use the firewall name asban-pbx, which jail \[asterisk\] already uses/);
});

test('jail names with dots or over 22 characters each get a distinct, valid firewall name', async () => {
  const { nameFromJail } = await import('../../src/actions/params.js');
  const names = ['asterisk', 'asterisk.v6', 'asterisk_v6', 'a-very-long-jail-name-for-pbx-one', 'a-very-long-jail-name-for-pbx-two'].map(nameFromJail);
  assert.equal(new Set(names).size, names.length, names.join(' '));
  assert.equal(names[0], 'asterisk');
  for (const n of names) assert.match(n, /^[A-Za-z0-9_][A-Za-z0-9_-]{0,21}$/);
});
