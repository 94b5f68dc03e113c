import type { Action } from '../actions/types.js';
import { parseBanTarget } from '../core/address.js';
import type { Logger } from '../core/logger.js';
import type { Ban } from '../core/types.js';
import { metrics } from '../control/metrics.js';
import type { StoredBan } from '../store/store.js';
import type { Dispatcher } from './dispatch.js';

export interface RestorePlan {
  /** Unexpired: re-applied. */
  live: Ban[];
  /** Overdue while we were down: lifted. */
  due: Ban[];
}

export function splitByExpiry(bans: StoredBan[], now: number): RestorePlan {
  const live: Ban[] = [];
  const due: Ban[] = [];
  for (const b of bans) (b.end !== null && b.end <= now ? due : live).push(b);
  return { live, due };
}

/**
 * Brings one action in line with the database after a start: one ban batch
 * of everything unexpired (restored, so notify actions stay quiet) and one
 * unban batch of what fell due while we were down. Enforcement comes first;
 * comparing with what the kernel holds (reconcileWithKernel) comes after,
 * because listing a 100,000-element set costs as much as writing it.
 */
export async function restoreAction(jail: string, action: Action, plan: RestorePlan, dispatcher: Dispatcher, logger: Logger): Promise<void> {
  try {
    await action.start();
  } catch (err) {
    // Keep going: the ban batch below fails too and is retried with backoff.
    metrics.actionErrors.inc({ jail, action: action.id });
    logger.error(`action ${action.id} failed to start`, { jail, action: action.id, error: errorText(err) });
  }
  await Promise.all([
    dispatcher.run(jail, action, 'ban', plan.live, { restored: true }),
    dispatcher.run(jail, action, 'unban', plan.due),
  ]);
}

/**
 * Lifts addresses the kernel holds for this action but we do not ban (left
 * by a crash, or added by hand), and re-bans any we ban that the kernel
 * lacks. `current` is read again after the listing, so an address banned
 * meanwhile is never taken for a stray.
 */
export async function reconcileWithKernel(jail: string, action: Action, current: () => Map<string, Ban>, dispatcher: Dispatcher, logger: Logger): Promise<void> {
  if (!action.list) return;
  // Bans made while the listing runs may reach the kernel after it: only those
  // live before it started can be "missing".
  const before = new Set(current().keys());
  let listed: string[];
  try {
    listed = await action.list();
  } catch (err) {
    logger.warn(`action ${action.id} cannot list what the kernel holds; not reconciled`, { jail, error: errorText(err) });
    return;
  }
  const kernel = new Map<string, 4 | 6>();
  for (const text of listed) {
    const addr = parseBanTarget(text);
    if (addr) kernel.set(addr.text, addr.family);
  }
  const live = current();
  const missing = [...live.values()].filter((b) => before.has(b.ip) && !kernel.has(b.ip));
  const strays = [...kernel].filter(([ip]) => !live.has(ip)).map(([ip, family]) => strayBan(jail, ip, family));
  if (missing.length + strays.length === 0) return;
  logger.warn(`action ${action.id}: kernel differed from the ban database; lifting ${strays.length}, re-applying ${missing.length}`, { jail });
  await Promise.all([
    dispatcher.run(jail, action, 'ban', missing, { restored: true }),
    dispatcher.run(jail, action, 'unban', strays),
  ]);
}

/** A stand-in record for an address we hold no ban for, so the action can delete it. */
function strayBan(jail: string, ip: string, family: 4 | 6): Ban {
  return { jail, ip, family, start: 0, end: 0, count: 0, source: 'manual', reason: 'not in the ban database', failures: [] };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
