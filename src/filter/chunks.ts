import { open } from 'node:fs/promises';
import { MAX_LINE_CHARS } from './limits.js';

/** Bytes read per system call: big enough that the per-read cost vanishes, small enough for the memory bound. */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * Reads a file in big chunks and hands over text that always ends on a
 * line boundary (each chunk ends with '\n' except possibly the very last).
 * Splitting on the byte '\n' is safe for UTF-8: it never occurs inside a
 * multi-byte character. A line longer than MAX_LINE_CHARS is cut there and
 * the rest dropped, so memory stays bounded by CHUNK_BYTES whatever the input.
 * 'latin1' maps bytes to characters one to one (several times faster): the
 * structure regexes look at is ASCII, only non-ASCII text (display names)
 * comes out garbled; use it when no line text is shown.
 * `range`: only the bytes from `start` up to `end` (both line starts).
 * onChunk's `at` is the file offset of the chunk's first byte.
 */
export async function readLineChunks(
  path: string,
  onChunk: (text: string, at: number) => void,
  encoding: 'utf8' | 'latin1' = 'utf8',
  chunkBytes = CHUNK_BYTES,
  range?: { start: number; end: number },
): Promise<void> {
  const size = Math.max(chunkBytes, 2 * MAX_LINE_CHARS);
  const fh = await open(path, 'r');
  let offset = range?.start ?? 0;
  const stop = range?.end ?? Infinity;
  let at = offset;
  const emit = (text: string, consumed: number): void => {
    onChunk(text, at);
    at += consumed;
  };
  try {
    const buf = Buffer.allocUnsafe(size);
    let filled = 0;
    let discarding = false;
    for (;;) {
      const { bytesRead } = await fh.read(buf, filled, Math.min(size - filled, stop - offset), range ? offset : null);
      offset += bytesRead;
      const end = filled + bytesRead;
      if (bytesRead === 0) {
        if (end > 0 && !discarding) emit(buf.toString(encoding, 0, end), end);
        return;
      }
      let from = 0;
      if (discarding) {
        const nl = buf.indexOf(10, 0);
        if (nl < 0 || nl >= end) {
          at += end;
          filled = 0;
          continue;
        }
        discarding = false;
        from = nl + 1;
        at += from;
      }
      const last = buf.lastIndexOf(10, end - 1);
      if (last < from) {
        if (end - from >= size - 1 || (from === 0 && end === size)) {
          // One line fills the whole buffer: keep its head, drop the rest up to the next newline.
          emit(`${buf.toString(encoding, from, from + MAX_LINE_CHARS)}\n`, end - from);
          discarding = true;
          filled = 0;
          continue;
        }
        buf.copy(buf, 0, from, end);
        filled = end - from;
        continue;
      }
      emit(buf.toString(encoding, from, last + 1), last + 1 - from);
      buf.copy(buf, 0, last + 1, end);
      filled = end - last - 1;
    }
  } finally {
    await fh.close();
  }
}
