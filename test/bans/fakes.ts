import type { Action, BanOptions } from '../../src/actions/types.js';
import type { Ban, BanRequest } from '../../src/core/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { DEFAULT_INCREMENT } from '../../src/settings/defaults.js';
import type { IncrementSettings } from '../../src/settings/types.js';

export interface Call {
  op: 'ban' | 'unban';
  ips: string[];
  restored?: boolean;
}

/** An action that keeps a fake kernel set and records every batch it gets. */
export class FakeAction implements Action {
  readonly calls: Call[] = [];
  readonly kernel = new Set<string>();
  /** Number of upcoming ban/unban calls that reject. */
  failNext = 0;
  starts = 0;
  list?: () => Promise<string[]>;

  constructor(readonly id = 'fake', readonly kind: 'firewall' | 'notify' = 'firewall', opts: { listable?: boolean } = {}) {
    if (opts.listable) this.list = async () => [...this.kernel];
  }

  async start(): Promise<void> {
    this.starts++;
  }
  async check(): Promise<boolean> {
    return false;
  }
  async ban(bans: Ban[], opts: BanOptions): Promise<void> {
    this.calls.push({ op: 'ban', ips: bans.map((b) => b.ip), restored: opts.restored });
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('firewall said no');
    }
    for (const b of bans) this.kernel.add(b.ip);
  }
  async unban(bans: Ban[]): Promise<void> {
    this.calls.push({ op: 'unban', ips: bans.map((b) => b.ip) });
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('firewall said no');
    }
    for (const b of bans) this.kernel.delete(b.ip);
  }
  async flush(): Promise<void> {
    this.kernel.clear();
  }
  async stop(): Promise<void> {
    this.kernel.clear();
  }

  bansOf(op: 'ban' | 'unban'): Call[] {
    return this.calls.filter((c) => c.op === op);
  }
}

export const logger = silentLogger();

export function inc(over: Partial<IncrementSettings> = {}): IncrementSettings {
  return { ...DEFAULT_INCREMENT, ...over };
}

export function req(ip: string, time: number, jail = 'asterisk'): BanRequest {
  return { jail, ip, family: ip.includes(':') ? 6 : 4, time, source: 'ami', reason: 'InvalidPassword', failures: [] };
}

/** Lets pending setImmediate/promise work run. */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export function v4(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}
