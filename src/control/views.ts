import type { Ban } from '../core/types.js';
import type { BanView } from './api.js';

/** A ban as the control socket shows it: ISO times, null `until` when permanent. */
export function banView(ban: Ban): BanView {
  return {
    jail: ban.jail,
    ip: ban.ip,
    since: new Date(ban.start).toISOString(),
    until: ban.end === null ? null : new Date(ban.end).toISOString(),
    count: ban.count,
    source: ban.source,
    reason: ban.reason,
  };
}
