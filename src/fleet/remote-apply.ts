import type { Clock } from '../core/clock.js';
import type { Logger, ThrottledLog } from '../core/logger.js';
import { metrics } from '../control/metrics.js';
import type { BanManager } from '../bans/manager.js';
import type { FleetMode } from '../settings/types.js';
import type { FleetEntry } from './entry.js';
import type { NodeCaps } from './node-caps.js';

export interface RemoteApplierOptions {
  manager: BanManager;
  modes(): ReadonlyMap<string, FleetMode>;
  clock: Clock;
  logger: Logger;
  throttled: ThrottledLog;
  caps: NodeCaps;
}

/**
 * Other nodes' bans and unbans into this node's ban manager: only for jails
 * that share, within each origin's per-minute allowance, counted and logged
 * by outcome.
 */
/** Origin nodes that get a metric label of their own; the rest share "other" (names come from Redis: untrusted). */
const MAX_NODE_LABELS = 64;

export class RemoteApplier {
  readonly counts = { applied: 0, refused: 0 };
  private readonly labelled = new Set<string>();

  constructor(private readonly o: RemoteApplierOptions) {}

  private node(name: string): string {
    if (this.labelled.has(name)) return name;
    if (this.labelled.size >= MAX_NODE_LABELS) return 'other';
    this.labelled.add(name);
    return name;
  }

  invalid(why: string): void {
    metrics.fleetRemote.inc({ op: 'any', outcome: 'invalid', node: 'unknown' });
    this.counts.refused++;
    this.o.throttled.warn(`invalid:${why.slice(0, 40)}`, `fleet: skipped ${why}`);
  }

  /** One remote change through the ban manager; caps per origin node per minute. */
  async apply(e: FleetEntry, live: boolean): Promise<boolean> {
    const mode = this.o.modes().get(e.jail);
    if (mode === undefined || mode === 'off') return false;
    // A resync restores what is in force already; the cap is on how fast a node makes new ones.
    if (live && !this.o.caps.allow(e.node, e.op, this.o.clock.now())) {
      metrics.fleetRemote.inc({ op: e.op, outcome: 'capped', node: this.node(e.node) });
      this.counts.refused++;
      this.o.throttled.warn(`cap:${e.node}`, `fleet: node ${e.node} sent more ${e.op}s than ${this.o.caps.limit(e.op)} a minute: the rest of this minute's are skipped`, { node: e.node });
      return false;
    }
    if (e.op === 'unban') {
      const lifted = await this.o.manager.remoteUnban(e.jail, e.ip, e.node);
      metrics.fleetRemote.inc({ op: 'unban', outcome: lifted.length > 0 ? 'applied' : 'kept', node: this.node(e.node) });
      return lifted.length > 0;
    }
    const r = await this.o.manager.remoteBan({ jail: e.jail, ip: e.ip, end: e.end, reason: e.reason, count: e.count, node: e.node });
    if (r.extended) {
      this.counts.applied++;
      metrics.fleetRemote.inc({ op: 'ban', outcome: 'extended', node: this.node(e.node) });
      return true;
    }
    if (r.applied) {
      this.counts.applied++;
      metrics.fleetRemote.inc({ op: 'ban', outcome: 'applied', node: this.node(e.node) });
      if (live) metrics.fleetPropagation.observe(Math.max(0, this.o.clock.now() - e.at) / 1000);
      return true;
    }
    const outcome = r.why?.startsWith('ignored') ? 'ignored' : 'kept';
    metrics.fleetRemote.inc({ op: 'ban', outcome, node: this.node(e.node) });
    if (outcome === 'ignored') {
      this.counts.refused++;
      this.o.logger.info(`fleet: not banning ${e.ip} [${e.jail}] from node ${e.node}: ${r.why}`, { jail: e.jail, ip: e.ip, node: e.node });
    }
    return false;
  }
}
