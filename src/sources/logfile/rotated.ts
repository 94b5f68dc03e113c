import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import type { LineSplitter } from './lines.js';
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

/**
 * The file a name pointed at before a rotation. Asterisk writes into it until
 * its `logger reload`, so it is read a while longer; its partial last line is
 * complete only when that time is up.
 */
export class RetiredFile {
  constructor(
    private readonly fh: FileHandle,
    private readPos: number,
    private readonly splitter: LineSplitter,
    readonly until: number,
    /** `dev:inode`. */
    readonly id: string,
    private readonly inode = -1,
    private readonly firstLineHash = '',
  ) {}

  /** Where a restart would resume in this file (the rest of it is found again by openRotated). */
  position(): Position {
    return { inode: this.inode, offset: this.readPos - this.splitter.pendingBytes, firstLineHash: this.firstLineHash };
  }

  /** Delivers what was appended; with `last`, also the partial tail, and closes the file. */
  async read(buf: Buffer, deliver: (lines: string[]) => void, last: boolean): Promise<void> {
    const out: string[] = [];
    try {
      for (;;) {
        const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.readPos);
        if (bytesRead === 0) break;
        this.readPos += bytesRead;
        this.splitter.split(buf, 0, bytesRead, out);
        if (out.length) deliver(out.splice(0));
      }
      if (!last) return;
      this.splitter.takeTail(out);
      if (out.length) deliver(out);
    } finally {
      if (last) await this.fh.close().catch(() => {});
    }
  }
}

/**
 * A follower's retired file, at most one at a time, and how far it was read:
 * while no file is under the name, that is where a restart resumes.
 */
export class RetiredSlot {
  private file: RetiredFile | null = null;
  private pos: Position | null = null;

  constructor(private readonly clock: Clock) {}

  /** How far the retired file was read, until a file is under the name again; else null. */
  get position(): Position | null {
    return this.pos;
  }

  reads(id: string): boolean {
    return this.file?.id === id;
  }

  /** The file retired before must be drained (final) first. */
  hold(file: RetiredFile): void {
    this.file = file;
    this.pos = file.position();
  }

  /** A file is under the name again: its position is the one to save. */
  forget(): void {
    this.pos = null;
  }

  /** Reads what was appended; when `final` or its time is up, also the tail, and lets it go. */
  async drain(buf: Buffer, deliver: (lines: string[]) => void, final: boolean): Promise<void> {
    const p = this.file;
    if (!p) return;
    const done = final || this.clock.now() >= p.until;
    // Let go first: a read error must not leave a closed file to read on every step.
    if (done) this.file = null;
    await p.read(buf, deliver, done);
    if (this.pos?.inode === p.position().inode) this.pos = p.position();
  }
}
