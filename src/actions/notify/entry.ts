import type { Alert } from '../../alerts/types.js';
import type { Ban } from '../../core/types.js';

/** What a notify channel tells about: a ban, an unban or an alert. */
export type NotifyEntry = { event: 'ban' | 'unban'; ban: Ban } | { event: 'alert'; alert: Alert };
