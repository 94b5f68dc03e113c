import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import { metrics, registry as defaultRegistry } from './metrics.js';
import { packageVersion } from './version.js';

export interface MetricsServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** The registry to serve; the daemon's own by default. */
  registry?: Registry;
  /** Also export process metrics (CPU, memory, fds, event loop lag) under their standard names. Default true. */
  processMetrics?: boolean;
  /** For GET /healthz: what is wrong now (empty: healthy). */
  health?: () => string[];
  /** Connections open at once; more are closed on arrival. Default 32. */
  maxConnections?: number;
}

export interface MetricsServer {
  close(): Promise<void>;
  /** The bound port (useful when asked for port 0). */
  port: number;
}

const processMetricsOn = new WeakSet<Registry>();

/** Serves the Prometheus text format on GET /metrics, and GET /healthz for probes. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const registry = opts.registry ?? defaultRegistry;
  if (opts.processMetrics !== false && !processMetricsOn.has(registry)) {
    // Only once per registry: prom-client refuses to register the same names twice.
    processMetricsOn.add(registry);
    // Unprefixed: dashboards and alerts written for any Node process read process_cpu_seconds_total & co.
    collectDefaultMetrics({ register: registry });
  }
  if (registry === defaultRegistry) metrics.info.set({ version: packageVersion() }, 1);
  const server = createServer((req, res) => {
    handle(registry, req, res, opts.health).catch((err: unknown) => {
      opts.logger.error('metrics scrape failed', { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  // A scraper that stalls must not hold sockets for ever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.maxHeadersCount = 50;
  // A flood of connections to the endpoint must not cost the daemon its file descriptors.
  server.maxConnections = opts.maxConnections ?? 32;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot serve metrics on ${opts.host}:${opts.port}: ${err.code ?? err.message}`);
  });
  server.on('error', (err) => opts.logger.error('metrics server error', { error: err.message }));
  const port = (server.address() as AddressInfo).port;
  opts.logger.info('metrics endpoint listening', { url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/metrics` });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(registry: Registry, req: IncomingMessage, res: ServerResponse, health?: () => string[]): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz') {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found; metrics are at /metrics, health at /healthz\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
    res.end('method not allowed\n');
    return;
  }
  if (path === '/healthz') {
    // 200 while every jail can see its input; 503, with the reasons, when one cannot.
    const problems = health?.() ?? [];
    const body = problems.length === 0 ? 'ok\n' : `${problems.join('\n')}\n`;
    res.writeHead(problems.length === 0 ? 200 : 503, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const body = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
