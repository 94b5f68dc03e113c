import { REACH_CHARS, SUSPECT_MS } from './limits.js';


/** A message that carried attacker line breaks, or ended in an attacker's field. */
export interface Episode {
  /** The address the message itself counted (its sender), or null. */
  own: string | null;
  /** Stream offset just past its first line. */
  end: number;
  /** How far after `end` the attacker's text can reach. */
  reach: number;
  time: number | null;
  read: number;
}

/** Where a line is: its stream offset, read and date. */
interface Place {
  pos: number;
  read: number;
  time: number | null;
}

/** Windows kept at once; older ones are dropped first. */
const MAX_EPISODES = 256;
/** How long past its reach a window is kept: matcher.ts may decide a line up to twice its reach late. */
const KEEP_CHARS = 4 * REACH_CHARS;

/**
 * The suspect windows: the lines that may have come in the same write as a
 * message that an attacker could extend with forged lines. A window covers
 * the lines starting within its reach (REACH_CHARS at most) after the message's first line
 * that arrived in the same read (the daemon, which knows its reads) or,
 * where reads are unknown (test-filter), that are stamped no later than
 * SUSPECT_MS after the message.
 */
export class Episodes {
  private list: Episode[] = [];

  open(e: Episode): void {
    if (this.list.length >= MAX_EPISODES) this.list.shift();
    this.list.push(e);
  }

  /**
   * Whether a line naming `ip` is suspect: it lies in a window, and no
   * window it lies in is that address's own.
   */
  suspects(l: Place, ip: string, reads: boolean): boolean {
    if (this.list.length === 0) return false;
    this.prune(l.pos);
    let covered = false;
    for (const e of this.list) {
      if (!inside(e, l, reads)) continue;
      if (e.own === ip) return false;
      covered = true;
    }
    return covered;
  }

  /** The windows that may still cover a line at `pos` or after it, as text (see InjectionAwareMatcher.stateKey). */
  key(pos: number): string {
    return this.list.filter((e) => pos - e.end < e.reach).map((e) => `${e.end}+${e.reach} ${e.own} ${e.time} ${e.read}`).join(',');
  }

  /**
   * Lines are looked at again up to a held message's reach after they came
   * (src/filter/matcher.ts), so a window is dropped only well past its own.
   */
  private prune(pos: number): void {
    const first = this.list[0];
    if (first !== undefined && pos - first.end >= first.reach + KEEP_CHARS) this.list = this.list.filter((e) => pos - e.end < e.reach + KEEP_CHARS);
  }
}

function inside(e: Episode, l: Place, reads: boolean): boolean {
  if (l.pos - e.end >= e.reach || l.pos < e.end) return false;
  // Asterisk writes a message, forged lines and all, in one write: a read holds all of it.
  if (reads) return l.read === e.read;
  // Without reads, the dates: forged lines carry whatever date the attacker
  // chose, so an earlier one is as suspect as the same second.
  return l.time === null || e.time === null || l.time <= e.time + SUSPECT_MS;
}
