import type { FileHandle } from 'node:fs/promises';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { LineSplitter } from './lines.js';
import type { Position, PositionStore } from './positions.js';
import { findReadbackStart, type ReadbackOptions } from './readback.js';
import { openRotated, RetiredFile } from './rotated.js';

/** What deciding where to start reading a file needs from its follower. */
export interface StartContext {
  path: string;
  clock: Clock;
  logger: Logger;
  positions?: PositionStore;
  readback?: ReadbackOptions;
  startAt?: 'end' | 'start';
  /** Scratch space, at least one byte. */
  buf: Buffer;
  newSplitter(): LineSplitter;
  deliver(lines: string[]): void;
}

export interface Start {
  offset: number;
  /** Lines before this offset are read-back (backlog); 0 when none. */
  backlogEnd: number;
}

/**
 * Where to start reading a file opened for the first time since the daemon
 * started: at the saved position when it is still this file's (same inode,
 * same first line, not shorter); at 0 when the file was rotated or truncated
 * meanwhile (after reading the unread rest of the rotated file when it is
 * still there); else at the first line within the read-back time, or at the end.
 */
export async function chooseStart(fh: FileHandle, size: number, inode: number, firstLineHash: string, ctx: StartContext): Promise<Start> {
  const saved = ctx.positions?.get(ctx.path);
  if (saved) {
    if (saved.inode === inode && saved.offset <= size && (saved.firstLineHash === '' || saved.firstLineHash === firstLineHash)) {
      return { offset: saved.offset, backlogEnd: 0 };
    }
    if (saved.inode !== inode) await readRotatedRest(saved, ctx);
    return { offset: 0, backlogEnd: 0 };
  }
  if (ctx.readback) {
    return { offset: await findReadbackStart(fh, size, ctx.clock.now(), ctx.readback), backlogEnd: size };
  }
  return { offset: ctx.startAt === 'start' ? 0 : size, backlogEnd: 0 };
}

/** Starting at `offset` is starting at a line, not inside one an attacker may have shaped. */
export async function atLineStart(fh: FileHandle, buf: Buffer, offset: number): Promise<boolean> {
  if (offset === 0) return true;
  const { bytesRead } = await fh.read(buf, 0, 1, offset - 1);
  return bytesRead === 1 && buf[0] === 10;
}

async function readRotatedRest(saved: Position, ctx: StartContext): Promise<void> {
  const old = await openRotated(ctx.path, saved);
  if (!old) return;
  ctx.logger.info('reading the rest of the rotated log first', { path: ctx.path });
  const splitter = ctx.newSplitter();
  try {
    if (!(await atLineStart(old, ctx.buf, saved.offset))) splitter.skipToNewline();
  } catch {
    await old.close().catch(() => {});
    return;
  }
  await new RetiredFile(old, saved.offset, splitter, 0, '').read(ctx.buf, ctx.deliver, true);
}
