import { formatDuration, MAX_DURATION_SECONDS } from '../core/duration.js';
import type { Ban } from '../core/types.js';

/** One greppable line per ban, as fail2ban writes them: `Ban 203.0.113.5 [asterisk] 5 failures (InvalidPassword), 10m ...`. */
export function banLine(b: Ban): string {
  const why = b.node !== undefined ? `from fleet node ${b.node} (${b.reason})` : b.source === 'manual' ? 'manual' : `${b.failures.length} failure${b.failures.length === 1 ? '' : 's'} (${b.reason}, ${b.source})`;
  const until = b.end === null ? 'permanent' : `${formatDuration(Math.round((b.end - b.start) / 1000))} until ${new Date(b.end).toISOString()}`;
  return `Ban ${b.ip} [${b.jail}] ${why}, ${until}${b.count > 1 ? `, ban #${b.count}` : ''}`;
}

/** A growing bantime (factor 2, fifty bans) stops at ten years, where a date and an nft timeout still hold it. */
export function boundedSeconds(seconds: number): number {
  if (seconds < 0) return -1;
  return Number.isFinite(seconds) ? Math.min(seconds, MAX_DURATION_SECONDS) : MAX_DURATION_SECONDS;
}
