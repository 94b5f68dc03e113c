import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fixture } from './paths.js';
import { spawnRunner, netnsRunner, type CommandRunner } from '../../src/actions/exec.js';

/**
 * Two network namespaces joined by a veth pair: "pbx" (listeners, the
 * firewall under test) and "attacker" (probes from chosen source addresses).
 * Addresses are documentation ranges; nothing touches the host's namespace.
 */
export const ADDR = {
  pbx4: '198.51.100.1',
  pbx6: '2001:db8:51::1',
  /** The source that gets banned. */
  att4: '198.51.100.2',
  att6: '2001:db8:51::2',
  /** A second source on the attacker side that is never banned. */
  other4: '198.51.100.3',
  other6: '2001:db8:51::3',
  /**
   * IPv6 prefix bans: two attacker addresses in one /64 (PREFIX6) and one in
   * the /64 beside it, routed through the attacker, away from the pbx's own /64.
   */
  in6a: '2001:db8:52:1::a',
  in6b: '2001:db8:52:1:ffff::b',
  out6: '2001:db8:52:2::c',
} as const;

/** The /64 holding ADDR.in6a and ADDR.in6b. */
export const PREFIX6 = '2001:db8:52:1::/64';

export const ECHO_PORT = 5060;
/** A port outside the multiport list; echo too. */
export const OTHER_PORT = 6000;
export const SINK_PORT = 5070;

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
}

/** The pids of processes in namespace `ns` whose command line ends with `tail` ('nft -i', 'ipset -exist -'). */
export function processesIn(ns: string, tail: string): number[] {
  const out = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter(Boolean).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().endsWith(tail);
    } catch {
      return false;
    }
  });
}

let counter = 0;
const live = new Set<string>();
process.on('exit', () => {
  for (const ns of live) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

export interface ProbeResult {
  ok: boolean;
  detail?: string;
}

export class TestNet {
  readonly pbx: string;
  readonly attacker: string;
  /** Runs commands in the pbx namespace. */
  readonly pbxRun: CommandRunner;
  private echo: ChildProcess | null = null;
  private agent: ChildProcess | null = null;
  private seq = 0;
  private readonly waiting = new Map<number, (r: Record<string, unknown>) => void>();

  private constructor() {
    const n = counter++;
    this.pbx = `asb-${process.pid}-${n}-pbx`;
    this.attacker = `asb-${process.pid}-${n}-att`;
    this.pbxRun = netnsRunner(this.pbx, 'ip', spawnRunner);
  }

  static async create(opts: { statefulAccept?: boolean } = {}): Promise<TestNet> {
    const net = new TestNet();
    try {
      await net.setup(opts.statefulAccept ?? true);
    } catch (e) {
      await net.destroy();
      throw e;
    }
    return net;
  }

  private async setup(statefulAccept: boolean): Promise<void> {
    const { pbx, attacker } = this;
    for (const ns of [pbx, attacker]) {
      ip(['netns', 'add', ns]);
      live.add(ns);
    }
    ip(['-n', pbx, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', attacker]);
    ip(['-n', pbx, 'addr', 'add', `${ADDR.pbx4}/24`, 'dev', 'eth0']);
    ip(['-n', pbx, 'addr', 'add', `${ADDR.pbx6}/64`, 'dev', 'eth0', 'nodad']);
    for (const a of [ADDR.att4, ADDR.other4]) ip(['-n', attacker, 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
    for (const a of [ADDR.att6, ADDR.other6]) ip(['-n', attacker, 'addr', 'add', `${a}/64`, 'dev', 'eth0', 'nodad']);
    for (const a of [ADDR.in6a, ADDR.in6b, ADDR.out6]) ip(['-n', attacker, 'addr', 'add', `${a}/128`, 'dev', 'eth0', 'nodad']);
    for (const ns of [pbx, attacker]) for (const dev of ['lo', 'eth0']) ip(['-n', ns, 'link', 'set', dev, 'up']);
    ip(['-n', pbx, '-6', 'route', 'add', '2001:db8:52::/48', 'via', ADDR.att6, 'dev', 'eth0']);
    if (statefulAccept) {
      // Many hosts accept tracked flows first: the trap a ban must get past.
      for (const bin of ['iptables', 'ip6tables']) {
        await this.pbxRun(bin, ['-A', 'INPUT', '-m', 'state', '--state', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
      }
    }
    this.echo = await this.startChild(pbx, fixture('actions', 'echo.mjs'), [`${ECHO_PORT},${OTHER_PORT}`, String(SINK_PORT)]);
    this.agent = await this.startChild(attacker, fixture('actions', 'agent.mjs'), []);
    createInterface({ input: this.agent.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id: number };
      this.waiting.get(msg.id)?.(msg as unknown as Record<string, unknown>);
      this.waiting.delete(msg.id);
    });
    // Warm up neighbour tables so the first probe of a test is not the one that resolves them.
    for (const a of [ADDR.att4, ADDR.other4, ADDR.att6, ADDR.other6, ADDR.in6a, ADDR.in6b, ADDR.out6]) {
      const r = await this.reachable(a, ECHO_PORT, 10);
      if (!r.udp || !r.tcp) throw new Error(`test network: ${a} cannot reach the pbx before any ban`);
    }
  }

  private startChild(ns: string, script: string, args: string[]): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      const onData = (d: Buffer) => {
        if (d.toString().includes('ready')) {
          child.stdout!.off('data', onData);
          resolve(child);
        }
      };
      child.stdout!.on('data', onData);
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    });
  }

  command(op: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.agent!.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** Sends one datagram (or opens a TCP connection) from `bind` and waits for the echo. */
  async probe(proto: 'udp' | 'tcp', bind: string, port = ECHO_PORT, timeoutMs = 400): Promise<ProbeResult> {
    const to = bind.includes(':') ? ADDR.pbx6 : ADDR.pbx4;
    return (await this.command('probe', { proto, bind, to, port, timeoutMs })) as unknown as ProbeResult;
  }

  /** Tries each protocol up to `attempts` times: a lost first packet (neighbour discovery) is not a ban. */
  async reachable(bind: string, port = ECHO_PORT, attempts = 3): Promise<{ udp: boolean; tcp: boolean }> {
    const one = async (proto: 'udp' | 'tcp') => {
      for (let i = 0; i < attempts; i++) if ((await this.probe(proto, bind, port)).ok) return true;
      return false;
    };
    const [udp, tcp] = await Promise.all([one('udp'), one('tcp')]);
    return { udp, tcp };
  }

  /**
   * Holds the pbx's echo server (SIGSTOP) or lets it go on (SIGCONT):
   * datagrams wait in its socket meanwhile, as they do for a busy server,
   * and are answered late.
   */
  holdEcho(held: boolean): void {
    this.echo?.kill(held ? 'SIGSTOP' : 'SIGCONT');
  }

  async startFlow(bind: string, intervalMs = 10): Promise<number> {
    const to = bind.includes(':') ? ADDR.pbx6 : ADDR.pbx4;
    return (await this.command('flowStart', { bind, to, port: ECHO_PORT, intervalMs })).flow as number;
  }

  async flowReplies(flow: number): Promise<number> {
    return (await this.command('flowCount', { flow })).replies as number;
  }

  async stopFlow(flow: number): Promise<void> {
    await this.command('flowStop', { flow });
  }

  /** iptables, ip6tables, ipset and nft state of the pbx namespace, without counters or comments. */
  async snapshot(): Promise<string> {
    const parts: string[] = [];
    for (const [bin, args] of [['iptables-save', []], ['ip6tables-save', []], ['ipset', ['save']], ['nft', ['list', 'ruleset']]] as const) {
      const { stdout } = await this.pbxRun(bin, [...args]);
      parts.push(`== ${bin}\n${normalise(stdout)}`);
    }
    return parts.join('\n');
  }

  async destroy(): Promise<void> {
    for (const child of [this.echo, this.agent]) {
      if (child && child.exitCode === null) {
        child.removeAllListeners('exit');
        const gone = new Promise((r) => child.once('exit', r));
        child.stdin?.end();
        child.kill('SIGTERM');
        await gone;
      }
    }
    for (const ns of [this.pbx, this.attacker]) {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      live.delete(ns);
    }
  }
}

export function normalise(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#') && l.trim() !== '')
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]').replace(/counter packets \d+ bytes \d+ ?/g, '').replace(/ expires [0-9a-z.]+/g, ''))
    .join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
