/** Longest line examined; the rest is cut (a log line longer than this is garbage or an attack). */
export const MAX_LINE_CHARS = 64 * 1024;
/**
 * How much may be held while an opening waits for its remainder. A SIP
 * datagram carries at most 64 KiB of attacker text, so one injection fits;
 * past the bound the oldest line is decided as an ordinary line.
 */
export const MAX_HELD_BYTES = 128 * 1024;
export const MAX_HELD_LINES = 1024;
