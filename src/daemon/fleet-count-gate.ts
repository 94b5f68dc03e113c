import type { Logger } from '../core/logger.js';
import { ThrottledLog } from '../core/logger.js';
import type { Clock } from '../core/clock.js';
import { TickBatch } from '../core/tick-batch.js';
import type { Failure } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import type { PacketWitness } from './ban-gate.js';

export interface FleetCountGateDeps {
  clock: Clock;
  logger: Logger;
  /** The jail's conntrack witness now (null: verification off or unavailable). */
  witness(): PacketWitness | null;
  count(f: Failure): void;
}

/**
 * Between a jail that counted a failure and the fleet-wide count: with
 * verification on, only an address this host's connection tracking has seen
 * may add to a count every node acts on, so a forged log line here cannot
 * ban a bystander fleet-wide. Unlike a local ban, a failing lookup counts
 * nothing: the local count goes on regardless.
 */
export class FleetCountGate {
  unseen = 0;
  private readonly batch = new TickBatch<Failure>((b) => this.drain(b));
  private readonly throttled: ThrottledLog;

  constructor(private readonly jail: string, private readonly deps: FleetCountGateDeps) {
    this.throttled = new ThrottledLog(deps.logger, 60_000, deps.clock);
  }

  submit(f: Failure): void {
    if (!this.deps.witness()) {
      this.deps.count(f);
      return;
    }
    this.batch.add(f);
  }

  private async drain(batch: Failure[]): Promise<void> {
    const witness = this.deps.witness();
    if (!witness) {
      for (const f of batch) this.deps.count(f);
      return;
    }
    let seen: Set<string>;
    try {
      seen = await witness.seen([...new Set(batch.map((f) => f.ip))]);
    } catch (err) {
      this.throttled.error('lookup', `fleet: not adding ${batch.length} failure(s) to the fleet-wide count: conntrack lookup failed (${(err as Error).message})`, { jail: this.jail });
      return;
    }
    for (const f of batch) {
      if (seen.has(f.ip)) {
        this.deps.count(f);
        continue;
      }
      this.unseen++;
      metrics.fleetCounted.inc({ outcome: 'unseen' });
      this.throttled.warn(`unseen:${f.ip}`, `fleet: not adding ${f.ip}'s failure to the fleet-wide count: it never sent packets to this host (forged ${f.source === 'ami' ? 'event' : 'log line'}?)`, { jail: this.jail, ip: f.ip });
    }
  }
}
