import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './metrics.js';

const BIN = '/usr/bin/redis-server';

/** Why Redis tests cannot run here, or false. */
export function noRedis(sentinel = false): string | false {
  if (!existsSync(BIN)) return 'redis-server is not installed (apt-get install -y redis-server; .ci/run installs it)';
  if (sentinel && !existsSync('/usr/bin/redis-sentinel')) return 'redis-sentinel is not installed (apt-get install -y redis-sentinel; .ci/run installs it)';
  return spawnSync(BIN, ['--version']).status === 0 ? false : 'redis-server does not run here';
}

/**
 * A real redis-server of the test's own, on a free loopback port with a
 * temporary directory (no RDB snapshots, AOF on as production would have),
 * stopped and removed by close().
 */
export class TestRedis {
  private child: ChildProcess | null = null;
  private constructor(readonly port: number, readonly dir: string, private readonly extra: string[]) {}

  /** `extra`: more redis-server arguments, e.g. ['--replicaof', '127.0.0.1', '6379']. */
  static async start(extra: string[] = []): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), mkdtempSync(join(tmpdir(), 'asb-redis-')), extra);
    await r.run();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on the same port and directory: its AOF brings the data back. */
  async run(): Promise<void> {
    const child = spawn(BIN, ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--daemonize', 'no', '--protected-mode', 'yes', ...this.extra], { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (!(await this.ping())) {
      if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error('redis-server did not answer within 10 s');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL, as a crash would. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async close(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private ping(): Promise<boolean> {
    return pingPort(this.port);
  }
}

/** A real redis-sentinel watching `primary` as `name`, quick to decide (tests). */
export class TestSentinel {
  private constructor(readonly port: number, private readonly dir: string, private readonly child: ChildProcess) {}

  static async start(primaryPort: number, name = 'mymaster'): Promise<TestSentinel> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'asb-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`, '',
    ].join('\n'));
    const child = spawn('/usr/bin/redis-sentinel', [conf], { stdio: 'ignore' });
    const s = new TestSentinel(port, dir, child);
    const deadline = Date.now() + 10_000;
    while (!(await pingPort(port))) {
      if (child.exitCode !== null) throw new Error(`redis-sentinel exited ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('redis-sentinel did not answer within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    return s;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      await new Promise<void>((resolve) => {
        this.child.once('exit', () => resolve());
        this.child.kill('SIGTERM');
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function pingPort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      // A server whose default user is off answers too, refusing: it is up.
      resolve(/^(\+PONG|-NOAUTH|-NOPERM)/.test(d.toString()));
    });
    s.once('error', () => resolve(false));
  });
}
