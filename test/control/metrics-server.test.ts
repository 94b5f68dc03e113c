import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { startMetricsServer, type MetricsServer } from '../../src/control/metrics-server.js';
import { metrics } from '../../src/control/metrics.js';
import { silentLogger } from '../../src/core/logger.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics endpoint', () => {
  let server: MetricsServer;
  before(async () => {
    server = await startMetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger() });
  });
  after(() => server.close());

  it('binds the port it was given (0 = any) on loopback', () => {
    assert.ok(server.port > 0);
  });

  it('serves the counters every stage increments in Prometheus text format', async () => {
    metrics.failures.inc({ jail: 'asterisk', source: 'ami', event: 'InvalidPassword' }, 3);
    metrics.bans.inc({ jail: 'asterisk' });
    metrics.banned.set({ jail: 'asterisk' }, 7);
    metrics.verifyRefused.inc({ jail: 'asterisk' });
    metrics.amiConnected.set({ jail: 'asterisk' }, 1);
    metrics.banLatency.observe({ jail: 'asterisk' }, 0.0007);
    const r = await get(server.port, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^asterisk_ban_failures_total\{jail="asterisk",source="ami",event="InvalidPassword"\} 3$/m);
    assert.match(r.body, /^asterisk_ban_bans_total\{jail="asterisk"\} 1$/m);
    assert.match(r.body, /^asterisk_ban_banned\{jail="asterisk"\} 7$/m);
    assert.match(r.body, /^asterisk_ban_verify_refused_total\{jail="asterisk"\} 1$/m);
    assert.match(r.body, /^asterisk_ban_ami_connected\{jail="asterisk"\} 1$/m);
    assert.match(r.body, /^asterisk_ban_event_to_ban_seconds_bucket\{le="0\.001",jail="asterisk"\} 1$/m);
    assert.match(r.body, /^asterisk_ban_info\{version="\d+\.\d+\.\d+"\} 1$/m);
    // Node's standard process metrics keep their standard names.
    assert.match(r.body, /^process_resident_memory_bytes \d+/m);
    assert.match(r.body, /^nodejs_eventloop_lag_seconds /m);
  });

  it('/healthz answers ok while nothing is wrong', async () => {
    const r = await get(server.port, '/healthz');
    assert.deepEqual([r.status, r.body], [200, 'ok\n']);
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    assert.equal((await get(server.port, '/')).status, 404);
    assert.equal((await get(server.port, '/metrics/../etc/passwd')).status, 404);
    assert.equal((await get(server.port, '/metrics', 'POST')).status, 405);
    const head = await get(server.port, '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('a second endpoint on the same port fails with a clear message', async () => {
    await assert.rejects(startMetricsServer({ host: '127.0.0.1', port: server.port, logger: silentLogger() }), /cannot serve metrics on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });
});

describe('metrics endpoint of a daemon with a problem', () => {
  it('/healthz says 503 with the reasons; every jail has its series from the start; currently failing read at scrape', async () => {
    const { touchJailSeries, setCurrentlyFailedSource, registry } = await import('../../src/control/metrics.js');
    touchJailSeries('quiet');
    setCurrentlyFailedSource(() => [['quiet', 4]]);
    const problems = ['asterisk: asterisk/log: /var/log/asterisk/messages: permission denied'];
    const s = await startMetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger(), registry, health: () => problems, processMetrics: false });
    try {
      const h = await get(s.port, '/healthz');
      assert.equal(h.status, 503);
      assert.equal(h.body, `${problems[0]}\n`);
      const m = await get(s.port, '/metrics');
      assert.match(m.body, /^asterisk_ban_bans_total\{jail="quiet"\} 0$/m);
      assert.match(m.body, /^asterisk_ban_banned\{jail="quiet"\} 0$/m);
      assert.match(m.body, /^asterisk_ban_currently_failed\{jail="quiet"\} 4$/m);
    } finally {
      setCurrentlyFailedSource(() => []);
      await s.close();
    }
  });
});

describe('metrics endpoint under a connection flood', () => {
  it('closes connections beyond its limit and serves again once one leaves', { timeout: 20_000 }, async () => {
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger(), processMetrics: false, maxConnections: 3 });
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = createConnection(server.port, '127.0.0.1');
        await new Promise<void>((r) => s.once('connect', () => r()));
        held.push(s);
      }
      const extra = createConnection(server.port, '127.0.0.1');
      extra.on('error', () => {});
      await new Promise<void>((r) => extra.once('close', () => r()));
      held.pop()!.destroy();
      let answer: { status: number } | null = null;
      for (let i = 0; i < 100 && answer === null; i++) {
        answer = await get(server.port, '/metrics').catch(() => null);
        if (answer === null) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(answer?.status, 200);
    } finally {
      for (const s of held) s.destroy();
      await server.close();
    }
  });
});
