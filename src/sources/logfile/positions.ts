import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/**
 * Where reading of one log file stopped. `inode` tells a rotated file from the
 * one we read; `firstLineHash` tells a truncated-and-rewritten file (same
 * inode, other content) from the one we read.
 */
export interface Position {
  inode: number;
  /** Byte offset of the first byte not yet delivered as a complete line. */
  offset: number;
  firstLineHash: string;
}

/** Persistence for positions; the SQLite store implements it for the daemon. */
export interface PositionStore {
  get(path: string): Position | undefined;
  set(path: string, pos: Position): void;
}

/** Positions kept in memory only: for tests, and for `test-filter`-style one-shot runs. */
export class MemoryPositionStore implements PositionStore {
  private readonly map = new Map<string, Position>();

  get(path: string): Position | undefined {
    const p = this.map.get(path);
    return p ? { ...p } : undefined;
  }

  set(path: string, pos: Position): void {
    this.map.set(path, { ...pos });
  }
}

/** The first line is hashed only up to this many bytes: enough to tell files apart, cheap to read. */
const FIRST_LINE_BYTES = 4096;

/** '' while the file holds no complete first line yet (an empty file matches any empty file). */
function hashFirstLine(bytes: Buffer, length: number): string {
  const nl = bytes.subarray(0, length).indexOf(10);
  if (nl < 0 && length < FIRST_LINE_BYTES) return '';
  const end = nl < 0 ? length : nl;
  return createHash('sha1').update(bytes.subarray(0, end)).digest('hex').slice(0, 16);
}

export async function readFirstLineHash(fh: FileHandle): Promise<string> {
  const scratch = Buffer.allocUnsafe(FIRST_LINE_BYTES);
  const { bytesRead } = await fh.read(scratch, 0, FIRST_LINE_BYTES, 0);
  return hashFirstLine(scratch, bytesRead);
}
