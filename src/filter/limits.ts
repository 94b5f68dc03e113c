/** Longest line examined; the rest is cut (a log line longer than this is garbage or an attack). */
export const MAX_LINE_CHARS = 64 * 1024;
/**
 * How far after a message's first line its attacker-written part can
 * reach. The fields Asterisk logs with decoded line breaks are cut short
 * before they are logged: SIP From/To and Call-ID buffers of 256 bytes in
 * chan_sip and res_pjsip, IAX2 information elements of at most 255 bytes,
 * AMI lines of 1,024. Forged lines and the message's remainder therefore
 * start within this many characters after the end of its first line: a
 * held message is decided here at the latest, and a suspect window ends here.
 */
export const REACH_CHARS = 1024;
/**
 * The same for a message whose last field is the attacker's (chan_iax2's
 * user names and digests: an information element of at most 255 bytes).
 */
export const TAIL_REACH_CHARS = 256;
/**
 * A suspect window also covers the lines stamped no later than this after
 * the message that opened it (forged lines carry the current date; the
 * second may tick while they are written).
 */
export const SUSPECT_MS = 1000;
/**
 * How far before and after a cut the neighbouring parts of a split
 * test-filter run overlap (src/filter/test-part.ts): many times the
 * farthest an injected message reaches.
 */
export const SEAM_BYTES = 64 * 1024;
