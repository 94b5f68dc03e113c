// A log line and a message as the matcher (matcher.ts) holds them, and how their readings combine.
import type { Address } from '../core/address.js';
import type { Opening, Verdict } from './engine.js';

/**
 * What follows the date on a line Asterisk wrote: `LEVEL[thread]`, an
 * optional `[C-callid]`, then `source:` (a C file, pjproject, a dialplan
 * `Ext.`), optionally behind syslog's `host asterisk[pid]: `. A forged date
 * glued in front of a message's remainder lacks it.
 */
export const ASTERISK_PREFIX = /^\s*(?:[\w.-]+ [\w./-]+\[\d+\]: )?[A-Z]+ ?\[\d+\](?:\[C-[0-9a-fA-F]+\])?:? (?:Ext\. )?[^\s:"']+: /;

/** A line on its way through the matcher, with what is known about it so far. */
export interface Line {
  no: number;
  line: string;
  time: number | null;
  dated: boolean;
  /** Text after date and prefregex (of the part before a bare CR); null when nothing can match it. */
  content: string | null;
  /** Where the date ends in the line (for parses()). */
  dateEnd: number;
  /** The text after the last bare CR (Asterisk never writes one: the attacker's line break); null without one. */
  tail: string | null;
  /** Stream offsets of the line's first character and just past its newline. */
  pos: number;
  end: number;
  /** The read (flush() to flush()) it arrived in. */
  read: number;
  /** > 0: a run of lines the caller screened out, standing for this many lines. */
  gap: number;
  /** Computed once, as a line may be looked at again after a held message is resolved. */
  op?: Opening | null;
  own?: Verdict;
}

/** A message that may continue on the lines after it (an openregex matched). */
export interface Held {
  head: Line;
  op: Opening;
  inner: Line[];
  /** Index in inner of the last line that completes the message (a closeregex match), -1: none yet. */
  lastClose: number;
  /**
   * The verdicts on the message put together: its first line up to the
   * attacker's line break, then each remainder. One per remainder seen
   * (its own line break as well, for a bare CR inside the first line).
   */
  joined: Verdict[];
  /** The first line is not the whole message: it stops inside the attacker's field, or carries a bare CR. */
  cut: boolean;
}

/** A message decided on its readings once its reach is over (see matcher.ts). */
export interface Parked {
  head: Line;
  pair: number;
  readings: Verdict[];
}

/** A held message put together: its first line's text (after date and prefregex) and a remainder. */
export function joinText(head: Line, remainder: string): string {
  return (head.content ?? '') + remainder;
}

export function ownIps(v: Verdict): Address[] {
  if (v.outcome === 'matched') return [v.ip];
  return v.outcome === 'ambiguous' ? v.ips : [];
}

export function candidatesOf(v: Verdict): string[] | undefined {
  const ips = ownIps(v);
  return ips.length > 0 ? ips.map((a) => a.text) : undefined;
}

export function distinct(list: Address[]): Address[] {
  const seen = new Map<string, Address>();
  for (const a of list) if (!seen.has(a.text)) seen.set(a.text, a);
  return [...seen.values()];
}

