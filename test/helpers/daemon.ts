import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

const BIN = join(repoRoot, 'bin', 'asterisk-ban.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A throw-away config dir with our shipped filter, a socket and a database of its own. */
export class DaemonHarness {
  readonly dir: string;
  readonly config: string;
  readonly socket: string;
  readonly log: string;
  child: ChildProcess | null = null;
  output = '';

  constructor(jailConf: (h: DaemonHarness) => string, daemonExtra = '') {
    this.dir = mkdtempSync(join(tmpdir(), 'asb-e2e-'));
    this.config = join(this.dir, 'config');
    this.socket = join(this.dir, 'ab.sock');
    this.log = join(this.dir, 'messages');
    mkdirSync(join(this.config, 'filter.d'), { recursive: true });
    copyFileSync(join(repoRoot, 'config', 'filter.d', 'asterisk.conf'), join(this.config, 'filter.d', 'asterisk.conf'));
    writeFileSync(
      join(this.config, 'asterisk-ban.conf'),
      `[Definition]\nsocket = ${this.socket}\ndbfile = ${join(this.dir, 'state.sqlite3')}\nloglevel = debug\n${daemonExtra}`,
    );
    writeFileSync(this.log, '');
    this.writeJails(jailConf(this));
  }

  writeJails(text: string): void {
    writeFileSync(join(this.config, 'jail.conf'), text);
  }

  /** Starts `asterisk-ban run` and resolves once its control socket answers. */
  async start(env: Record<string, string> = {}, prefix: string[] = []): Promise<void> {
    this.output = '';
    const argv = [...prefix, process.execPath, BIN, 'run', '--config', this.config];
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { ...process.env, ...env, ASTERISK_BAN_SOCKET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}:\n${this.output}`);
      return /asterisk-ban ready/.test(this.output) && existsSync(this.socket);
    }, 20_000, () => this.output);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return done;
  }

  cli(...args: string[]): Promise<CliResult> {
    return runCli(['--config', this.config, ...args]);
  }

  append(lines: string[]): void {
    writeFileSync(this.log, lines.map((l) => `${l}\n`).join(''), { flag: 'a' });
  }

  async cleanup(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ASTERISK_BAN_SOCKET: '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls until fn is true; fails with what describe() says. No fixed sleeps in tests. */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs = 10_000, describe: () => string = () => ''): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms\n${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `[${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}]`;
}

export function sipWrongPassword(ip: string, d = new Date()): string {
  return `${stamp(d)} NOTICE[2211] chan_sip.c: Registration from '<sip:100@192.0.2.1:5060>' failed for '${ip}:5060' - Wrong password`;
}
