/**
 * Asterisk's logger queues messages for one writer thread; beyond
 * `logger_queue_limit` (1,000 by default) it discards new ones, writes
 * "Log queue threshold (N) exceeded.  Discarding new messages." once, and
 * "Logging resumed.  N messages discarded." when it has caught up (main/logger.c).
 * Failures in discarded messages never reach the log, so log mode cannot see
 * them; AMI events do not go through that queue.
 */
const HEAD = String.raw`^\[[^\]]{1,64}\] WARNING\[\d{1,10}\](?:\[C-[0-9a-f]{8}\])? logger: `;
const OVERFLOW = new RegExp(`${HEAD}Log queue threshold \\((\\d{1,10})\\) exceeded\\.  Discarding new messages\\.$`);
const RESUMED = new RegExp(`${HEAD}Logging resumed\\.  (\\d{1,10}) messages? discarded\\.$`);
/** Cheap screen: every line of a busy log passes here. */
const MARK = ' logger: Log';

export type LoggerDrop = { kind: 'overflow'; limit: number } | { kind: 'resumed'; discarded: number };

export function loggerDrop(line: string): LoggerDrop | null {
  if (line.length > 200 || !line.includes(MARK)) return null;
  const o = OVERFLOW.exec(line);
  if (o) return { kind: 'overflow', limit: Number(o[1]) };
  const r = RESUMED.exec(line);
  if (r) return { kind: 'resumed', discarded: Number(r[1]) };
  return null;
}

/** What one jail's logs said about Asterisk discarding messages. */
export class LoggerDrops {
  overflows = 0;
  discarded = 0;
  /** ms epoch since when Asterisk says it is discarding (no "resumed" yet), or null. */
  discardingSince: number | null = null;

  /** Looks at a batch of lines; returns what it found, for the caller to report. */
  scan(lines: readonly string[], now: number): LoggerDrop[] {
    const found: LoggerDrop[] = [];
    for (const line of lines) {
      const d = loggerDrop(line);
      if (!d) continue;
      found.push(d);
      if (d.kind === 'overflow') {
        this.overflows++;
        this.discardingSince ??= now;
      } else {
        this.discarded += d.discarded;
        this.discardingSince = null;
      }
    }
    return found;
  }
}
