import type { ChildProcess } from 'node:child_process';
import type { Counter } from 'prom-client';
import { ThrottledLog, type Logger } from '../core/logger.js';
import { killPersistent, spawnPersistent } from './exec.js';

/** The session could not answer (not started, died, silent): the caller runs the batch one-shot instead. */
export class SessionLost extends Error {}

const DEFAULT_TIMEOUT_MS = 5_000;
/** Beyond this much unanswered error text the child is not the tool we know. */
const MAX_STDERR = 1024 * 1024;
/** After this many lost sessions in a row, stop trying: one process per batch from then on. */
const MAX_LOSSES = 3;

/**
 * How one firewall tool talks in its interactive mode. Such a tool answers
 * nothing for a command that worked, so every batch is followed by a
 * command that must fail and whose error names `mark`: that error on stderr
 * marks the end of the batch, and what came before it is the batch's own.
 */
export interface SessionDialect {
  /** The tool in logs: 'nft'. */
  tool: string;
  /** Arguments that start the interactive mode: ['-i']. */
  args: readonly string[];
  /** The text written to the child for a batch and its marker. */
  write(lines: readonly string[], mark: string): string;
  /**
   * Once the marker's error is all on stderr: where the batch's own text
   * ends (the marker's error starts) and where the marker's error ends.
   * Null while it is not there yet.
   */
  marker(stderr: string, mark: string): { own: number; end: number } | null;
  /** The error a batch whose own stderr says it failed rejects with; null when it did not fail (warnings). */
  refusal(own: string): Error | null;
  /** Counts lost sessions, by action. */
  lost: Counter<'action'>;
}

export interface SessionOptions {
  /** How long a batch may go unanswered before the child counts as lost. */
  timeoutMs?: number;
  /** The action it serves, for the metric. */
  action?: string;
  /** A running child died or stopped answering: whatever killed it may have touched the rules too. */
  onLost?: () => void;
}

/**
 * A batch through the session when `fits` (and the session is still
 * trusted), else, or when the session is lost meanwhile, through `oneShot`
 * (one process for the batch). A refusal by the tool is thrown, as the one-shot
 * tool would have refused it too. Returns the way it went, for the metrics.
 */
export async function sessionOrOneShot(session: ToolSession | null, fits: boolean, lines: readonly string[], oneShot: () => Promise<unknown>): Promise<'session' | 'process'> {
  if (session?.usable && fits) {
    try {
      await session.run(lines);
      return 'session';
    } catch (err) {
      if (!(err instanceof SessionLost)) throw err;
    }
  }
  await oneShot();
  return 'process';
}

interface Pending {
  mark: string;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One firewall tool kept running in its interactive mode, fed a batch at a
 * time: a ban then costs a write and a read (~0.3 ms) instead of starting
 * the tool (1-3 ms for ipset, ~3 ms for nft, more under load). Batches run
 * one after the other; a child that dies or stops answering settles its
 * batch with SessionLost, and the next batch starts a new one.
 */
export class ToolSession {
  private child: ChildProcess | null = null;
  private stderr = '';
  private seq = 0;
  private pending: Pending | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private losses = 0;
  private readonly throttled: ThrottledLog;
  private readonly timeoutMs: number;
  private readonly action: string;

  constructor(
    private readonly argv: readonly string[],
    private readonly dialect: SessionDialect,
    logger: Logger,
    private readonly opts: SessionOptions = {},
  ) {
    this.throttled = new ThrottledLog(logger, 60_000);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.action = opts.action ?? dialect.tool;
  }

  /** The running child's pid, if any (tests kill it to see the session recover). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** False once the session was lost too often in a row: callers go one-shot. */
  get usable(): boolean {
    return this.losses < MAX_LOSSES;
  }

  /** Runs the lines as one batch; rejects with the tool's message, or SessionLost. */
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
    this.fail(new SessionLost(`${this.dialect.tool} session closed`));
  }

  private exec(lines: readonly string[]): Promise<void> {
    if (!this.usable) return Promise.reject(new SessionLost(`${this.dialect.tool} session given up`));
    const child = this.ensure();
    const mark = `asban-sync-${process.pid}-${++this.seq}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.lose(`no answer within ${this.timeoutMs} ms`), this.timeoutMs);
      this.pending = { mark, resolve, reject, timer };
      child.stdin!.write(this.dialect.write(lines, mark));
    });
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const [file, ...args] = this.argv;
    const child = spawnPersistent(file!, [...args, ...this.dialect.args]);
    const name = `${this.dialect.tool} ${this.dialect.args.join(' ')}`;
    this.child = child;
    this.stderr = '';
    child.stdout!.resume();
    child.stdin!.on('error', () => {
      // A dead child: its exit settles the batch.
    });
    child.stderr!.setEncoding('utf8');
    // A child already replaced (timed out, then talking again) speaks for no batch.
    child.stderr!.on('data', (d: string) => {
      if (this.child === child) this.onStderr(d);
    });
    child.on('error', (e) => this.lose(`cannot run ${file}: ${e.message}`, child));
    child.on('close', (code, signal) => this.lose(`${name} exited (${signal ?? `exit ${String(code)}`})`, child));
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
    const found = this.dialect.marker(this.stderr, p.mark);
    if (found === null) {
      if (this.stderr.length > MAX_STDERR) this.lose(`${this.dialect.tool} wrote more than expected`);
      return;
    }
    const own = this.stderr.slice(0, found.own).trim();
    this.stderr = this.stderr.slice(found.end);
    this.pending = null;
    clearTimeout(p.timer);
    this.losses = 0;
    const refused = this.dialect.refusal(own);
    if (refused === null) p.resolve();
    else p.reject(refused);
  }

  /** The child is gone or useless: settle the batch as lost; the next one starts a new child. */
  private lose(why: string, which: ChildProcess | null = this.child): void {
    if (which !== this.child) return;
    const child = this.child;
    this.child = null;
    if (child) killPersistent(child);
    if (this.pending) {
      this.losses++;
      this.dialect.lost.inc({ action: this.action });
    }
    this.throttled.warn('lost', `${this.dialect.tool} session: ${why}; ${this.usable ? 'starting a new one for the next batch' : `one ${this.dialect.tool} process per batch from now on`}`);
    this.fail(new SessionLost(why));
    if (child) this.opts.onLost?.();
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    clearTimeout(p.timer);
    p.reject(err);
  }
}
