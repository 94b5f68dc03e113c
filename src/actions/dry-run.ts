import type { Action, ActionDeps, BanOptions } from './types.js';
import type { Ban } from '../core/types.js';
import type { Invocation } from '../settings/types.js';
import { splitBans } from './batch.js';

export interface DryRunCall {
  op: 'start' | 'check' | 'ban' | 'unban' | 'flush' | 'stop';
  ips: string[];
  restored?: boolean;
}

const MAX_CALLS = 1000;

/**
 * Logs what a firewall would do and remembers it: for trying a
 * configuration on a live host, and for tests of the layers above.
 */
export class DryRunAction implements Action {
  readonly kind = 'firewall' as const;
  readonly id: string;
  /** The latest calls, for tests and debugging; a long run keeps only the last MAX_CALLS. */
  readonly calls: DryRunCall[] = [];
  private readonly held = new Set<string>();

  constructor(name: string, private readonly deps: ActionDeps) {
    this.id = `dry-run[${name}]`;
  }

  private record(call: DryRunCall): void {
    this.calls.push(call);
    if (this.calls.length > MAX_CALLS) this.calls.splice(0, this.calls.length - MAX_CALLS);
  }

  private addresses(bans: Ban[]): string[] {
    const b = splitBans(bans, this.deps.logger, this.id);
    return [...b.v4, ...b.v6];
  }

  async start(): Promise<void> {
    this.record({ op: 'start', ips: [] });
    this.deps.logger.info(`${this.id}: start`);
  }

  async check(current: Ban[]): Promise<boolean> {
    this.record({ op: 'check', ips: this.addresses(current) });
    return false;
  }

  async ban(bans: Ban[], opts: BanOptions): Promise<void> {
    const ips = this.addresses(bans);
    this.record({ op: 'ban', ips, restored: opts.restored });
    for (const ip of ips) {
      this.held.add(ip);
      this.deps.logger.info(`${this.id}: would ban ${ip}${opts.restored ? ' (restored)' : ''}`, { jail: this.deps.jail.name, ip });
    }
  }

  async unban(bans: Ban[]): Promise<void> {
    const ips = this.addresses(bans);
    this.record({ op: 'unban', ips });
    for (const ip of ips) {
      this.held.delete(ip);
      this.deps.logger.info(`${this.id}: would unban ${ip}`, { jail: this.deps.jail.name, ip });
    }
  }

  async flush(): Promise<void> {
    this.record({ op: 'flush', ips: [...this.held] });
    this.held.clear();
    this.deps.logger.info(`${this.id}: flush`);
  }

  async stop(): Promise<void> {
    this.record({ op: 'stop', ips: [] });
    this.held.clear();
    this.deps.logger.info(`${this.id}: stop`);
  }

  async list(): Promise<string[]> {
    return [...this.held];
  }
}

export function dryRunFactory(spec: Invocation, deps: ActionDeps): Action {
  return new DryRunAction(spec.params.name?.trim() || deps.jail.name, deps);
}
