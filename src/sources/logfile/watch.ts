import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Clock, TimerHandle } from '../../core/clock.js';

export interface ChangeWatchOptions {
  clock: Clock;
  pollMs: number;
  /** fs.watch as well as the poll. */
  watch: boolean;
  /** Something may have changed (a watch event): cheap, may come in bursts. */
  onChange(): void;
  /** The periodic look; the next one is scheduled once it settles. */
  onPoll(): Promise<void>;
}

/**
 * Tells a follower when to look at its file. fs.watch is only a hint: it is
 * lost on some filesystems (NFS, some overlays), bound to the inode it was set
 * on, and absent while the directory is missing. The poll is what guarantees
 * progress, so it runs also when watching works.
 */
export class ChangeWatch {
  private fileWatcher: FSWatcher | null = null;
  private dirWatcher: FSWatcher | null = null;
  private pollTimer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly o: ChangeWatchOptions,
  ) {}

  start(): void {
    this.watchDir();
    this.schedulePoll();
  }

  /** The name now points at another inode: watch that one. */
  rewatchFile(): void {
    if (!this.o.watch || this.stopped) return;
    this.fileWatcher?.close();
    this.fileWatcher = this.safeWatch(this.path, () => this.o.onChange());
  }

  stop(): void {
    this.stopped = true;
    if (this.pollTimer) this.o.clock.clearTimeout(this.pollTimer);
    this.fileWatcher?.close();
    this.dirWatcher?.close();
  }

  private watchDir(): void {
    if (!this.o.watch || this.stopped) return;
    const base = basename(this.path);
    this.dirWatcher = this.safeWatch(dirname(this.path), (name) => {
      if (name === null || name === base) this.o.onChange();
    });
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = this.o.clock.setTimeout(() => {
      // The directory may have appeared since.
      if (!this.dirWatcher) this.watchDir();
      void this.o.onPoll().finally(() => this.schedulePoll());
    }, this.o.pollMs);
    this.pollTimer.unref?.();
  }

  private safeWatch(target: string, fn: (name: string | null) => void): FSWatcher | null {
    try {
      const w = watch(target, { persistent: false }, (_event, name) => fn(name === null ? null : String(name)));
      w.on('error', () => {
        w.close();
        if (this.fileWatcher === w) this.fileWatcher = null;
        if (this.dirWatcher === w) this.dirWatcher = null;
      });
      return w;
    } catch {
      return null;
    }
  }
}
