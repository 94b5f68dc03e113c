import type { Action } from '../actions/types.js';
import { parseAddress } from '../core/address.js';
import type { Logger } from '../core/logger.js';
import type { Ban } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import type { StoredBan } from '../store/store.js';
import type { Dispatcher } from './dispatch.js';

export interface RestorePlan {
  /** Unexpired: re-applied. */
  live: StoredBan[];
  /** Overdue while we were down: lifted. */
  due: StoredBan[];
}

export function splitByExpiry(bans: StoredBan[], now: number): RestorePlan {
  const live: StoredBan[] = [];
  const due: StoredBan[] = [];
  for (const b of bans) (b.end !== null && b.end <= now ? due : live).push(b);
  return { live, due };
}

/**
 * Brings one action in line with the database after a start: one ban batch
 * (restored, so notify actions stay quiet) and one unban batch. When the
 * action can list what the kernel holds, only the difference is sent, and an
 * address the kernel holds but the database does not is lifted.
 */
export async function reconcileAction(jail: string, action: Action, plan: RestorePlan, dispatcher: Dispatcher, logger: Logger): Promise<void> {
  try {
    await action.start();
  } catch (err) {
    // Keep going: the ban batch below fails too and is retried with backoff.
    metrics.actionErrors.inc({ jail, action: action.id });
    logger.error(`action ${action.id} failed to start`, { jail, action: action.id, error: err instanceof Error ? err.message : String(err) });
  }
  let kernel: Set<string> | null = null;
  if (action.list) {
    try {
      kernel = new Set((await action.list()).map((t) => parseAddress(t)?.text ?? t));
    } catch (err) {
      logger.warn(`action ${action.id} cannot list its bans; re-applying all`, { jail, error: err instanceof Error ? err.message : String(err) });
    }
  }
  let toBan: Ban[] = plan.live;
  let toUnban: Ban[] = plan.due;
  if (kernel) {
    const k = kernel;
    const wanted = new Set(plan.live.map((b) => b.ip));
    toBan = plan.live.filter((b) => !k.has(b.ip));
    const dueByIp = new Map(plan.due.map((b) => [b.ip, b]));
    toUnban = [...k].filter((ip) => !wanted.has(ip)).map((ip) => dueByIp.get(ip) ?? strayBan(jail, ip));
    if (toUnban.length > 0) logger.info(`action ${action.id}: lifting ${toUnban.length} address(es) held in the kernel but not banned`, { jail });
  }
  await Promise.all([
    dispatcher.run(jail, action, 'ban', toBan, { restored: true }),
    dispatcher.run(jail, action, 'unban', toUnban),
  ]);
}

/** A stand-in record for an address we hold no ban for, so the action can delete it. */
function strayBan(jail: string, ip: string): Ban {
  const family = parseAddress(ip)?.family ?? (ip.includes(':') ? 6 : 4);
  return { jail, ip, family, start: 0, end: 0, count: 0, source: 'manual', reason: 'not in the ban database', failures: [] };
}
