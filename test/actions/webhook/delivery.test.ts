import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { alert, ban, closedPort, HOSTILE, nthAddress, SECRET, startHookServer, TOKEN_PATH, webhook, type Received } from './support.js';

const server = await startHookServer();
after(() => server.close());

type Json = Record<string, unknown>;

/** Requests to one test's own path, so tests sharing the server never see each other's. */
function receivedAt(path: string): Received[] {
  return server.received.filter((r) => r.path === path);
}
let pathSeq = 0;
const newPath = (): string => `${TOKEN_PATH}/${++pathSeq}?token=querytoken${pathSeq}`;

function assertNoLeak(texts: string[], path: string): void {
  for (const t of texts) {
    for (const bad of [path, 'tokenXyZ', 'querytoken', 'services/T0AAAA', SECRET]) assert.equal(t.includes(bad), false, `"${bad}" leaked: ${t}`);
  }
}

test('json: a ban and an alert arrive as one signed POST; the HMAC checks out', async () => {
  const path = newPath();
  const { a, d } = webhook({ url: 'env:HOOK_URL', secret: 'env:WEBHOOK_SECRET' }, { HOOK_URL: server.url(path), WEBHOOK_SECRET: SECRET });
  await a.start();
  await a.ban([ban('203.0.113.5')], { restored: false });
  await a.alert([alert()]);
  await a.settled();
  d.clock.advance(60_000);
  await a.settled();
  const got = receivedAt(path);
  assert.equal(got.length, 2, 'the ban at once, and the high alert too: it does not wait for the digest');
  const [first, second] = got as [Received, Received];
  assert.equal(first.method, 'POST');
  assert.equal(first.headers['content-type'], 'application/json');
  const p1 = JSON.parse(first.body.toString('utf8')) as Json;
  assert.equal(p1.source, 'asterisk-ban');
  assert.equal(p1.host, 'pbx1.example.org');
  assert.deepEqual((p1.events as Json[]).map((e) => [e.type, e.address, e.accounts]), [['ban', '203.0.113.5', ['1001']]]);
  const p2 = JSON.parse(second.body.toString('utf8')) as Json;
  assert.deepEqual((p2.events as Json[]).map((e) => [e.type, e.rule, e.severity, e.summary]), [['alert', 'compromise', 'high', alert().summary]]);

  for (const [r, at] of [[first, d.clock.now() - 60_000], [second, d.clock.now() - 60_000]] as const) {
    const ts = r.headers['x-asterisk-ban-timestamp'] as string;
    assert.equal(ts, String(Math.floor(at / 1000)));
    const expected = createHmac('sha256', SECRET).update(Buffer.concat([Buffer.from(`${ts}.`), r.body])).digest('hex');
    assert.equal(r.headers['x-asterisk-ban-signature'], `sha256=${expected}`);
    // A changed body no longer matches.
    const forged = createHmac('sha256', SECRET).update(`${ts}.${r.body.toString('utf8').replace('203.0.113.5', '198.51.100.1')}`).digest('hex');
    assert.notEqual(`sha256=${forged}`, r.headers['x-asterisk-ban-signature']);
  }
  await a.stop();
  assertNoLeak(d.lines, path);
  assert.ok(d.lines.some((l) => l.includes(`"to":"http://127.0.0.1:${server.port}"`)), 'logs name scheme and host');
});

test('without a secret there is no signature header', async () => {
  const path = newPath();
  const { a } = webhook({ url: server.url(path) });
  await a.start();
  await a.ban([ban('203.0.113.6')], { restored: false });
  await a.settled();
  await a.stop();
  const [r] = receivedAt(path);
  assert.ok(r);
  assert.equal(r.headers['x-asterisk-ban-signature'], undefined);
  assert.equal(r.headers['x-asterisk-ban-timestamp'], undefined);
});

test('slack: a hostile account name arrives as valid JSON with no mention or formatting', async () => {
  const path = newPath();
  const { a } = webhook({ url: server.url(path), format: 'slack' });
  await a.start();
  await a.ban([ban('203.0.113.7', { failures: [{ ip: '203.0.113.7', family: 4, time: 0, source: 'ami', reason: 'InvalidPassword', account: HOSTILE }] })], { restored: false });
  await a.settled();
  await a.stop();
  const [r] = receivedAt(path);
  const p = JSON.parse(r!.body.toString('utf8')) as Json;
  assert.deepEqual(Object.keys(p).sort(), ['blocks', 'text']);
  const text = JSON.stringify(p);
  for (const bad of ['<!channel>', '@here', '\\r', '\\n*bold']) assert.equal(text.includes(bad), false, bad);
});

test('teams and mattermost arrive as JSON in their shapes', async () => {
  for (const format of ['teams', 'mattermost']) {
    const path = newPath();
    const { a } = webhook({ url: server.url(path), format });
    await a.start();
    await a.alert([alert()]);
    await a.settled();
    await a.stop();
    const [r] = receivedAt(path);
    const p = JSON.parse(r!.body.toString('utf8')) as Json;
    if (format === 'teams') {
      assert.equal(p.type, 'message');
      assert.equal(((p.attachments as Json[])[0]!.content as Json).type, 'AdaptiveCard');
    } else {
      assert.match(p.text as string, /^\*\*asterisk-ban asterisk: high alert, compromise\*\*/);
    }
  }
});

test('ntfy: plain text body with Title, Priority and Tags headers', async () => {
  const path = newPath();
  const { a } = webhook({ url: server.url(path), format: 'ntfy', name: 'PBX' });
  await a.start();
  await a.alert([alert()]);
  await a.settled();
  await a.stop();
  const [r] = receivedAt(path);
  assert.equal(r!.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(r!.headers.title, 'asterisk-ban PBX: high alert, compromise');
  assert.equal(r!.headers.priority, '5');
  assert.equal(r!.headers.tags, 'rotating_light');
  assert.match(r!.body.toString('utf8'), /^high alert, compromise \["203\.0\.113\.5"\]: account "6001" logged in/);
});

test('server down: tried `retries` times with backoff, then dropped, counted and logged; nothing leaks', async () => {
  const port = await closedPort();
  const path = newPath();
  const { a, d } = webhook({ url: `http://127.0.0.1:${port}${path}`, retries: '3', secret: SECRET });
  await a.start();
  await a.ban([ban('203.0.113.8')], { restored: false });
  await a.settled();
  assert.deepEqual(a.stats(), { pending: 0, queued: 1, sent: 0, failedAttempts: 1, dropped: 0 });
  d.clock.advance(1_999);
  await a.settled();
  assert.equal(a.stats().failedAttempts, 1, 'first retry after 2 s');
  d.clock.advance(1);
  await a.settled();
  assert.equal(a.stats().failedAttempts, 2);
  d.clock.advance(3_999);
  await a.settled();
  assert.equal(a.stats().failedAttempts, 2, 'second retry after 4 more s');
  d.clock.advance(1);
  await a.settled();
  assert.deepEqual(a.stats(), { pending: 0, queued: 0, sent: 0, failedAttempts: 3, dropped: 1 });
  assert.ok(d.lines.some((l) => /webhook: message dropped after 3 failed attempts/.test(l) && /ECONNREFUSED/.test(l)), d.lines.join(''));
  assert.ok(d.lines.some((l) => /webhook not delivered, retrying in 2 s/.test(l)));
  await a.stop();
  assertNoLeak(d.lines, path);
});

test('server answering 500 then 200: delivered on the retry, with a fresh signature', async () => {
  const path = newPath();
  server.statuses.push(500);
  const { a, d } = webhook({ url: server.url(path), secret: SECRET });
  await a.start();
  await a.ban([ban('203.0.113.10')], { restored: false });
  await a.settled();
  assert.equal(a.stats().failedAttempts, 1);
  // The server's error page echoes the path; our log line must not.
  assert.ok(d.lines.some((l) => /answered HTTP 500/.test(l)));
  d.clock.advance(2_000);
  await a.settled();
  assert.deepEqual(a.stats(), { pending: 0, queued: 0, sent: 1, failedAttempts: 1, dropped: 0 });
  const got = receivedAt(path);
  assert.equal(got.length, 2);
  assert.equal(got[0]!.body.toString(), got[1]!.body.toString());
  assert.equal(Number(got[1]!.headers['x-asterisk-ban-timestamp']) - Number(got[0]!.headers['x-asterisk-ban-timestamp']), 2);
  await a.stop();
  assertNoLeak(d.lines, path);
});

test('a server that never answers fails by the timeout', async () => {
  const hanging = await startHookServer();
  hanging.hang = true;
  try {
    const { a, d } = webhook({ url: hanging.url(), timeout: '0.2', retries: '1' });
    await a.start();
    await a.ban([ban('203.0.113.11')], { restored: false });
    await a.settled();
    assert.equal(a.stats().dropped, 1);
    assert.ok(d.lines.some((l) => /no answer within 0\.2 s/.test(l)), d.lines.join(''));
    await a.stop();
  } finally {
    await hanging.close();
  }
});

test('digest: 1,000 bans in a burst make 2 requests, not 1,000', async () => {
  const path = newPath();
  const { a, d } = webhook({ url: server.url(path) });
  await a.start();
  for (let i = 0; i < 1_000; i++) await a.ban([ban(nthAddress(i))], { restored: false });
  await a.settled();
  assert.equal(receivedAt(path).length, 1, 'the first ban at once');
  d.clock.advance(59_999);
  await a.settled();
  assert.equal(receivedAt(path).length, 1);
  d.clock.advance(1);
  await a.settled();
  const got = receivedAt(path);
  assert.equal(got.length, 2);
  const p = JSON.parse(got[1]!.body.toString('utf8')) as Json;
  assert.equal((p.events as unknown[]).length + (p.dropped as number), 999);
  await a.stop();
  assert.equal(receivedAt(path).length, 2);
});

test('events = alerts sends no bans; notify_unban = no; restored bans never', async () => {
  const path = newPath();
  const onlyAlerts = webhook({ url: server.url(path), events: 'alerts', digest: '0' }).a;
  await onlyAlerts.start();
  await onlyAlerts.ban([ban('203.0.113.12')], { restored: false });
  await onlyAlerts.unban([ban('203.0.113.12')]);
  await onlyAlerts.alert([alert()]);
  await onlyAlerts.stop();
  assert.deepEqual(receivedAt(path).map((r) => (JSON.parse(r.body.toString()) as { events: Json[] }).events.map((e) => e.type)), [['alert']]);

  const path2 = newPath();
  const quiet = webhook({ url: server.url(path2), events: 'bans', notify_unban: 'no', digest: '0' }).a;
  await quiet.start();
  await quiet.ban(Array.from({ length: 50 }, (_, i) => ban(nthAddress(i))), { restored: true });
  await quiet.unban([ban('203.0.113.13')]);
  await quiet.alert([alert()]);
  await quiet.ban([ban('203.0.113.14')], { restored: false });
  await quiet.stop();
  assert.deepEqual(receivedAt(path2).map((r) => (JSON.parse(r.body.toString()) as { events: Json[] }).events.map((e) => `${e.type} ${e.address}`)), [['ban 203.0.113.14']]);
});

test('stop() sends what waits for the digest; the action can start again after stop()', async () => {
  const path = newPath();
  const { a } = webhook({ url: server.url(path) });
  await a.start();
  await a.ban([ban('203.0.113.20')], { restored: false });
  await a.ban([ban('203.0.113.21')], { restored: false });
  await a.stop();
  assert.equal(receivedAt(path).length, 2, 'the digest went out at stop, not a minute later');
  await a.ban([ban('203.0.113.22')], { restored: false });
  await a.start();
  await a.ban([ban('203.0.113.23')], { restored: false });
  await a.settled();
  await a.stop();
  const addresses = receivedAt(path).flatMap((r) => (JSON.parse(r.body.toString()) as { events: Json[] }).events.map((e) => e.address));
  assert.deepEqual(addresses, ['203.0.113.20', '203.0.113.21', '203.0.113.23'], 'nothing taken while stopped');
});

test('user:password in the URL is sent as Basic auth, never in a log', async () => {
  const path = newPath();
  server.statuses.push(401);
  const { a, d } = webhook({ url: `http://robot:pa55word@127.0.0.1:${server.port}${path}`, retries: '1' });
  await a.start();
  await a.ban([ban('203.0.113.30')], { restored: false });
  await a.settled();
  await a.stop();
  const [r] = receivedAt(path);
  assert.equal(r!.headers.authorization, `Basic ${Buffer.from('robot:pa55word').toString('base64')}`);
  assert.ok(d.lines.some((l) => /answered HTTP 401/.test(l)));
  assertNoLeak(d.lines, path);
  for (const l of d.lines) assert.equal(/pa55word|cm9ib3Q6cGE1NXdvcmQ/.test(l), false, l);
});
