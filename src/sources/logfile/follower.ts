import { constants as fsConstants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Clock } from '../../core/clock.js';
import { ThrottledLog, type Logger } from '../../core/logger.js';
import { printable } from '../../core/address.js';
import { LineSplitter } from './lines.js';
import { readFirstLineHash, type Position, type PositionStore } from './positions.js';
import type { ReadbackOptions } from './readback.js';
import { RetiredFile, RetiredSlot } from './rotated.js';
import { SerialRun } from './serial.js';
import { atLineStart, chooseStart } from './start.js';
import { ChangeWatch } from './watch.js';
import { READ_FIX, unreadableBecause } from './access.js';

/** `error`: the file is there but cannot be read (see `problem`). */
export type FollowState = 'waiting' | 'following' | 'error' | 'stopped';

export interface FollowerOptions {
  path: string;
  clock: Clock;
  logger: Logger;
  /**
   * Complete lines, in file order, one call per read. `backlog` is true for
   * lines that were in the file before we started (read-back).
   */
  onLines(lines: string[], backlog: boolean): void;
  /** Caught up with the end of the file after delivering lines. */
  onIdle?(): void;
  /**
   * A file was opened under the name (at start, after rotation or re-creation).
   * Returning 'end' starts it at its end: it is a file already read under another name.
   */
  onOpen?(inode: number, dev: number): 'end' | void;
  positions?: PositionStore;
  /** With no saved position: start at the end (default), or at the start (a file that appeared after we started). */
  startAt?: 'end' | 'start';
  /** With no saved position: start at the first line within readback.ms instead of the end. */
  readback?: ReadbackOptions;
  /** Safety-net poll, also when fs.watch works (default 1000). */
  pollMs?: number;
  /** fs.watch on the file and its directory (default true); polling alone when false. */
  watch?: boolean;
  maxLineBytes?: number;
  chunkBytes?: number;
  /** Positions are saved at most this often (default 5000), and always on stop and rotation. */
  saveEveryMs?: number;
  /**
   * After rotation, the old file is still read this long (default 10000):
   * Asterisk writes into it until its `logger reload`. Its partial last line
   * is delivered when the time is up.
   */
  rotateGraceMs?: number;
}

const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
const DEFAULT_CHUNK_BYTES = 256 * 1024;
const DEFAULT_ROTATE_GRACE_MS = 10_000;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Follows one log file by name: through rename-and-create rotation (the old
 * file is read to its end through the open descriptor, and for a grace time
 * after, while the new one is read from 0), copytruncate (size below our
 * offset), deletion and re-creation, and a file that does not exist yet.
 * Every check is serialised (SerialRun).
 */
export class LogFollower {
  readonly path: string;
  private readonly opts: FollowerOptions;
  private splitter: LineSplitter;
  private readonly retired: RetiredSlot;
  private readonly throttled: ThrottledLog;
  private readonly buf: Buffer;
  private fh: FileHandle | null = null;
  private ino = -1;
  private dev = -1;
  private readPos = 0;
  private grewAtValue: number;
  private firstHash = '';
  private backlogEnd = 0;
  private opened = false;
  private unidle = false;
  private lastSave = -Infinity;
  private stateValue: FollowState = 'waiting';
  private problemValue: string | null = null;
  private sinceValue: number;
  private readonly runs: SerialRun;
  private stopped = false;
  private readonly changes: ChangeWatch;

  constructor(opts: FollowerOptions) {
    this.opts = opts;
    this.path = opts.path;
    this.sinceValue = opts.clock.now();
    this.grewAtValue = this.sinceValue;
    this.throttled = new ThrottledLog(opts.logger, 60_000, opts.clock);
    this.splitter = this.newSplitter();
    this.retired = new RetiredSlot(opts.clock);
    this.buf = Buffer.allocUnsafe(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    this.runs = new SerialRun(
      (verify) => this.step(verify),
      (err) => this.throttled.warn(`read:${this.path}`, `cannot read ${printable(this.path)}: ${(err as Error).message}`, { path: this.path }),
      () => this.stopped,
    );
    this.changes = new ChangeWatch(opts.path, {
      clock: opts.clock,
      pollMs: opts.pollMs ?? 1000,
      watch: opts.watch !== false,
      onChange: () => void this.check(),
      onPoll: () => this.check(true),
    });
  }

  private newSplitter(): LineSplitter {
    const maxLine = this.opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    return new LineSplitter(maxLine, (bytes) =>
      this.throttled.warn(`cut:${this.path}`, `log line of ${bytes}+ bytes cut to ${maxLine}`, { path: this.path }),
    );
  }

  get state(): FollowState {
    return this.stateValue;
  }

  get since(): number {
    return this.sinceValue;
  }

  /** ms epoch of the last read that found new bytes (start, before any). */
  get grewAt(): number {
    return this.grewAtValue;
  }

  /** Why the file cannot be read (`permission denied`), or null. */
  get problem(): string | null {
    return this.problemValue;
  }

  /** The inode being read, or -1. */
  get inode(): number {
    return this.ino;
  }

  /** `dev:inode` of the file being read, or null: tells two names for one file apart from two files. */
  get fileId(): string | null {
    return this.ino < 0 ? null : `${this.dev}:${this.ino}`;
  }

  /** Whether the file with this id is read here: the current one, or the one retired by a rotation. */
  reads(id: string): boolean {
    return this.fileId === id || this.retired.reads(id);
  }

  /** Where a restart would resume, or null before the file was ever opened. */
  position(): Position | null {
    if (!this.fh && this.retired.position) return this.retired.position;
    if (this.ino < 0) return null;
    return { inode: this.ino, offset: this.readPos - this.splitter.pendingBytes, firstLineHash: this.firstHash };
  }

  /** Resolves once the start position is chosen and what is there (backlog included) was delivered. */
  async start(): Promise<void> {
    await this.check();
    this.changes.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.changes.stop();
    await this.runs.current;
    await this.drainRetired(true).catch(() => {});
    this.save(true);
    await this.fh?.close().catch(() => {});
    this.fh = null;
    this.setState('stopped');
  }

  /** Reads whatever is new now; concurrent calls share one run. */
  check(verify = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.runs.run(verify);
  }

  private async step(verify: boolean): Promise<void> {
    await this.drainRetired(false);
    if (!this.fh && !(await this.open())) {
      this.idle();
      return;
    }
    if (verify && (await this.rewritten())) this.restartFile();
    await this.drain();
    let st;
    try {
      st = await stat(this.path);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
      // Renamed or deleted: the old descriptor is read a while longer, then let go (its disk space with it).
      await this.drain();
      await this.retire();
      this.setState('waiting');
      this.idle();
      return;
    }
    if (st.ino !== this.ino || st.dev !== this.dev) {
      await this.drain();
      await this.retire();
      if (await this.open()) await this.drain();
    } else if (st.size < this.readPos) {
      this.restartFile();
      await this.drain();
    }
    if (this.firstHash === '' && this.readPos > 0 && this.fh) this.firstHash = await readFirstLineHash(this.fh);
    this.setState('following');
    this.idle();
    this.save(false);
  }

  /** Same inode, but the first line changed: truncated and refilled past our offset between two looks. */
  private async rewritten(): Promise<boolean> {
    if (!this.fh || this.firstHash === '') return false;
    const now = await readFirstLineHash(this.fh);
    return now !== '' && now !== this.firstHash;
  }

  /** copytruncate: same file, new content from byte 0. */
  private restartFile(): void {
    this.opts.logger.info('log file truncated, reading it from the start', { path: this.path });
    this.finishFile();
    this.readPos = 0;
    this.firstHash = '';
  }

  /** The name moved on: keep the old file open for the grace time, read it on every step. */
  private async retire(): Promise<void> {
    await this.drainRetired(true);
    if (!this.fh) return;
    const until = this.opts.clock.now() + (this.opts.rotateGraceMs ?? DEFAULT_ROTATE_GRACE_MS);
    this.retired.hold(new RetiredFile(this.fh, this.readPos, this.splitter, until, this.fileId ?? '', this.ino, this.firstHash));
    this.fh = null;
    this.splitter = this.newSplitter();
  }

  private drainRetired(final: boolean): Promise<void> {
    return this.retired.drain(this.buf, (lines) => this.deliver(lines), final);
  }

  /** The file we read is done: its partial last line is all there will be. */
  private finishFile(): void {
    const tail: string[] = [];
    this.splitter.takeTail(tail);
    if (tail.length) this.deliver(tail);
  }

  private async open(): Promise<boolean> {
    let fh: FileHandle;
    try {
      // O_NONBLOCK: opening a FIFO (or a device) put at the log's name must not
      // block a libuv thread for ever; a regular file reads the same either way.
      fh = await open(this.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT') {
        // Whatever appears under this name from now on is new: read it from its first byte.
        this.opened = true;
        this.problemValue = null;
        this.setState('waiting');
        return false;
      }
      // There but unreadable: say so loudly, this jail protects nothing until it is fixed.
      this.problemValue = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message;
      const why = unreadableBecause(this.path) ?? (err as Error).message;
      this.throttled.error(`open:${this.path}`, `cannot read ${printable(this.path)}: ${why}; ${READ_FIX}`, { path: this.path });
      this.setState('error');
      return false;
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      this.throttled.error(`notfile:${this.path}`, `${printable(this.path)} is not a regular file: not read`, { path: this.path });
      this.problemValue = 'not a regular file';
      this.setState('error');
      return false;
    }
    this.fh = fh;
    this.problemValue = null;
    this.retired.forget();
    this.ino = st.ino;
    this.dev = st.dev;
    const known = this.opts.onOpen?.(st.ino, st.dev) === 'end';
    this.firstHash = await readFirstLineHash(fh);
    this.splitter.reset();
    if (known || this.opened) {
      this.readPos = known ? st.size : 0;
    } else {
      const start = await chooseStart(fh, st.size, st.ino, this.firstHash, {
        ...this.opts,
        buf: this.buf,
        newSplitter: () => this.newSplitter(),
        deliver: (lines) => this.deliver(lines),
      });
      this.readPos = start.offset;
      this.backlogEnd = start.backlogEnd;
    }
    if (!(await atLineStart(fh, this.buf, this.readPos))) this.splitter.skipToNewline();
    this.opened = true;
    this.setState('following');
    this.changes.rewatchFile();
    this.save(true);
    return true;
  }

  private async drain(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    const out: string[] = [];
    while (!this.stopped) {
      const backlog = this.readPos < this.backlogEnd;
      const want = backlog ? Math.min(this.buf.length, this.backlogEnd - this.readPos) : this.buf.length;
      const { bytesRead } = await fh.read(this.buf, 0, want, this.readPos);
      if (bytesRead === 0) break;
      this.grewAtValue = this.opts.clock.now();
      this.readPos += bytesRead;
      this.splitter.split(this.buf, 0, bytesRead, out);
      if (out.length) this.deliver(out.splice(0), backlog);
    }
  }

  private deliver(lines: string[], backlog = false): void {
    this.unidle = true;
    try {
      this.opts.onLines(lines, backlog);
    } catch (err) {
      this.throttled.warn(`consumer:${this.path}`, `log line consumer failed: ${(err as Error).message}`, { path: this.path });
    }
  }

  private idle(): void {
    if (!this.unidle) return;
    this.unidle = false;
    try {
      this.opts.onIdle?.();
    } catch (err) {
      this.throttled.warn(`consumer:${this.path}`, `log idle handler failed: ${(err as Error).message}`, { path: this.path });
    }
  }

  private save(force: boolean): void {
    const store = this.opts.positions;
    const pos = this.position();
    if (!store || !pos) return;
    const now = this.opts.clock.now();
    if (!force && now - this.lastSave < (this.opts.saveEveryMs ?? 5000)) return;
    this.lastSave = now;
    try {
      store.set(this.path, pos);
    } catch (err) {
      this.throttled.warn(`save:${this.path}`, `cannot save log position: ${(err as Error).message}`, { path: this.path });
    }
  }

  private setState(state: FollowState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.sinceValue = this.opts.clock.now();
  }
}
