import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Source, SourceStatus } from './types.js';
import type { SessionStatus } from './ami/session.js';
import type { LogMode } from './logfile/feed.js';

export type { LogMode };

/** What `backend = auto` needs of the log source (src/sources/logfile/). */
export interface ModalLogSource extends Source {
  /**
   * 'gaps' (AMI reports since sinceMs): count only what AMI does not report;
   * 'full' (AMI lost at sinceMs): count everything, first replaying lines
   * already read that are dated at or after sinceMs.
   */
  setMode(mode: LogMode, sinceMs?: number): void;
}

/** What `backend = auto` needs of the AMI source (AmiSource provides it). */
export interface WatchedAmiSource extends Source {
  readonly sessionStatus: SessionStatus;
  /** ms epoch of the last bytes Asterisk sent; 0 before the first. */
  readonly lastSeen: number;
  onStatusChange(fn: (next: SessionStatus, prev: SessionStatus) => void): void;
}

export interface AutoSourceOptions {
  jail: string;
  ami: WatchedAmiSource;
  log: ModalLogSource;
  clock: Clock;
  logger: Logger;
}

/**
 * `backend = auto`: AMI while it is up, the full log while it is not. The log
 * is always followed so nothing is missed at a handover: while AMI is ready
 * it counts only the lines AMI has no event for ('gaps'); when AMI drops it
 * counts everything from the last moment AMI was known to be alive, so an
 * attack during an Asterisk restart, or during the ping timeout of a
 * half-open socket, is still seen. Lines dated within the second of a
 * handover can be counted by both (log dates have one-second resolution).
 */
export class AutoSource implements Source {
  readonly name: string;
  private mode: LogMode = 'full';
  private stopping = false;
  private readonly logger: Logger;
  /** How many times the log took over and gave back: for status and tests. */
  readonly handovers = { toLog: 0, toAmi: 0 };

  constructor(private readonly opts: AutoSourceOptions) {
    this.name = `auto(${opts.ami.name}, ${opts.log.name})`;
    this.logger = opts.logger.child({ jail: opts.jail, source: 'auto' });
    opts.ami.onStatusChange((next, prev) => this.onAmi(next, prev));
  }

  get logMode(): LogMode {
    return this.mode;
  }

  async start(): Promise<void> {
    this.stopping = false;
    // Until AMI is up the log is the only witness.
    this.setMode('full', this.opts.clock.now());
    await this.opts.log.start();
    await this.opts.ami.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([this.opts.ami.stop(), this.opts.log.stop()]);
  }

  status(): SourceStatus[] {
    const ami = this.opts.ami.status().map((s) => ({ ...s }));
    const log = this.opts.log.status().map((s) => ({ ...s, detail: [s.detail, `mode ${this.mode}`].filter(Boolean).join(', ') }));
    return [...ami, ...log];
  }

  private onAmi(next: SessionStatus, prev: SessionStatus): void {
    if (this.stopping) return;
    if (next === 'ready') {
      // From this moment AMI reports; lines dated before it are still the log's to count.
      this.setMode('gaps', this.opts.clock.now());
      this.handovers.toAmi++;
      this.logger.info('AMI is up: the log now counts only what AMI does not report');
      return;
    }
    if (prev === 'ready' && next !== 'closing' && next !== 'closed') {
      const since = this.opts.ami.lastSeen || this.opts.clock.now();
      this.handovers.toLog++;
      this.setMode('full', since);
      this.logger.warn(`AMI is down: counting the full log from ${new Date(since).toISOString()}`);
    }
  }

  private setMode(mode: LogMode, sinceMs: number): void {
    this.mode = mode;
    this.opts.log.setMode(mode, sinceMs);
  }
}
