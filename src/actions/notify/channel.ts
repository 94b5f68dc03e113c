import type { Alert, NotifyEvent } from '../../alerts/types.js';
import type { Logger } from '../../core/logger.js';
import type { Ban } from '../../core/types.js';
import type { Action, BanOptions } from '../types.js';
import type { Outbox, OutboxStats } from './digest-queue.js';
import type { NotifyEntry } from './entry.js';

/** A notify action: bans, unbans and alerts into one digest queue. */
export interface NotifyChannel extends Action {
  readonly kind: 'notify';
  alert(alerts: Alert[]): Promise<void>;
  /** Resolves once no delivery is in progress; for tests and the daemon's shutdown report. */
  settled(): Promise<void>;
  stats(): OutboxStats;
}

export interface ChannelParts<M> {
  id: string;
  /** 'mail', 'webhook': log lines say which. */
  channel: string;
  logger: Logger;
  events: ReadonlySet<NotifyEvent>;
  notifyUnban: boolean;
  newOutbox(): Outbox<NotifyEntry, M>;
  stopDeadlineMs: number;
  /** After each start, with the outbox in use (a start notice, a check of the transport). */
  started?(outbox: Outbox<NotifyEntry, M>): Promise<void>;
  /** Before the outbox closes at stop (a stop notice). */
  stopping?(outbox: Outbox<NotifyEntry, M>): void;
  /** Once the outbox is closed: release the transport. */
  closed(): void;
}

/**
 * The lifecycle every notify action shares: what it is told goes into its
 * outbox (restored bans never: they were told about when they were made),
 * filtered by `events`; stop() sends what is held, within a deadline; a
 * reload may start the same action again after stop(), with a new outbox.
 */
export function notifyChannel<M>(p: ChannelParts<M>): NotifyChannel {
  let outbox = p.newOutbox();
  let started = false;
  let stopped = false;
  const bans = p.events.has('bans');
  const alerts = p.events.has('alerts');
  return {
    id: p.id,
    kind: 'notify',
    async start() {
      if (started && !stopped) return;
      if (stopped) {
        outbox = p.newOutbox();
        stopped = false;
      }
      started = true;
      await p.started?.(outbox);
    },
    async check() {
      return false;
    },
    async ban(list: Ban[], opts: BanOptions) {
      if (!bans || opts.restored || stopped) return;
      outbox.add(list.map((ban) => ({ event: 'ban', ban })));
    },
    async unban(list: Ban[]) {
      if (!bans || !p.notifyUnban || stopped) return;
      outbox.add(list.map((ban) => ({ event: 'unban', ban })));
    },
    async alert(list: Alert[]) {
      if (!alerts || stopped) return;
      // A probable compromise is not held back for a digest: the admin is told now.
      outbox.add(list.map((alert) => ({ event: 'alert', alert })), list.some((a) => a.severity === 'high'));
    },
    async flush() {
      // Nothing of ours is held in the kernel; queued messages still go out at stop().
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (started) p.stopping?.(outbox);
      const left = await outbox.close(p.stopDeadlineMs);
      p.closed();
      p.logger.debug(`${p.channel}: stopped`, { ...left });
    },
    settled: () => outbox.settled(),
    stats: () => outbox.stats(),
  };
}
