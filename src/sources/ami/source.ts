import type { BackoffOptions } from '../../core/backoff.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { JailSettings } from '../../settings/types.js';
import type { Source, SourceEvents, SourceState, SourceStatus } from '../types.js';
import type { FramingLimits } from './framing.js';
import { EventInterpreter } from './interpreter.js';
import { AmiSession, type SessionStatus } from './session.js';

export interface AmiSourceOptions {
  jail: string;
  settings: JailSettings;
  clock: Clock;
  logger: Logger;
  events: SourceEvents;
  /** Told of every session status change (the auto backend switches the log source on it). */
  onStatus?(next: SessionStatus, prev: SessionStatus): void;
  /** Tests shorten these. */
  backoff?: BackoffOptions;
  connectTimeoutMs?: number;
  limits?: FramingLimits;
}

/** A jail's AMI feed: one supervised session, its security events turned into failures. */
export class AmiSource implements Source {
  readonly name: string;
  private readonly session: AmiSession;
  private readonly interpreter: EventInterpreter;
  private readonly logger: Logger;
  private readonly listeners: Array<(next: SessionStatus, prev: SessionStatus) => void> = [];

  constructor(private readonly opts: AmiSourceOptions) {
    const ami = opts.settings.ami;
    this.name = `ami:${ami.host}:${ami.port}`;
    this.logger = opts.logger.child({ jail: opts.jail, source: 'ami' });
    this.interpreter = new EventInterpreter(opts.jail, ami, opts.events, opts.clock, this.logger);
    this.session = new AmiSession(
      {
        jail: opts.jail,
        host: ami.host,
        port: ami.port,
        username: ami.username,
        secret: ami.secret,
        pingInterval: ami.pingInterval,
        pingTimeout: ami.pingTimeout,
        connectTimeoutMs: opts.connectTimeoutMs,
        backoff: opts.backoff,
        limits: opts.limits,
      },
      {
        frame: (t) => this.interpreter.text(t),
        status: (next, prev) => {
          opts.onStatus?.(next, prev);
          for (const l of this.listeners) l(next, prev);
        },
        lost: () => this.interpreter.reset(),
        endOfRead: () => this.interpreter.endOfRead(),
      },
      opts.clock,
      this.logger,
    );
  }

  /** Every later session status change is reported to `fn`. */
  onStatusChange(fn: (next: SessionStatus, prev: SessionStatus) => void): void {
    this.listeners.push(fn);
  }

  get sessionStatus(): SessionStatus {
    return this.session.status;
  }

  /** ms epoch of the last bytes Asterisk sent us; 0 before the first. */
  get lastSeen(): number {
    return this.session.lastSeen;
  }

  /** Failures, successes, tampered and dropped frames seen so far. */
  get counts(): Readonly<EventInterpreter['counts']> {
    return this.interpreter.counts;
  }

  async start(): Promise<void> {
    if (!this.opts.settings.ami.username) {
      this.logger.warn('AMI username is empty; set AMI_USERNAME or ami_username for this jail');
    }
    this.session.start();
  }

  async stop(): Promise<void> {
    await this.session.stop();
    this.interpreter.stop();
  }

  status(): SourceStatus[] {
    const s = this.session.status;
    const detail = s === 'ready' ? 'connected' : s === 'reconnecting' ? 'disconnected, retrying' : undefined;
    const st: SourceStatus = { name: this.name, kind: 'ami', state: s as SourceState, since: this.session.since, failures: this.interpreter.counts.failures };
    if (detail) st.detail = detail;
    return [st];
  }
}
