import { spawn, type ChildProcess } from 'node:child_process';
import { AsteriskBanError } from '../core/errors.js';
import { printable } from '../core/address.js';

export interface RunOptions {
  /** Written to the command's stdin, then stdin is closed (restore files, nft -f -). */
  input?: string;
  timeoutMs?: number;
  /** Exit codes that are not failures (conntrack -D exits 1 when nothing matched). */
  okCodes?: readonly number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs one program with an argument array, never through a shell. Firewall
 * back ends take it from ActionDeps so tests can prefix `ip netns exec NS`
 * and count processes.
 */
export type CommandRunner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

export const DEFAULT_TIMEOUT_MS = 30_000;
// A ruleset dump of 100,000 bans is a few MB; anything far beyond is not ours to hold.
const MAX_OUTPUT = 256 * 1024 * 1024;
const MAX_STDERR_SHOWN = 2_000;

function describeCommand(file: string, args: readonly string[]): string {
  const shown = args.slice(0, 8).join(' ');
  return `${file}${shown ? ` ${shown}` : ''}${args.length > 8 ? ' …' : ''}`;
}

/** Every child spawnRunner started and that has not exited. */
const live = new Set<ChildProcess>();

/**
 * Each child runs in a process group of its own (sendmail hands mail to
 * postdrop, `ip netns exec` runs the real command): a timeout or shutdown
 * kills the whole group, not the first process alone.
 */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Kills every command still running (shutdown's deadline); returns how many there were. */
export function killChildren(): number {
  const n = live.size;
  for (const child of live) killGroup(child);
  return n;
}

/**
 * Starts a long-lived child with piped stdio in a process group of its own,
 * known to killChildren() until it exits (the persistent nft session).
 */
export function spawnPersistent(file: string, args: readonly string[]): ChildProcess {
  const child = spawn(file, [...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  live.add(child);
  child.on('close', () => live.delete(child));
  child.on('error', () => live.delete(child));
  return child;
}

/** Kills a child started by spawnPersistent, with whatever it started. */
export function killPersistent(child: ChildProcess): void {
  killGroup(child);
}

export const spawnRunner: CommandRunner = (file, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const child = spawn(file, [...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    live.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let failure: AsteriskBanError | null = null;
    const timer = setTimeout(() => {
      failure = new AsteriskBanError('E_ACTION', `${describeCommand(file, args)} timed out after ${timeoutMs} ms`);
      killGroup(child);
    }, timeoutMs);
    const collect = (bucket: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        failure ??= new AsteriskBanError('E_ACTION', `${describeCommand(file, args)} printed more than ${MAX_OUTPUT} bytes`);
        killGroup(child);
        return;
      }
      bucket.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.on('error', (e) => {
      live.delete(child);
      failure ??= new AsteriskBanError('E_ACTION', `cannot run ${file}: ${e.message}`, { cause: e });
    });
    child.stdin.on('error', () => {
      // The program exited before reading all input; its exit status tells why.
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (failure) return reject(failure);
      const status = code ?? -1;
      if (status === 0 || opts.okCodes?.includes(status)) return resolve({ stdout, stderr, code: status });
      reject(
        new AsteriskBanError(
          'E_ACTION',
          `${describeCommand(file, args)} failed (${signal ?? `exit ${status}`}): ${printable(stderr.trim(), MAX_STDERR_SHOWN) || 'no message'}`,
        ),
      );
    });
    child.stdin.end(opts.input ?? '');
  });

/** A runner that executes every command inside a network namespace (`ip netns exec NS ...`). */
export function netnsRunner(netns: string, ip = 'ip', base: CommandRunner = spawnRunner): CommandRunner {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(netns)) {
    throw new AsteriskBanError('E_CONFIG', `"${printable(netns)}" is not a network namespace name`);
  }
  return (file, args, opts) => base(ip, ['netns', 'exec', netns, file, ...args], opts);
}

/** Wraps a runner to record every command: tests count processes with it. */
export function countingRunner(base: CommandRunner): CommandRunner & { calls: { file: string; args: readonly string[] }[] } {
  const calls: { file: string; args: readonly string[] }[] = [];
  const run = ((file: string, args: readonly string[], opts?: RunOptions) => {
    calls.push({ file, args });
    return base(file, args, opts);
  }) as CommandRunner & { calls: typeof calls };
  run.calls = calls;
  return run;
}
