import type { ActionDeps } from './types.js';
import type { Invocation } from '../settings/types.js';
import { IptablesBase, type Family, type SavedState } from './iptables-base.js';
import { jailFirewallParams } from './params.js';
import { canonical } from './batch.js';

/** Up to this many unbans are deleted rule by rule; beyond, the chain is rebuilt in one restore (iptables -D scans the chain). */
const DELETE_ONE_BY_ONE_MAX = 100;
const SOURCE_RULE = /^-s (\S+) -j /;

/** One rule per banned address in our chain: iptables-allports and iptables-multiport. */
export class IptablesRules extends IptablesBase {
  private rule(f: Family, ip: string): string {
    return `-s ${ip} ${this.block(f)}`;
  }

  protected chainBody(f: Family): string[] {
    return [...[...this.banned[f]].reverse().map((ip) => this.rule(f, ip)), ...this.tail()];
  }

  private addressesIn(saved: SavedState): string[] {
    return canonical(saved.chainRules.map((r) => SOURCE_RULE.exec(r)?.[1]).filter((x): x is string => x !== undefined));
  }

  protected async chainMatches(_f: Family, saved: SavedState, want: Set<string>): Promise<boolean> {
    const have = this.addressesIn(saved);
    const others = saved.chainRules.length - have.length;
    return others === this.tail().length && have.length === want.size && have.every((ip) => want.has(ip));
  }

  protected async adopt(f: Family, saved: SavedState): Promise<void> {
    for (const ip of this.addressesIn(saved)) this.banned[f].add(ip);
  }

  protected async addAddresses(f: Family, ips: string[]): Promise<void> {
    const fresh = ips.filter((ip) => !this.banned[f].has(ip));
    if (fresh.length === 0) return;
    await this.restore(f, fresh.map((ip) => `-I ${this.chain} 1 ${this.rule(f, ip)}`));
    for (const ip of fresh) this.banned[f].add(ip);
  }

  protected async removeAddresses(f: Family, ips: string[]): Promise<void> {
    const present = ips.filter((ip) => this.banned[f].has(ip));
    if (present.length === 0) return;
    for (const ip of present) this.banned[f].delete(ip);
    if (present.length <= DELETE_ONE_BY_ONE_MAX) {
      try {
        await this.restore(f, present.map((ip) => `-D ${this.chain} ${this.rule(f, ip)}`));
        return;
      } catch {
        // Someone removed a rule under us: the rebuild below sets the chain straight.
      }
    }
    await this.restore(f, this.rebuildLines(f, null, false));
  }

  protected async kernelAddresses(f: Family): Promise<string[]> {
    return this.addressesIn(await this.readSave(f));
  }
}

export function iptablesRulesFactory(actionName: string, allports: boolean) {
  return (spec: Invocation, deps: ActionDeps) =>
    new IptablesRules(actionName, jailFirewallParams(spec, deps, allports), deps);
}
