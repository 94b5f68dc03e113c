import type { Logger } from '../core/logger.js';
import { printable } from '../core/address.js';
import type { BanRequest } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import { TickBatch } from '../core/tick-batch.js';

/** Which addresses really sent packets here (src/jail/verify.ts asks conntrack). */
export interface PacketWitness {
  seen(ips: string[]): Promise<Set<string>>;
}

export interface BanGateDeps {
  logger: Logger;
  pass(req: BanRequest): void;
}

/**
 * Between a jail's decision and the ban manager: a due ban is checked against
 * the kernel's connection tracking, so a forged line or frame naming a
 * bystander bans nobody. Requests arriving in the same tick share one lookup,
 * which keeps a flood to one conntrack query per batch.
 */
export class BanGate {
  refused = 0;
  private readonly batch = new TickBatch<BanRequest>((b) => this.drain(b));
  /** null: verification off or unavailable; every request passes. */
  private witness: PacketWitness | null = null;

  constructor(private readonly jail: string, private readonly deps: BanGateDeps) {}

  setWitness(witness: PacketWitness | null): void {
    this.witness = witness;
  }

  /** The witness in use (null: verification off or unavailable). */
  get currentWitness(): PacketWitness | null {
    return this.witness;
  }

  submit(req: BanRequest): void {
    if (!this.witness) {
      this.deps.pass(req);
      return;
    }
    this.batch.add(req);
  }

  private async drain(batch: BanRequest[]): Promise<void> {
    const witness = this.witness;
    if (!witness) {
      for (const req of batch) this.deps.pass(req);
      return;
    }
    let seen: Set<string>;
    try {
      seen = await witness.seen([...new Set(batch.map(witnessed))]);
    } catch (err) {
      // A broken conntrack query must not let attackers through: fail open,
      // loudly, as a firewall that cannot verify is still a firewall.
      this.deps.logger.error(`ban verification failed, banning unverified: ${(err as Error).message}`, { jail: this.jail });
      for (const req of batch) this.deps.pass(req);
      return;
    }
    for (const req of batch) {
      if (seen.has(witnessed(req))) {
        this.deps.pass(req);
        continue;
      }
      this.refused++;
      metrics.verifyRefused.inc({ jail: this.jail });
      const last = req.failures[req.failures.length - 1];
      this.deps.logger.warn(
        `REFUSED ban of ${req.ip}: ${req.address ?? 'it'} never sent packets to this host (forged ${req.source === 'ami' ? 'event' : 'log line'}?)`,
        { jail: this.jail, ip: req.ip, reason: req.reason, evidence: printable(last?.raw ?? req.reason, 300) },
      );
    }
  }
}

/** The address that must have sent packets: a prefix is banned on the strength of the one that crossed maxretry. */
function witnessed(req: BanRequest): string {
  return req.address ?? req.ip;
}
