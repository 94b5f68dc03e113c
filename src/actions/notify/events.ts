import { printable } from '../../core/address.js';
import type { NotifyEvent } from '../../alerts/types.js';
import { splitList } from '../../settings/values.js';

const NOTIFY_EVENTS: readonly NotifyEvent[] = ['bans', 'alerts'];

/**
 * A notify action's `events` parameter: `bans`, `alerts` or both (the
 * default), space or comma separated. `fail` reports with the action's file:line.
 */
export function parseNotifyEvents(text: string | undefined, fail: (message: string, hint?: string) => never): ReadonlySet<NotifyEvent> {
  const words = splitList((text ?? 'bans alerts').toLowerCase());
  if (words.length === 0) fail('events is empty', 'use bans, alerts, or both');
  for (const w of words) {
    if (!(NOTIFY_EVENTS as readonly string[]).includes(w)) fail(`events "${printable(w, 40)}" is neither bans nor alerts`, 'use bans, alerts, or both');
  }
  return new Set(words as NotifyEvent[]);
}
