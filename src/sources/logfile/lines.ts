const NL = 10;
const CR = 13;

/**
 * Splits bytes read from a log into lines, carrying a partial last line from
 * one read to the next. Memory is bounded: a line longer than maxLineBytes is
 * delivered cut to that length and the rest of it, up to its newline, is
 * dropped, so a line of any size costs at most maxLineBytes. The dropped rest
 * is never delivered as a line of its own: an attacker who writes a huge line
 * must not get its tail read as if it started a fresh log line.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partLen = 0;
  private discarding = false;
  private discarded = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onCut: (bytes: number) => void = () => {},
  ) {}

  /** Bytes read but not delivered as a complete line yet (the partial line, kept or being dropped). */
  get pendingBytes(): number {
    return this.discarding ? this.discarded : this.partLen;
  }

  /** Drop everything up to the next newline: reading starts mid-line. */
  skipToNewline(): void {
    this.reset();
    this.discarding = true;
  }

  reset(): void {
    this.parts = [];
    this.partLen = 0;
    this.discarding = false;
    this.discarded = 0;
  }

  /** Splits buf[start, end) and appends complete lines to out; keeps the partial tail (copied: buf is reused). */
  split(buf: Buffer, start: number, end: number, out: string[]): void {
    const view = buf.subarray(0, end);
    let pos = start;
    while (pos < end) {
      const nl = view.indexOf(NL, pos);
      if (nl < 0) {
        this.keep(view, pos, end, out);
        return;
      }
      if (this.discarding) {
        this.discarding = false;
        this.discarded = 0;
      } else if (this.partLen > 0) {
        this.parts.push(view.subarray(pos, nl));
        const whole = Buffer.concat(this.parts, this.partLen + nl - pos);
        this.parts = [];
        this.partLen = 0;
        this.deliver(whole, 0, whole.length, out);
      } else {
        this.deliver(view, pos, nl, out);
      }
      pos = nl + 1;
    }
  }

  /** The partial last line as a line of its own (the file it came from is finished); nothing when dropping. */
  takeTail(out: string[]): void {
    if (!this.discarding && this.partLen > 0) {
      const whole = Buffer.concat(this.parts, this.partLen);
      this.deliver(whole, 0, whole.length, out);
    }
    this.reset();
  }

  private keep(view: Buffer, pos: number, end: number, out: string[]): void {
    if (this.discarding) {
      this.discarded += end - pos;
      return;
    }
    this.parts.push(Buffer.from(view.subarray(pos, end)));
    this.partLen += end - pos;
    if (this.partLen > this.maxLineBytes) {
      const whole = Buffer.concat(this.parts, this.partLen);
      this.deliver(whole, 0, whole.length, out);
      this.parts = [];
      this.discarded = this.partLen;
      this.partLen = 0;
      this.discarding = true;
    }
  }

  private deliver(buf: Buffer, start: number, end: number, out: string[]): void {
    if (end - start > this.maxLineBytes) {
      this.onCut(end - start);
      end = start + this.maxLineBytes;
    }
    if (end > start && buf[end - 1] === CR) end--;
    if (end > start) out.push(buf.toString('utf8', start, end));
  }
}
