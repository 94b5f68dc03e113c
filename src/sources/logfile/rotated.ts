import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readFirstLineHash, type Position } from './positions.js';

/** Rotated names are checked at most this many: a directory of thousands of old logs must not slow a start. */
const MAX_CANDIDATES = 64;

/**
 * After a restart, the file we were reading may have been rotated meanwhile
 * (`messages` → `messages.1` or `messages-20261127`). Finds it by the saved
 * inode and first-line hash, so its unread rest can be read before the new
 * file. Compressed rotations have another inode and are never found (nor
 * needed: logrotate's delaycompress keeps the first rotation plain).
 */
export async function openRotated(path: string, saved: Position): Promise<FileHandle | null> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  const candidates = names
    .filter((n) => n !== base && n.startsWith(base) && !/\.(gz|bz2|xz|zst)$/.test(n))
    .slice(0, MAX_CANDIDATES);
  for (const name of candidates) {
    const full = join(dir, name);
    try {
      const st = await stat(full);
      if (!st.isFile() || st.ino !== saved.inode || st.size < saved.offset) continue;
      const fh = await open(full, 'r');
      const hash = await readFirstLineHash(fh);
      if (hash === saved.firstLineHash) return fh;
      await fh.close();
    } catch {
      // Vanished or unreadable: not the file we want.
    }
  }
  return null;
}
