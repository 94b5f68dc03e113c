import { ThrottledLog, type Logger } from '../core/logger.js';
import type { Clock } from '../core/clock.js';
import { printable } from '../core/address.js';
import type { Failure } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import type { PacketWitness } from './ban-gate.js';
import { TickBatch } from '../core/tick-batch.js';

export interface SuspectGateDeps {
  clock: Clock;
  logger: Logger;
  /** The jail's conntrack witness now (null: verification off or unavailable). */
  witness(): PacketWitness | null;
  /** Count a failure that verification confirmed. */
  count(f: Failure): void;
}

/**
 * Suspect log lines (filter/matcher.ts) are counted only when the kernel's
 * connection tracking shows their address really sent packets here: they
 * came in the same write as a message an attacker could extend with forged
 * lines. Without verification they are not counted at all. Lines arriving in
 * the same tick share one lookup.
 */
export class SuspectGate {
  private readonly batch = new TickBatch<Failure>((b) => this.drain(b));
  private readonly throttled: ThrottledLog;

  constructor(private readonly jail: string, private readonly deps: SuspectGateDeps) {
    this.throttled = new ThrottledLog(deps.logger, 60_000, deps.clock);
  }

  submit(f: Failure): void {
    if (this.deps.witness() === null) {
      metrics.logSuspect.inc({ jail: this.jail, outcome: 'unverified' });
      this.throttled.warn('unverified', `suspect log line not counted: it came with a message an attacker can extend with forged lines, and verification is off (verify = off or no conntrack)`, {
        jail: this.jail, ip: f.ip, evidence: printable(f.raw ?? '', 300),
      });
      return;
    }
    this.batch.add(f);
  }

  private async drain(batch: Failure[]): Promise<void> {
    const witness = this.deps.witness();
    let seen = new Set<string>();
    if (witness !== null) {
      try {
        seen = await witness.seen([...new Set(batch.map((f) => f.ip))]);
      } catch (err) {
        // Unlike a due ban, a suspect line fails closed: it is the attacker's word against the log.
        this.throttled.warn('failed', `suspect log lines not counted: verification failed: ${(err as Error).message}`, { jail: this.jail });
      }
    }
    for (const f of batch) {
      if (seen.has(f.ip)) {
        metrics.logSuspect.inc({ jail: this.jail, outcome: 'counted' });
        const { suspect: _s, ...plain } = f;
        this.deps.count(plain);
        continue;
      }
      metrics.logSuspect.inc({ jail: this.jail, outcome: 'refused' });
      this.throttled.warn(`refused:${f.ip}`, `suspect log line not counted: ${f.ip} never sent packets to this host (forged line?)`, {
        jail: this.jail, ip: f.ip, evidence: printable(f.raw ?? '', 300),
      });
    }
  }
}
