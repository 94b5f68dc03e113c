import { AsteriskBanError } from '../../core/errors.js';
import { printable } from '../../core/address.js';
import type { AmiFrame } from '../../filter/ami-event.js';

/**
 * Splits the AMI byte stream into messages ourselves rather than through
 * asterisk-manager's reader: that reader splits on a bare LF too, merges
 * repeated headers and loses their order, so a line break an attacker put
 * into a SIP user name would become a header of its own. Asterisk ends every
 * line it writes with CRLF; a bare CR or LF can only be inside a value.
 */
export interface FramingLimits {
  /** Bytes waiting without a message end before the connection is given up. */
  maxBuffer: number;
  /** A longer message is dropped (the stream goes on). */
  maxFrame: number;
}

export const defaultFramingLimits: FramingLimits = { maxBuffer: 1 << 20, maxFrame: 64 << 10 };

export interface FramingHandlers {
  banner(line: string): void;
  /** One message, without its terminating blank line. */
  frame(text: string): void;
  /** A message over maxFrame, skipped. */
  oversized(size: number): void;
}

const BANNER_PREFIX = 'Asterisk Call Manager/';
const MAX_BANNER = 200;

export class FrameSplitter {
  private buf = '';
  private bannerSeen = false;
  /** Where to resume looking for CRLFCRLF (3 bytes back so a split terminator is found). */
  private scanFrom = 0;

  constructor(
    private readonly handlers: FramingHandlers,
    private readonly limits: FramingLimits = defaultFramingLimits,
  ) {}

  get buffered(): number {
    return this.buf.length;
  }

  /** Throws E_AMI_CONNECT when the peer is not speaking AMI or overflows the buffer. */
  push(chunk: string): void {
    this.buf = this.buf.length === 0 ? chunk : this.buf + chunk;
    if (!this.bannerSeen && !this.readBanner()) return;
    let start = 0;
    const buf = this.buf;
    for (;;) {
      const end = buf.indexOf('\r\n\r\n', Math.max(start, this.scanFrom));
      if (end < 0) break;
      this.scanFrom = 0;
      let from = start;
      // Stray blank lines between messages are harmless; skip them.
      while (buf.startsWith('\r\n', from) && from < end) from += 2;
      const size = end - from;
      if (size > this.limits.maxFrame) this.handlers.oversized(size);
      else if (size > 0) this.handlers.frame(buf.slice(from, end));
      start = end + 4;
    }
    this.buf = start === 0 ? buf : buf.slice(start);
    this.scanFrom = Math.max(0, this.buf.length - 3);
    if (this.buf.length > this.limits.maxBuffer) {
      const size = this.buf.length;
      this.buf = '';
      throw new AsteriskBanError('E_AMI_CONNECT', `AMI message exceeds ${this.limits.maxBuffer} bytes without an end (${size} buffered); dropping the connection`);
    }
  }

  private readBanner(): boolean {
    const eol = this.buf.indexOf('\r\n');
    if (eol < 0) {
      if (this.buf.includes('\n')) throw notAmi(this.buf, 'lines end with a bare LF, not CRLF');
      if (this.buf.length > MAX_BANNER) throw notAmi(this.buf, 'no banner line');
      return false;
    }
    const line = this.buf.slice(0, eol);
    if (!line.startsWith(BANNER_PREFIX) || line.length > MAX_BANNER) throw notAmi(line, 'unexpected banner');
    this.bannerSeen = true;
    this.buf = this.buf.slice(eol + 2);
    this.handlers.banner(line);
    return true;
  }
}

function notAmi(text: string, why: string): AsteriskBanError {
  return new AsteriskBanError('E_AMI_CONNECT', `peer is not an Asterisk Manager Interface (${why}): "${printable(text, 60)}"`, {
    hint: 'check AMI_HOST/AMI_PORT point at Asterisk manager.conf [general] bindaddr/port',
  });
}

/** `Key: value` lines of one message. A line without a colon becomes a key with an empty value. */
export function parseFrame(text: string): AmiFrame {
  const headers: Array<readonly [string, string]> = [];
  let pos = 0;
  const n = text.length;
  while (pos <= n) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = n;
    const colon = text.indexOf(':', pos);
    if (colon < 0 || colon > eol) {
      headers.push([text.slice(pos, eol), '']);
    } else {
      const vstart = text.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
      headers.push([text.slice(pos, colon), vstart > eol ? '' : text.slice(vstart, eol)]);
    }
    pos = eol + 2;
  }
  return { headers };
}
