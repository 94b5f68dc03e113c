import { createInterface } from 'node:readline';
import { spawn } from 'node:child_process';
import type { Logger } from '../core/logger.js';
import { parseAddress } from '../core/address.js';
import { spawnRunner, type CommandRunner } from '../actions/exec.js';

/** Up to this many addresses are asked one by one; beyond, one dump per family is read. */
export const PER_ADDRESS_MAX = 8;
const DUMP_TIMEOUT_MS = 20_000;
const MAX_LINE = 4_096;

export interface VerifierDeps {
  logger: Logger;
  /** Runs conntrack (argv, no shell); tests enter a network namespace with it. */
  run?: CommandRunner;
  /** Prefix for streaming dumps, e.g. ['ip', 'netns', 'exec', 'NS']; empty on a real host. */
  prefix?: readonly string[];
  conntrack?: string;
}

/** The origin source of a conntrack line: the first `src=` is the side that opened the flow. */
export function originSource(line: string): string | null {
  const m = /\bsrc=([0-9A-Fa-f.:]+)/.exec(line);
  return m ? (parseAddress(m[1]!)?.text ?? null) : null;
}

/**
 * Asks the kernel's connection tracking whether addresses really sent us
 * packets, so a forged log line or frame naming a bystander cannot get it
 * banned. Few addresses: one `conntrack -L -s` each; a flood's batch: one
 * streamed dump per family, filtered here.
 */
export class ConntrackVerifier {
  private constructor(private readonly deps: Required<Pick<VerifierDeps, 'logger' | 'run' | 'conntrack'>> & { prefix: readonly string[] }) {}

  /** Null when connection tracking cannot be read here (no tool, no module, no permission). */
  static async detect(deps: VerifierDeps): Promise<ConntrackVerifier | null> {
    const run = deps.run ?? spawnRunner;
    const conntrack = deps.conntrack ?? 'conntrack';
    try {
      await run(conntrack, ['-C'], { timeoutMs: 5_000 });
    } catch (e) {
      deps.logger.debug(`conntrack unavailable: ${(e as Error).message}`);
      return null;
    }
    return new ConntrackVerifier({ logger: deps.logger, run, conntrack, prefix: deps.prefix ?? [] });
  }

  async seen(ips: string[]): Promise<Set<string>> {
    const wanted = new Set<string>();
    for (const ip of ips) {
      const a = parseAddress(ip);
      if (a) wanted.add(a.text);
    }
    if (wanted.size === 0) return new Set();
    return wanted.size <= PER_ADDRESS_MAX ? this.oneByOne([...wanted]) : this.dump(wanted);
  }

  private async oneByOne(ips: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    await Promise.all(
      ips.map(async (ip) => {
        const family = ip.includes(':') ? 'ipv6' : 'ipv4';
        try {
          const { stdout } = await this.deps.run(this.deps.conntrack, ['-L', '-f', family, '-s', ip], { timeoutMs: 5_000 });
          if (stdout.split('\n').some((l) => originSource(l) === ip)) found.add(ip);
        } catch (e) {
          this.deps.logger.warn(`conntrack lookup of ${ip} failed: ${(e as Error).message}`);
        }
      }),
    );
    return found;
  }

  private async dump(wanted: Set<string>): Promise<Set<string>> {
    const found = new Set<string>();
    const families = new Set([...wanted].map((ip) => (ip.includes(':') ? 'ipv6' : 'ipv4')));
    for (const family of families) {
      try {
        await this.stream(['-L', '-f', family], (line) => {
          const src = originSource(line);
          if (src !== null && wanted.has(src)) found.add(src);
        });
      } catch (e) {
        this.deps.logger.warn(`conntrack dump failed: ${(e as Error).message}`);
      }
    }
    return found;
  }

  // A dump under a flood can hold a million flows: read it line by line instead of buffering it.
  private stream(args: string[], onLine: (line: string) => void): Promise<void> {
    const [file, ...pre] = [...this.deps.prefix, this.deps.conntrack];
    return new Promise((resolve, reject) => {
      const child = spawn(file!, [...pre, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), DUMP_TIMEOUT_MS);
      createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
        if (line.length <= MAX_LINE) onLine(line);
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`${this.deps.conntrack} ${args.join(' ')} exited with ${code}`));
      });
    });
  }
}
