import type { FileHandle } from 'node:fs/promises';

/**
 * Read-back on a fresh start (no saved position): instead of starting at the
 * end, start at the first line dated within the last `ms`, so attempts made
 * while the daemon was down still count. Dates come from the caller's
 * `lineTime` (the log source knows the format); lines it cannot date are
 * stepped over. The search never looks further back than `maxBytes`: a log
 * of a flood can be gigabytes, and a start-up must stay quick.
 */
export interface ReadbackOptions {
  ms: number;
  /** Default 16 MiB. */
  maxBytes?: number;
  lineTime(line: string): number | null;
}

const DEFAULT_READBACK_BYTES = 16 * 1024 * 1024;
const BLOCK = 64 * 1024;
/** A date sits at the start of a log line; a longer prefix is never decoded to date it. */
const DATE_PREFIX_BYTES = 128;

/** Calls fn for every complete line in block (bytes of the file from `base`) with its start offset; stops when fn returns true. */
function eachLine(block: Buffer, base: number, atLineStart: boolean, fn: (start: number, text: string) => boolean): number {
  let pos = 0;
  if (!atLineStart) {
    const nl = block.indexOf(10);
    if (nl < 0) return -1;
    pos = nl + 1;
  }
  for (;;) {
    const nl = block.indexOf(10, pos);
    if (nl < 0) return pos;
    if (fn(base + pos, block.toString('utf8', pos, Math.min(nl, pos + DATE_PREFIX_BYTES)))) return -2;
    pos = nl + 1;
  }
}

function firstDated(block: Buffer, base: number, lineTime: (line: string) => number | null): number | null {
  const box = { t: null as number | null };
  eachLine(block, base, base === 0, (_at, text) => {
    box.t = lineTime(text);
    return box.t !== null;
  });
  return box.t;
}

/** Byte offset to start reading at (a line start, or `size` when nothing recent is found). */
export async function findReadbackStart(fh: FileHandle, size: number, now: number, opts: ReadbackOptions): Promise<number> {
  const cutoff = now - opts.ms;
  const floor = Math.max(0, size - (opts.maxBytes ?? DEFAULT_READBACK_BYTES));
  const buf = Buffer.allocUnsafe(BLOCK);
  // Backwards, block by block, until a block's first dated line is older than the cutoff.
  let from = floor;
  for (let end = size; end > floor; ) {
    const start = Math.max(floor, end - BLOCK);
    const { bytesRead } = await fh.read(buf, 0, end - start, start);
    const first = firstDated(buf.subarray(0, bytesRead), start, opts.lineTime);
    if (first !== null && first < cutoff) {
      from = start;
      break;
    }
    end = start;
  }
  // Forwards from there to the first line dated at or after the cutoff.
  let pos = from;
  let atLineStart = from === 0;
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(BLOCK, size - pos), pos);
    if (bytesRead === 0) break;
    let found = -1;
    const rest = eachLine(buf.subarray(0, bytesRead), pos, atLineStart, (at, text) => {
      const t = opts.lineTime(text);
      if (t !== null && t >= cutoff) found = at;
      return found >= 0;
    });
    if (found >= 0) return found;
    if (rest === -1) {
      // No newline in the whole block: one huge line; skip it.
      pos += bytesRead;
      atLineStart = false;
    } else {
      if (rest === 0 && bytesRead === BLOCK) {
        pos += bytesRead;
        atLineStart = false;
        continue;
      }
      pos += rest;
      atLineStart = true;
      if (rest === 0) break;
    }
  }
  return size;
}

/**
 * Dates a line written with Asterisk's logger.conf `dateformat = %F %T` (the
 * setting our deploy notes ask for), `[2026-11-27 12:00:00]` or
 * `[2026-11-27 12:00:00.123]`, in local time like Asterisk writes it. Only for
 * choosing where read-back starts; the filter dates what it counts.
 */
export function asteriskLineTime(line: string): number | null {
  const m = /^\[?(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/.exec(line);
  if (!m) return null;
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  const t = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms).getTime();
  return Number.isFinite(t) ? t : null;
}
