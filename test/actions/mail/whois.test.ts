import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryWhoisServer, runWhoisCommand, WhoisCache, WHOIS_MAX_BYTES, type WhoisResult } from '../../../src/actions/mail/whois.js';
import { ManualClock } from '../../../src/core/clock.js';
import { startFakeWhois } from '../../helpers/fake-whois.js';

const dir = await mkdtemp(join(tmpdir(), 'ab-whois-'));
after(() => rm(dir, { recursive: true, force: true }));

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/usr/bin/env node\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

test('direct query sends "ADDRESS\\r\\n" and returns the answer', async () => {
  const w = await startFakeWhois();
  try {
    const r = await queryWhoisServer('203.0.113.5', '127.0.0.1', w.port, 2000);
    assert.deepEqual(w.queries, ['203.0.113.5']);
    assert.deepEqual(r, { ok: true, text: '% fake whois\nnetname: TEST-NET-203.0.113.5\ncountry: ZZ\n', truncated: false });
  } finally {
    await w.close();
  }
});

test('direct query: output is cut at the bound', async () => {
  const w = await startFakeWhois({ answer: () => 'x'.repeat(WHOIS_MAX_BYTES * 4) });
  try {
    const r = await queryWhoisServer('2001:db8::1', '127.0.0.1', w.port, 5000);
    assert.equal(r.ok, true);
    assert.ok(r.ok && r.truncated && r.text.length === WHOIS_MAX_BYTES);
  } finally {
    await w.close();
  }
});

test('direct query: a server that never answers times out, a closed port fails', async () => {
  const w = await startFakeWhois({ hang: true });
  try {
    const r = await queryWhoisServer('192.0.2.1', '127.0.0.1', w.port, 150);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /no answer .* within 150 ms/);
  } finally {
    await w.close();
  }
  const refused = await queryWhoisServer('192.0.2.1', '127.0.0.1', w.port, 2000);
  assert.deepEqual(refused, { ok: false, error: `127.0.0.1:${w.port}: ECONNREFUSED` });
});

test('system client: argv without a shell, "--" before the address', async () => {
  const out = join(dir, 'argv.json');
  const cmd = await script('whois-ok', `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.argv.slice(2))); process.stdout.write('netname: CMD\\n');`);
  const r = await runWhoisCommand('203.0.113.5', 5000, cmd);
  assert.deepEqual(r, { ok: true, text: 'netname: CMD\n', truncated: false });
  assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), ['--', '203.0.113.5']);
});

test('system client: a hanging whois is killed at the timeout, endless output is bounded', async () => {
  const hang = await script('whois-hang', 'setInterval(() => {}, 1000);');
  const r = await runWhoisCommand('203.0.113.5', 300, hang);
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, /no answer within 300 ms/);
  const flood = await script('whois-flood', "const b = 'y'.repeat(65536); (function w() { process.stdout.write(b, w); })();");
  const f = await runWhoisCommand('203.0.113.5', 5000, flood);
  assert.ok(f.ok && f.truncated && f.text.length <= WHOIS_MAX_BYTES);
  const missing = await runWhoisCommand('203.0.113.5', 1000, join(dir, 'no-such-whois'));
  assert.deepEqual(missing, { ok: false, error: `${join(dir, 'no-such-whois')}: ENOENT` });
});

test('cache: one lookup per address while fresh, shared by concurrent asks; failures are not kept', async () => {
  const clock = new ManualClock();
  const calls: string[] = [];
  let fail = true;
  const cache = new WhoisCache({ server: null, port: 43, timeoutMs: 1000 }, clock, async (a): Promise<WhoisResult> => {
    calls.push(a);
    return fail ? { ok: false, error: 'down' } : { ok: true, text: `t-${a}`, truncated: false };
  });
  assert.equal((await cache.get('192.0.2.1')).ok, false);
  fail = false;
  const [a, b] = await Promise.all([cache.get('192.0.2.1'), cache.get('192.0.2.1')]);
  assert.deepEqual(a, b);
  assert.equal(calls.length, 2);
  clock.advance(3600_000);
  await cache.get('192.0.2.1');
  assert.equal(calls.length, 2);
  assert.ok(cache.peek('192.0.2.1'));
  assert.equal(cache.peek('192.0.2.2'), null);
  clock.advance(6 * 3600_000);
  assert.equal(cache.peek('192.0.2.1'), null);
  await cache.get('192.0.2.1');
  assert.equal(calls.length, 3);
});

test('cache: a lookup that throws or rejects resolves as unavailable', async () => {
  const clock = new ManualClock();
  const throwing = new WhoisCache({ server: null, port: 43, timeoutMs: 1000 }, clock, () => {
    throw new Error('boom');
  });
  assert.deepEqual(await throwing.get('192.0.2.1'), { ok: false, error: 'boom' });
  const rejecting = new WhoisCache({ server: null, port: 43, timeoutMs: 1000 }, clock, () => Promise.reject(new Error('nope')));
  assert.deepEqual(await rejecting.get('192.0.2.1'), { ok: false, error: 'nope' });
  assert.equal(rejecting.peek('192.0.2.1'), null);
});
