import type { ChildProcess } from 'node:child_process';
import { printable } from '../core/address.js';
import { AsteriskBanError } from '../core/errors.js';
import { ThrottledLog, type Logger } from '../core/logger.js';
import { killPersistent, spawnPersistent } from './exec.js';
import { metrics } from '../control/metrics.js';

/** The session could not answer (not started, died, silent): the caller runs the batch one-shot instead. */
export class SessionLost extends Error {}

const DEFAULT_TIMEOUT_MS = 5_000;
/** Beyond this much unanswered error text the child is not the nft we know. */
const MAX_STDERR = 1024 * 1024;
/** After this many lost sessions in a row, stop trying: one process per batch from then on. */
const MAX_LOSSES = 3;

interface Pending {
  mark: string;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One `nft -i` kept running, fed a transaction per line: a ban then costs a
 * write and a read (~0.4 ms) instead of starting nft (~3 ms, more under
 * load). nft -i answers nothing for a change that worked, so every batch is
 * followed by a command that must fail, naming a table that cannot exist:
 * its error on stderr marks the end of the batch, and any error before it is
 * the batch's own. A line is one transaction, as `nft -f` makes of a file.
 */
export class NftSession {
  private child: ChildProcess | null = null;
  private stderr = '';
  private seq = 0;
  private pending: Pending | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private losses = 0;
  private readonly throttled: ThrottledLog;

  constructor(
    private readonly argv: readonly string[],
    logger: Logger,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
    /** The action it serves, for the metric. */
    private readonly action = 'nft',
  ) {
    this.throttled = new ThrottledLog(logger, 60_000);
  }

  /** The running child's pid, if any (tests kill it to see the session recover). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** False once the session was lost too often in a row: callers go one-shot. */
  get usable(): boolean {
    return this.losses < MAX_LOSSES;
  }

  /** Runs the lines as one transaction; rejects with nft's message, or SessionLost. */
  run(lines: readonly string[]): Promise<void> {
    const next = this.tail.then(() => this.exec(lines));
    this.tail = next.catch(() => undefined);
    return next;
  }

  close(): void {
    const child = this.child;
    this.child = null;
    if (child) {
      child.stdin?.end();
      killPersistent(child);
    }
    this.fail(new SessionLost('nft session closed'));
  }

  private exec(lines: readonly string[]): Promise<void> {
    if (!this.usable) return Promise.reject(new SessionLost('nft session given up'));
    const child = this.ensure();
    const mark = `asban-sync-${process.pid}-${++this.seq}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.lose(`no answer within ${this.timeoutMs} ms`), this.timeoutMs);
      this.pending = { mark, resolve, reject, timer };
      child.stdin!.write(`${lines.join('; ')}\nlist table inet ${mark}\n`);
    });
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const [file, ...args] = this.argv;
    const child = spawnPersistent(file!, [...args, '-i']);
    this.child = child;
    this.stderr = '';
    child.stdout!.resume();
    child.stdin!.on('error', () => {
      // A dead child: its exit settles the batch.
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => this.onStderr(d));
    child.on('error', (e) => this.lose(`cannot run ${file}: ${e.message}`, child));
    child.on('close', (code, signal) => this.lose(`nft -i exited (${signal ?? `exit ${String(code)}`})`, child));
    // An idle session must not keep the process alive; a batch in flight has its timer.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    return child;
  }

  private onStderr(data: string): void {
    this.stderr += data;
    const p = this.pending;
    if (!p) {
      if (this.stderr.length > MAX_STDERR) this.stderr = '';
      return;
    }
    const echo = `list table inet ${p.mark}\n`;
    const at = this.stderr.indexOf(echo);
    // The marker's error is three lines: "Error: …", the command, the carets.
    const end = at < 0 ? -1 : this.stderr.indexOf('\n', at + echo.length);
    if (end < 0) {
      if (this.stderr.length > MAX_STDERR) this.lose('nft -i wrote more than expected');
      return;
    }
    const own = this.stderr.slice(0, Math.max(0, this.stderr.lastIndexOf('Error:', at))).trim();
    this.stderr = this.stderr.slice(end + 1);
    this.pending = null;
    clearTimeout(p.timer);
    this.losses = 0;
    // Only an error fails the batch: nft may print a warning for a change it made.
    if (!own.includes('Error:')) p.resolve();
    else p.reject(new AsteriskBanError('E_ACTION', `nft refused the batch: ${printable(own, 2_000)}`));
  }

  /** The child is gone or useless: settle the batch as lost; the next one starts a new child. */
  private lose(why: string, which: ChildProcess | null = this.child): void {
    if (which !== this.child) return;
    const child = this.child;
    this.child = null;
    if (child) killPersistent(child);
    if (this.pending) {
      this.losses++;
      metrics.nftSessionLost.inc({ action: this.action });
    }
    this.throttled.warn('lost', `nft session: ${why}; ${this.usable ? 'starting a new one for the next batch' : 'one nft process per batch from now on'}`);
    this.fail(new SessionLost(why));
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    clearTimeout(p.timer);
    p.reject(err);
  }
}
