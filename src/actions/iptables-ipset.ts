import type { ActionDeps } from './types.js';
import type { Invocation } from '../settings/types.js';
import { IptablesBase, CHAIN_PREFIX, type Family, type SavedState } from './iptables-base.js';
import { jailFirewallParams } from './params.js';
import { canonical } from './batch.js';

// The kernel refuses longer ipset timeouts; a longer ban is re-added by check().
export const IPSET_MAX_TIMEOUT = 2_147_483;
const MAXELEM = 1_048_576;

/**
 * fail2ban's iptables-ipset: one hash:ip set per family, matched by one rule
 * in our chain. Every entry carries the kernel timeout of its ban's end, so
 * bans still expire if we die; bans of one call go through one `ipset restore`.
 */
export class IptablesIpset extends IptablesBase {
  setName(f: Family): string {
    return `${CHAIN_PREFIX}${this.params.name}-v${f}`;
  }

  private async ipset(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    await this.run(this.params.ipset, ['-exist', 'restore'], { input: `${lines.join('\n')}\n` });
  }

  private async existingSets(): Promise<Set<string>> {
    const { stdout } = await this.run(this.params.ipset, ['list', '-n']);
    return new Set(stdout.split('\n').map((s) => s.trim()));
  }

  private async members(f: Family): Promise<string[] | null> {
    const name = this.setName(f);
    if (!(await this.existingSets()).has(name)) return null;
    const { stdout } = await this.run(this.params.ipset, ['save', name]);
    const prefix = `add ${name} `;
    return canonical(stdout.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).split(' ')[0]!));
  }

  protected override keepOnStop(): boolean {
    return this.params.keep;
  }

  protected override async prepare(): Promise<void> {
    await this.ipset(
      ([4, 6] as const).map((f) => `create ${this.setName(f)} hash:ip family ${f === 4 ? 'inet' : 'inet6'} hashsize 1024 maxelem ${MAXELEM} timeout 0`),
    );
  }

  protected override async teardown(): Promise<void> {
    const have = await this.existingSets();
    await this.ipset(([4, 6] as const).map((f) => this.setName(f)).filter((n) => have.has(n)).map((n) => `destroy ${n}`));
  }

  protected chainBody(f: Family): string[] {
    return [`-m set --match-set ${this.setName(f)} src ${this.block(f)}`, ...this.tail()];
  }

  protected async chainMatches(f: Family, saved: SavedState, want: Set<string>): Promise<boolean> {
    if (saved.chainRules.length !== this.chainBody(f).length) return false;
    if (!saved.chainRules.some((r) => r.includes(`--match-set ${this.setName(f)} src`))) return false;
    const have = await this.members(f);
    if (have === null) return false;
    const inKernel = new Set(have);
    return [...want].every((ip) => inKernel.has(ip));
  }

  protected async adopt(f: Family): Promise<void> {
    for (const ip of (await this.members(f)) ?? []) this.banned[f].add(ip);
  }

  protected async addAddresses(f: Family, ips: string[], seconds: Map<string, number | null>): Promise<void> {
    const set = this.setName(f);
    await this.ipset(ips.map((ip) => `add ${set} ${ip} timeout ${Math.min(seconds.get(ip) ?? 0, IPSET_MAX_TIMEOUT)}`));
    for (const ip of ips) this.banned[f].add(ip);
  }

  protected async removeAddresses(f: Family, ips: string[]): Promise<void> {
    const set = this.setName(f);
    if (ips.length > 0 && ips.length === this.banned[f].size && ips.every((ip) => this.banned[f].has(ip))) {
      await this.ipset([`flush ${set}`]);
    } else {
      await this.ipset(ips.map((ip) => `del ${set} ${ip}`));
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
