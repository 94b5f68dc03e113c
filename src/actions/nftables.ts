import type { Action, ActionDeps, BanOptions } from './types.js';
import type { Ban } from '../core/types.js';
import type { Invocation } from '../settings/types.js';
import { spawnRunner, netnsRunner, type CommandRunner } from './exec.js';
import { jailFirewallParams, type FirewallParams } from './params.js';
import { nftPortSet } from './ports.js';
import { splitBans, canonical, type FamilyBatch } from './batch.js';
import { isPrefixText } from '../core/address.js';
import { ConntrackFlusher } from './conntrack.js';
import { Serial } from './serial.js';
import { NftSession } from './nft-session.js';
import { sessionOrOneShot } from './tool-session.js';
import { NftNetlink, type ElementOp } from './nft-netlink.js';
import { metrics } from '../control/metrics.js';
import { CHAIN_PREFIX } from './iptables-base.js';

/** Kernel sets: one per family for addresses, and an interval set for IPv6 prefixes (ipv6_prefix). */
type SetKey = 4 | 6 | 'net6';
const SET: Record<SetKey, string> = { 4: 'addr-v4', 6: 'addr-v6', net6: 'net-v6' };
const SETS: readonly SetKey[] = [4, 6, 'net6'];
const ELEMENTS_PER_LINE = 1_000;
/**
 * Batches up to this size go through the running nft session; bigger ones
 * (a restore, a flood's backlog) start nft: there the start-up cost is spread
 * over many elements, and nft -i would echo a failing line whole.
 */
const SESSION_MAX_LINES = 16;
const SESSION_MAX_CHARS = 4_096;
/** Element changes per batch sent over netlink; a bigger batch (a restore) goes to nft -f. */
const NETLINK_MAX_OPS = 4_096;

/**
 * One `inet` table of ours per action name with a v4 and a v6 set
 * (`flags timeout`: every element expires by itself if we die), an interval
 * set for IPv6 prefixes (apart, because an interval set refuses an address
 * inside a prefix it holds, and a prefix ban may cover address bans) and a base
 * chain hooked before the usual filter chains. A drop in a base chain is
 * final whatever other tables accept, so an ESTABLISHED accept elsewhere
 * cannot keep a banned flow alive. Every change is one transaction:
 * address bans and unbans go to the kernel over netlink from this process
 * (NftNetlink) when they can, other small batches as a line to the running
 * `nft -i` (NftSession), big ones through `nft -f -`.
 */
export class Nftables implements Action {
  readonly kind = 'firewall' as const;
  readonly id: string;
  readonly table: string;
  private readonly run: CommandRunner;
  private readonly banned: Record<SetKey, Set<string>> = { 4: new Set(), 6: new Set(), net6: new Set() };
  private readonly flusher: ConntrackFlusher;
  private readonly serial = new Serial();
  /** Null when `persistent = no`, or when a test runs commands through its own runner. */
  private readonly session: NftSession | null;
  /** Null as for the session, and in another namespace (netns=): the socket is this process's. */
  private readonly netlink: NftNetlink | null;

  constructor(actionName: string, private readonly params: FirewallParams, private readonly deps: ActionDeps) {
    this.id = `${actionName}[${params.name}]`;
    this.table = `inet ${CHAIN_PREFIX}${params.name}`;
    const base = deps.run ?? spawnRunner;
    this.run = params.netns ? netnsRunner(params.netns, 'ip', base) : base;
    this.flusher = new ConntrackFlusher(this.run, params.conntrack, deps.logger);
    const argv = params.netns ? ['ip', 'netns', 'exec', params.netns, params.nft] : [params.nft];
    this.session = params.persistent && !deps.run ? new NftSession(argv, deps.logger, { action: this.id, onLost: () => deps.recheck?.() }) : null;
    this.netlink = params.persistent && params.netlink && !deps.run && !params.netns ? new NftNetlink(`${CHAIN_PREFIX}${params.name}`, deps.logger) : null;
  }

  private hook(): string {
    return this.params.chain.toLowerCase() === 'forward' ? 'forward' : 'input';
  }

  private rules(): string[] {
    const { ports, protocol, blocktype } = this.params;
    const verdict = blocktype.kind === 'DROP' ? 'drop' : blocktype.with === 'tcp-reset' ? 'reject with tcp reset' : 'reject';
    let match = '';
    if (ports !== null) match = `meta l4proto ${protocol === 'all' ? '{ tcp, udp }' : protocol} th dport ${nftPortSet(ports)} `;
    else if (protocol !== 'all') match = `meta l4proto ${protocol} `;
    return [
      `${match}ip saddr @${SET[4]} ${verdict}`,
      `${match}ip6 saddr @${SET[6]} ${verdict}`,
      `${match}ip6 saddr @${SET.net6} ${verdict}`,
      // Connection tracking must be on in this namespace for ban verification.
      'ct state new comment "asterisk-ban: keeps connection tracking on"',
    ];
  }

  private structure(): string[] {
    const t = this.table;
    const chain = this.hook();
    return [
      `add table ${t}`,
      `add set ${t} ${SET[4]} { type ipv4_addr; flags timeout; }`,
      `add set ${t} ${SET[6]} { type ipv6_addr; flags timeout; }`,
      `add set ${t} ${SET.net6} { type ipv6_addr; flags interval, timeout; }`,
      `add chain ${t} ${chain} { type filter hook ${chain} priority filter - 10; policy accept; }`,
      `flush chain ${t} ${chain}`,
      ...this.rules().map((r) => `add rule ${t} ${chain} ${r}`),
    ];
  }

  private async nft(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const fits = lines.length <= SESSION_MAX_LINES && lines.reduce((n, l) => n + l.length, 0) <= SESSION_MAX_CHARS;
    const path = await sessionOrOneShot(this.session, fits, lines, () => this.run(this.params.nft, ['-f', '-'], { input: `${lines.join('\n')}\n` }));
    metrics.nftBatches.inc({ action: this.id, path });
  }

  /**
   * Element changes over netlink when this path can take them (address
   * sets only, not too many); otherwise, or when it fails in any way, the
   * same changes as nft text. A refusal is left for nft to confirm and word.
   */
  private async elements(ops: ElementOp[]): Promise<void> {
    if (this.netlink?.usable && ops.length > 0 && ops.length <= NETLINK_MAX_OPS && ops.every((op) => op.set !== SET.net6)) {
      try {
        await this.netlink.apply(ops);
        metrics.nftBatches.inc({ action: this.id, path: 'netlink' });
        return;
      } catch {
        // NftNetlink has logged a lost socket; nft gives the verdict on a refusal.
      }
    }
    await this.nft(this.lines(ops));
  }

  /** Element changes as nft lines: a run of one verb on one set is one line (of ELEMENTS_PER_LINE at most). */
  private lines(ops: ElementOp[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < ops.length;) {
      const { verb, set } = ops[i]!;
      const items: string[] = [];
      for (; i < ops.length && ops[i]!.verb === verb && ops[i]!.set === set && items.length < ELEMENTS_PER_LINE; i++) {
        const { address, timeoutMs } = ops[i]!;
        items.push(typeof timeoutMs === 'number' ? `${address} timeout ${timeoutMs / 1000}s` : address);
      }
      out.push(`${verb} element ${this.table} ${set} { ${items.join(', ')} }`);
    }
    return out;
  }

  /** The table as JSON, or null when it does not exist. */
  private async readTable(): Promise<unknown[] | null> {
    const res = await this.run(this.params.nft, ['-j', 'list', 'table', ...this.table.split(' ')], { okCodes: [1] });
    if (res.code !== 0) return null;
    try {
      const doc = JSON.parse(res.stdout) as { nftables?: unknown[] };
      return Array.isArray(doc.nftables) ? doc.nftables : null;
    } catch {
      return null;
    }
  }

  private static members(doc: unknown[], name: string): string[] | null {
    for (const item of doc) {
      const set = (item as { set?: { name?: string; elem?: unknown[] } }).set;
      if (!set || set.name !== name) continue;
      const out: string[] = [];
      for (const e of set.elem ?? []) {
        const val = typeof e === 'object' && e !== null && 'elem' in e ? (e as { elem?: { val?: unknown } }).elem?.val : e;
        const text = elementText(val);
        if (text !== null) out.push(text);
      }
      return canonical(out);
    }
    return null;
  }

  private static ruleCount(doc: unknown[], chain: string): number {
    return doc.filter((i) => (i as { rule?: { chain?: string } }).rule?.chain === chain).length;
  }

  private elementOps(verb: 'add' | 'delete', f: SetKey, ips: string[], seconds?: Map<string, number | null>): ElementOp[] {
    return ips.map((address) => {
      const s = seconds?.get(address);
      return { verb, set: SET[f], address, timeoutMs: typeof s === 'number' ? s * 1000 : null };
    });
  }

  /** Add-then-delete: deleting an element that expired meanwhile would fail the whole transaction. */
  private removalOps(f: SetKey, ips: string[]): ElementOp[] {
    return [...this.elementOps('add', f, ips), ...this.elementOps('delete', f, ips)];
  }

  /** Known elements are replaced so that a new ban end (bantime increment) takes effect. */
  private additionOps(f: SetKey, ips: string[], seconds: Map<string, number | null>): ElementOp[] {
    const known = ips.filter((ip) => this.banned[f].has(ip));
    return [...this.removalOps(f, known), ...this.elementOps('add', f, ips, seconds)];
  }

  /**
   * Creates or adopts the table. Elements a previous run left are not read
   * back: listing 100,000 of them costs as much as writing them, and the
   * restore that follows re-adds them with the same timeouts anyway.
   */
  start(): Promise<void> {
    return this.serial.run(async () => {
      await this.nft(this.structure());
      this.netlink?.open();
    });
  }

  check(current: Ban[]): Promise<boolean> {
    return this.serial.run(async () => {
      const want = bySet(splitBans(current, this.deps.logger, this.id, this.deps.clock.now()));
      const doc = await this.readTable();
      const ok =
        doc !== null &&
        Nftables.ruleCount(doc, this.hook()) === this.rules().length &&
        SETS.every((f) => {
          const have = Nftables.members(doc, SET[f]);
          if (have === null) return false;
          const inKernel = new Set(have);
          return want[f].every((ip) => inKernel.has(ip));
        });
      if (ok) return false;
      this.deps.logger.warn(`${this.id}: nftables table was changed outside asterisk-ban; restoring it`);
      const lines = this.structure();
      for (const f of SETS) {
        lines.push(...this.lines([...this.removalOps(f, want[f]), ...this.elementOps('add', f, want[f], want.seconds)]));
        this.banned[f] = new Set(want[f]);
      }
      await this.nft(lines);
      return true;
    });
  }

  async ban(bans: Ban[], opts: BanOptions): Promise<void> {
    const apply = async (all: Ban[]) => {
      const batch = bySet(splitBans(all, this.deps.logger, this.id, this.deps.clock.now()));
      // A restored ban keeps its end, so an element already in the set is
      // right as it is: a plain add (a no-op for it) is enough.
      await this.elements(SETS.flatMap((f) => (opts.restored ? this.elementOps('add', f, batch[f], batch.seconds) : this.additionOps(f, batch[f], batch.seconds))));
      for (const f of SETS) for (const ip of batch[f]) this.banned[f].add(ip);
      return SETS.flatMap((f) => batch[f]);
    };
    const added = opts.restored ? await this.serial.run(() => apply(bans)) : await this.serial.gather(bans, apply);
    // Outside the serial queue: the next batch goes into the kernel while these flows are deleted.
    if (this.params.flushConntrack) await this.flusher.forgetBanned(bans, added);
  }

  unban(bans: Ban[]): Promise<void> {
    return this.serial.run(async () => {
      const batch = bySet(splitBans(bans, this.deps.logger, this.id));
      await this.elements(SETS.flatMap((f) => this.removalOps(f, batch[f])));
      for (const f of SETS) for (const ip of batch[f]) this.banned[f].delete(ip);
    });
  }

  flush(): Promise<void> {
    return this.serial.run(async () => {
      await this.nft([`add table ${this.table}`, ...SETS.map((f) => `flush set ${this.table} ${SET[f]}`)]);
      this.forgetAll();
    });
  }

  stop(): Promise<void> {
    return this.serial.run(async () => {
      if (this.params.keep) {
        this.deps.logger.info(`${this.id}: keep = yes, bans stay in the kernel until their timeouts`);
        this.session?.close();
        this.netlink?.close();
        return;
      }
      // `add` first makes the delete succeed even when the table is already gone.
      await this.nft([`add table ${this.table}`, `delete table ${this.table}`]);
      this.session?.close();
      this.netlink?.close();
      this.forgetAll();
    });
  }

  private forgetAll(): void {
    for (const f of SETS) this.banned[f].clear();
  }

  list(): Promise<string[]> {
    return this.serial.run(async () => {
      const doc = await this.readTable();
      if (!doc) return [];
      return SETS.flatMap((f) => Nftables.members(doc, SET[f]) ?? []);
    });
  }
}

/** A batch by kernel set: IPv6 prefixes go to the interval set. */
function bySet(batch: FamilyBatch): Record<SetKey, string[]> & { seconds: FamilyBatch['seconds'] } {
  return {
    4: batch.v4,
    6: batch.v6.filter((ip) => !isPrefixText(ip)),
    net6: batch.v6.filter(isPrefixText),
    seconds: batch.seconds,
  };
}

/** An element as `nft -j` prints it: an address string, or `{prefix: {addr, len}}` in an interval set. */
function elementText(val: unknown): string | null {
  if (typeof val === 'string') return val;
  const prefix = (val as { prefix?: { addr?: unknown; len?: unknown } } | null)?.prefix;
  return typeof prefix?.addr === 'string' && typeof prefix.len === 'number' ? `${prefix.addr}/${prefix.len}` : null;
}

export function nftablesFactory(actionName: string, allports: boolean) {
  return (spec: Invocation, deps: ActionDeps) =>
    new Nftables(actionName, jailFirewallParams(spec, deps, allports), deps);
}
