import type { ActionDeps } from './types.js';
import type { Invocation } from '../settings/types.js';
import { IptablesBase, CHAIN_PREFIX, type Family, type SavedState } from './iptables-base.js';
import { jailFirewallParams, type FirewallParams } from './params.js';
import { canonical } from './batch.js';
import { isPrefixText } from '../core/address.js';
import { IpsetSession } from './ipset-session.js';
import { sessionOrOneShot } from './tool-session.js';
import { metrics } from '../control/metrics.js';

// The kernel refuses longer ipset timeouts; a longer ban is re-added by check().
export const IPSET_MAX_TIMEOUT = 2_147_483;
const MAXELEM = 1_048_576;
/** Commands per batch sent to the running `ipset -`; a bigger batch (a restore) goes to `ipset restore`. */
const SESSION_MAX_LINES = 1_024;

/**
 * fail2ban's iptables-ipset: one hash:ip set per family, matched by one rule
 * in our chain, and a hash:net set for IPv6 prefixes (ipv6_prefix) with a
 * rule of its own. Every entry carries the kernel timeout of its ban's end,
 * so bans still expire if we die. A batch of changes goes to one `ipset -`
 * kept running (`persistent = yes`, the default), or through one `ipset
 * restore` when it is big, when `persistent = no`, or when the session is lost.
 */
export class IptablesIpset extends IptablesBase {
  /** Null when `persistent = no`, or when a test runs commands through its own runner. */
  private readonly session: IpsetSession | null;

  constructor(actionName: string, params: FirewallParams, deps: ActionDeps) {
    super(actionName, params, deps);
    const argv = params.netns ? ['ip', 'netns', 'exec', params.netns, params.ipset] : [params.ipset];
    this.session = params.persistent && !deps.run ? new IpsetSession(argv, deps.logger, { action: this.id, onLost: () => deps.recheck?.() }) : null;
  }

  setName(f: Family): string {
    return `${CHAIN_PREFIX}${this.params.name}-v${f}`;
  }

  /** The IPv6 prefix set; apart so that an existing hash:ip set keeps working as it is. */
  netSetName(): string {
    return `${CHAIN_PREFIX}${this.params.name}-n6`;
  }

  private setsOf(f: Family): string[] {
    return f === 4 ? [this.setName(4)] : [this.setName(6), this.netSetName()];
  }

  private setFor(f: Family, ip: string): string {
    return f === 6 && isPrefixText(ip) ? this.netSetName() : this.setName(f);
  }

  private async ipset(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const path = await sessionOrOneShot(this.session, lines.length <= SESSION_MAX_LINES, lines, () => this.run(this.params.ipset, ['-exist', 'restore'], { input: `${lines.join('\n')}\n` }));
    metrics.ipsetBatches.inc({ action: this.id, path });
  }

  override async stop(): Promise<void> {
    try {
      await super.stop();
    } finally {
      this.session?.close();
    }
  }

  private async existingSets(): Promise<Set<string>> {
    const { stdout } = await this.run(this.params.ipset, ['list', '-n']);
    return new Set(stdout.split('\n').map((s) => s.trim()));
  }

  /** Everything a family's sets hold, or null when one of them is missing. */
  private async members(f: Family): Promise<string[] | null> {
    const names = this.setsOf(f);
    const have = await this.existingSets();
    if (!names.every((n) => have.has(n))) return null;
    const out: string[] = [];
    for (const name of names) {
      const { stdout } = await this.run(this.params.ipset, ['save', name]);
      const prefix = `add ${name} `;
      out.push(...canonical(stdout.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).split(' ')[0]!)));
    }
    return out;
  }

  protected override keepOnStop(): boolean {
    return this.params.keep;
  }

  protected override async prepare(): Promise<void> {
    const common = `hashsize 1024 maxelem ${MAXELEM} timeout 0`;
    await this.ipset([
      ...([4, 6] as const).map((f) => `create ${this.setName(f)} hash:ip family ${f === 4 ? 'inet' : 'inet6'} ${common}`),
      `create ${this.netSetName()} hash:net family inet6 ${common}`,
    ]);
  }

  protected override async teardown(): Promise<void> {
    const have = await this.existingSets();
    await this.ipset([...this.setsOf(4), ...this.setsOf(6)].filter((n) => have.has(n)).map((n) => `destroy ${n}`));
  }

  protected chainBody(f: Family): string[] {
    return [...this.setsOf(f).map((set) => `-m set --match-set ${set} src ${this.block(f)}`), ...this.tail()];
  }

  protected async chainMatches(f: Family, saved: SavedState, want: Set<string>): Promise<boolean> {
    if (saved.chainRules.length !== this.chainBody(f).length) return false;
    if (!this.setsOf(f).every((set) => saved.chainRules.some((r) => r.includes(`--match-set ${set} src`)))) return false;
    const have = await this.members(f);
    if (have === null) return false;
    const inKernel = new Set(have);
    return [...want].every((ip) => inKernel.has(ip));
  }

  /**
   * Nothing is read: listing 100,000 members cost a restart after a crash
   * about a third of a second of CPU, and nothing needs them. The restore that follows
   * re-applies every ban in force, the reconciliation after it lifts the
   * rest, and flush() empties our sets whole.
   */
  protected async adopt(): Promise<void> {}

  protected override async removeAll(f: Family): Promise<void> {
    await this.ipset(this.setsOf(f).map((set) => `flush ${set}`));
    this.banned[f].clear();
  }

  protected async addAddresses(f: Family, ips: string[], seconds: Map<string, number | null>): Promise<void> {
    await this.ipset(ips.map((ip) => `add ${this.setFor(f, ip)} ${ip} timeout ${Math.min(seconds.get(ip) ?? 0, IPSET_MAX_TIMEOUT)}`));
    for (const ip of ips) this.banned[f].add(ip);
  }

  protected async removeAddresses(f: Family, ips: string[]): Promise<void> {
    if (ips.length > 0 && ips.length === this.banned[f].size && ips.every((ip) => this.banned[f].has(ip))) {
      await this.ipset(this.setsOf(f).map((set) => `flush ${set}`));
    } else {
      await this.ipset(ips.map((ip) => `del ${this.setFor(f, ip)} ${ip}`));
    }
    for (const ip of ips) this.banned[f].delete(ip);
  }

  protected async kernelAddresses(f: Family): Promise<string[]> {
    return (await this.members(f)) ?? [];
  }
}

export function ipsetFactory(actionName: string, allports: boolean) {
  return (spec: Invocation, deps: ActionDeps) =>
    new IptablesIpset(actionName, jailFirewallParams(spec, deps, allports), deps);
}
