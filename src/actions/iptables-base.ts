import type { Action, ActionDeps, BanOptions } from './types.js';
import type { Ban } from '../core/types.js';
import { spawnRunner, netnsRunner, type CommandRunner } from './exec.js';
import type { FirewallParams } from './params.js';
import { multiportChunks } from './ports.js';
import { splitBans } from './batch.js';
import { ConntrackFlusher } from './conntrack.js';
import { Serial } from './serial.js';

export type Family = 4 | 6;

export interface FamilyTools {
  family: Family;
  restore: string;
  save: string;
}

/** What `iptables-save -t filter` says about our chain. */
export interface SavedState {
  chainExists: boolean;
  /** Specs (after `-A <chain> `) of rules in the parent chain that jump to ours. */
  jumps: string[];
  /**
   * True when no rule but other asban-* jumps stands before ours in the
   * parent chain: several actions of ours each put their jump on top, and
   * must not take turns repairing each other's order.
   */
  jumpsFirst: boolean;
  /** Specs of the rules in our chain, in order. */
  chainRules: string[];
}

export const CHAIN_PREFIX = 'asban-';
/** A rule that jumps to a chain of ours (any action's). */
const OWN_JUMP = new RegExp(` -j ${CHAIN_PREFIX}\\S+ `);

const REJECT_V6: Record<string, string> = {
  'icmp-net-unreachable': 'icmp6-no-route', 'icmp-host-unreachable': 'icmp6-addr-unreachable',
  'icmp-port-unreachable': 'icmp6-port-unreachable', 'icmp-proto-unreachable': 'icmp6-port-unreachable',
  'icmp-net-prohibited': 'icmp6-adm-prohibited', 'icmp-host-prohibited': 'icmp6-adm-prohibited',
  'icmp-admin-prohibited': 'icmp6-adm-prohibited', 'tcp-reset': 'tcp-reset',
};

export function parseSave(text: string, parent: string, chain: string): SavedState {
  const state: SavedState = { chainExists: false, jumps: [], jumpsFirst: true, chainRules: [] };
  let foreignBefore = false;
  const jumpTail = ` -j ${chain}`;
  for (const line of text.split('\n')) {
    if (line.startsWith(`:${chain} `)) state.chainExists = true;
    else if (line.startsWith(`-A ${parent} `)) {
      const spec = line.slice(parent.length + 4);
      const padded = ` ${spec} `;
      if (padded.includes(`${jumpTail} `)) {
        if (foreignBefore) state.jumpsFirst = false;
        state.jumps.push(spec);
      } else if (!OWN_JUMP.test(padded)) {
        foreignBefore = true;
      }
    } else if (line.startsWith(`-A ${chain} `)) state.chainRules.push(line.slice(chain.length + 4));
  }
  return state;
}

/**
 * The lifecycle shared by the iptables back ends: one chain of ours per
 * family, jumped to from the top of the parent chain (before any
 * `ESTABLISHED -j ACCEPT`, so a running UDP flood stops at the ban). Every
 * change is one `iptables-restore --noflush` per family.
 */
export abstract class IptablesBase implements Action {
  readonly kind = 'firewall' as const;
  readonly id: string;
  readonly chain: string;
  protected readonly run: CommandRunner;
  private readonly allFamilies: FamilyTools[];
  /** False when allowipv6 = no, or (auto) ip6tables cannot work on this host. */
  private v6 = true;
  protected readonly banned: Record<Family, Set<string>> = { 4: new Set(), 6: new Set() };
  protected readonly flusher: ConntrackFlusher;
  private readonly serial = new Serial();

  constructor(actionName: string, protected readonly params: FirewallParams, protected readonly deps: ActionDeps) {
    this.id = `${actionName}[${params.name}]`;
    this.chain = `${CHAIN_PREFIX}${params.name}`;
    const base = deps.run ?? spawnRunner;
    this.run = params.netns ? netnsRunner(params.netns, 'ip', base) : base;
    this.v6 = params.allowipv6 !== 'no';
    this.allFamilies = [
      { family: 4, restore: `${params.iptables}-restore`, save: `${params.iptables}-save` },
      { family: 6, restore: `${params.ip6tables}-restore`, save: `${params.ip6tables}-save` },
    ];
    this.flusher = new ConntrackFlusher(this.run, params.conntrack, deps.logger);
  }

  // ---- what a back end decides ----
  /** Rules of our chain, in order, for a full rebuild. */
  protected abstract chainBody(f: Family): string[];
  /** Does the chain in the kernel hold what it should for `want`? */
  protected abstract chainMatches(f: Family, saved: SavedState, want: Set<string>): Promise<boolean>;
  /** Reads what a previous run left (addresses) into `banned`. */
  protected abstract adopt(f: Family, saved: SavedState): Promise<void>;
  protected abstract addAddresses(f: Family, ips: string[], seconds: Map<string, number | null>): Promise<void>;
  protected abstract removeAddresses(f: Family, ips: string[]): Promise<void>;
  /** Canonical addresses in the kernel (through canonical()). */
  protected abstract kernelAddresses(f: Family): Promise<string[]>;
  /** Sets and the like that must exist before rules refer to them. */
  protected async prepare(): Promise<void> {}
  /** Removes what prepare() made, after the rules referring to it are gone. */
  protected async teardown(): Promise<void> {}
  protected keepOnStop(): boolean {
    return false;
  }

  // ---- shared helpers ----
  protected block(f: Family): string {
    const b = this.params.blocktype;
    if (b.kind === 'DROP') return '-j DROP';
    const v4 = b.with ?? 'icmp-port-unreachable';
    return `-j REJECT --reject-with ${f === 4 ? v4 : REJECT_V6[v4] ?? 'icmp6-port-unreachable'}`;
  }

  /** The conntrack match keeps connection tracking on in this namespace, so bans can be verified. */
  protected tail(): string[] {
    return ['-m conntrack --ctstate NEW -j RETURN', '-j RETURN'];
  }

  protected jumpSpecs(): string[] {
    const target = `-j ${this.chain}`;
    const { ports, protocol } = this.params;
    if (ports === null) return [protocol === 'all' ? target : `-p ${protocol} ${target}`];
    const protos = protocol === 'all' ? ['tcp', 'udp'] : [protocol];
    return protos.flatMap((p) => multiportChunks(ports).map((c) => `-p ${p} -m multiport --dports ${c} ${target}`));
  }

  protected tools(f: Family): FamilyTools {
    return this.allFamilies.find((t) => t.family === f)!;
  }

  protected get families(): FamilyTools[] {
    return this.v6 ? this.allFamilies : this.allFamilies.slice(0, 1);
  }

  // Hosts booted with ipv6.disable=1 have no ip6tables filter table; with allowipv6 = auto we run IPv4 only.
  private ipv6Unavailable(family: Family, err: unknown): boolean {
    if (family !== 6 || this.params.allowipv6 !== 'auto') return false;
    const msg = String((err as Error)?.message ?? err);
    if (!/can't initialize|Address family not supported|Protocol not supported|Table does not exist|cannot run/i.test(msg)) return false;
    this.v6 = false;
    this.deps.logger.warn(`${this.id}: IPv6 firewalling unavailable here, banning IPv4 only (allowipv6 = auto): ${msg}`);
    return true;
  }

  /** Addresses of a family we do not firewall cannot reach us over it either. */
  private active(f: Family, ips: string[]): boolean {
    if (ips.length === 0) return false;
    if (f === 6 && !this.v6) {
      this.deps.logger.debug(`${this.id}: IPv6 disabled, ${ips.length} IPv6 address(es) not applied`);
      return false;
    }
    return true;
  }

  protected async restore(f: Family, lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    // -w: wait for the xtables lock (legacy iptables, or fail2ban changing rules at the same moment) instead of failing.
    await this.run(this.tools(f).restore, ['--noflush', '-w', '10'], { input: `*filter\n${lines.join('\n')}\nCOMMIT\n` });
  }

  protected async readSave(f: Family): Promise<SavedState> {
    const { stdout } = await this.run(this.tools(f).save, ['-t', 'filter']);
    return parseSave(stdout, this.params.chain, this.chain);
  }

  /** One restore: drop old jumps, (re)declare and fill our chain, jump to it from the top. */
  protected rebuildLines(f: Family, saved: SavedState | null, withJumps: boolean): string[] {
    const parent = this.params.chain;
    const lines: string[] = [];
    if (withJumps && saved) for (const j of saved.jumps) lines.push(`-D ${parent} ${j}`);
    lines.push(`:${this.chain} - [0:0]`);
    for (const r of this.chainBody(f)) lines.push(`-A ${this.chain} ${r}`);
    if (withJumps) for (const j of [...this.jumpSpecs()].reverse()) lines.push(`-I ${parent} 1 ${j}`);
    return lines;
  }

  // ---- the lifecycle ----
  start(): Promise<void> {
    return this.serial.run(async () => {
      await this.prepare();
      for (const { family } of this.families) {
        try {
          const saved = await this.readSave(family);
          await this.adopt(family, saved);
          await this.restore(family, this.rebuildLines(family, saved, true));
        } catch (e) {
          if (!this.ipv6Unavailable(family, e)) throw e;
        }
      }
    });
  }

  check(current: Ban[]): Promise<boolean> {
    return this.serial.run(async () => {
      const want = splitBans(current, this.deps.logger, this.id, this.deps.clock.now());
      let repaired = false;
      for (const { family } of this.families) {
        const ips = family === 4 ? want.v4 : want.v6;
        const saved = await this.readSave(family);
        const jumpsOk = saved.jumps.length === this.jumpSpecs().length && saved.jumpsFirst;
        if (saved.chainExists && jumpsOk && (await this.chainMatches(family, saved, new Set(ips)))) continue;
        repaired = true;
        this.deps.logger.warn(`${this.id}: ${family === 4 ? 'IPv4' : 'IPv6'} rules were changed outside asterisk-ban; restoring them`);
        await this.prepare();
        this.banned[family] = new Set(ips);
        await this.restore(family, this.rebuildLines(family, saved, true));
        await this.addAddresses(family, ips, want.seconds);
      }
      return repaired;
    });
  }

  async ban(bans: Ban[], _opts: BanOptions): Promise<void> {
    const added = await this.serial.gather(bans, async (all: Ban[]) => {
      const batch = splitBans(all, this.deps.logger, this.id, this.deps.clock.now());
      for (const family of [4, 6] as const) {
        const ips = family === 4 ? batch.v4 : batch.v6;
        if (this.active(family, ips)) await this.addAddresses(family, ips, batch.seconds);
      }
      return [...batch.v4, ...batch.v6];
    });
    // Outside the serial queue: the next batch goes into the kernel while these flows are deleted.
    if (this.params.flushConntrack) await this.flusher.forgetBanned(bans, added);
  }

  unban(bans: Ban[]): Promise<void> {
    return this.serial.run(async () => {
      const batch = splitBans(bans, this.deps.logger, this.id);
      for (const family of [4, 6] as const) {
        const ips = family === 4 ? batch.v4 : batch.v6;
        if (this.active(family, ips)) await this.removeAddresses(family, ips);
      }
    });
  }

  flush(): Promise<void> {
    return this.serial.run(async () => {
      for (const { family } of this.families) await this.removeAll(family);
    });
  }

  /** Lifts every ban of a family: those this run made and those adopted from the last. */
  protected async removeAll(f: Family): Promise<void> {
    await this.removeAddresses(f, [...this.banned[f]]);
  }

  stop(): Promise<void> {
    return this.serial.run(async () => {
      if (this.keepOnStop()) {
        this.deps.logger.info(`${this.id}: keep = yes, bans stay in the kernel until their timeouts`);
        return;
      }
      for (const { family } of this.families) {
        const saved = await this.readSave(family);
        const lines = saved.jumps.map((j) => `-D ${this.params.chain} ${j}`);
        if (saved.chainExists) lines.push(`-F ${this.chain}`, `-X ${this.chain}`);
        await this.restore(family, lines);
        this.banned[family].clear();
      }
      await this.teardown();
    });
  }

  list(): Promise<string[]> {
    return this.serial.run(async () => {
      const out: string[] = [];
      for (const { family } of this.families) out.push(...(await this.kernelAddresses(family)));
      return out;
    });
  }
}
