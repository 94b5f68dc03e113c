import { AsteriskBanError } from '../../core/errors.js';
import { printable } from '../../core/address.js';
import { defaultBackoff, retryDelay, type BackoffOptions } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { metrics } from '../../control/metrics.js';
import { scrubSecret } from '../../core/scrub.js';
import { AmiConnection, type ConnectionOptions } from './connection.js';
import { FrameSplitter, type FramingLimits, defaultFramingLimits } from './framing.js';

export type SessionStatus = 'connecting' | 'ready' | 'reconnecting' | 'closing' | 'closed';

export interface SessionOptions extends ConnectionOptions {
  jail: string;
  /** Seconds between pings while ready. */
  pingInterval: number;
  /** Seconds to wait for a Pong (and for the login response) before the socket counts as dead. */
  pingTimeout: number;
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  limits?: FramingLimits;
}

export interface SessionHandlers {
  /** One event message's text, CRLF-separated lines without the blank line. */
  frame(text: string): void;
  status(next: SessionStatus, prev: SessionStatus): void;
  /** The connection ended; a half-received event can no longer complete. */
  lost?(): void;
  /** Every frame of one read from the socket has been handed over. */
  endOfRead?(): void;
}

/**
 * Keeps one AMI login alive: our own retry loop (asterisk-manager's is
 * unreliable), a Ping heartbeat that finds half-open sockets, bounded buffers.
 */
export class AmiSession {
  private state: SessionStatus = 'closed';
  private sinceMs: number;
  private conn: AmiConnection | null = null;
  private attempts = 0;
  /** The current outage was said at warning level: further failed attempts go to debug until the next login. */
  private outageSaid = false;
  private closing = false;
  private authRefused = false;
  private timer: TimerHandle | null = null;
  private pingSeq = 0;
  private lastSeenMs = 0;
  private closedWaiters: Array<() => void> = [];

  constructor(
    private readonly opts: SessionOptions,
    private readonly handlers: SessionHandlers,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.sinceMs = clock.now();
  }

  get status(): SessionStatus {
    return this.state;
  }

  get since(): number {
    return this.sinceMs;
  }

  /** ms epoch of the last bytes received (a frame or a Pong): what we last know Asterisk reported. */
  get lastSeen(): number {
    return this.lastSeenMs;
  }

  start(): void {
    if (this.state !== 'closed') return;
    this.closing = false;
    this.attempts = 0;
    this.connect();
  }

  /** Resolves once the socket is gone; no reconnect follows. */
  stop(): Promise<void> {
    this.closing = true;
    this.clearTimer();
    if (this.state === 'closed') return Promise.resolve();
    this.setStatus('closing');
    const done = new Promise<void>((resolve) => this.closedWaiters.push(resolve));
    if (this.conn) this.conn.destroy();
    else this.closed();
    return done;
  }

  private setStatus(next: SessionStatus): void {
    const prev = this.state;
    if (prev === next) return;
    this.state = next;
    this.sinceMs = this.clock.now();
    metrics.amiConnected.set({ jail: this.opts.jail }, next === 'ready' ? 1 : 0);
    const level = next === 'ready' || prev === 'ready' ? 'info' : 'debug';
    this.logger.log(level, `AMI ${this.opts.host}:${this.opts.port} ${prev} → ${next}`, { jail: this.opts.jail });
    this.handlers.status(next, prev);
  }

  private connect(): void {
    this.setStatus(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const splitter = new FrameSplitter({
      banner: () => undefined,
      frame: (text) => this.onFrame(text),
      oversized: (size) => {
        metrics.amiDropped.inc({ jail: this.opts.jail });
        this.logger.warn(`AMI message of ${size} bytes dropped (limit ${this.limits.maxFrame})`, { jail: this.opts.jail });
      },
    }, this.limits);
    const conn = new AmiConnection(this.opts, {
      connected: () => this.onConnected(conn),
      data: (chunk) => {
        if (conn !== this.conn) return;
        this.lastSeenMs = this.clock.now();
        try {
          splitter.push(chunk);
          this.handlers.endOfRead?.();
        } catch (err) {
          this.logger.warn(this.scrubbed(err instanceof Error ? err.message : String(err)), { jail: this.opts.jail });
          conn.destroy();
        }
      },
      closed: (err) => this.onClosed(conn, err),
    });
    this.conn = conn;
    this.arm(this.opts.connectTimeoutMs ?? 5_000, () => {
      this.sayOutage(`AMI connect to ${this.opts.host}:${this.opts.port} timed out`);
      conn.destroy();
    });
    try {
      conn.open();
    } catch (err) {
      this.conn = null;
      this.logger.warn(`AMI connect failed: ${this.scrubbed(err instanceof Error ? err.message : String(err))}`, { jail: this.opts.jail });
      this.retry();
    }
  }

  /** A server (or a proxy in front of it) may echo the login back in its error text. */
  private scrubbed(text: string): string {
    return scrubSecret(text, this.opts.secret, this.opts.username);
  }

  private get limits(): FramingLimits {
    return this.opts.limits ?? defaultFramingLimits;
  }

  private onConnected(conn: AmiConnection): void {
    if (conn !== this.conn) return;
    this.arm(this.opts.pingTimeout * 1000, () => {
      this.logger.warn(`AMI login got no answer within ${this.opts.pingTimeout}s`, { jail: this.opts.jail });
      conn.destroy();
    });
    conn.manager.login((err) => {
      if (conn !== this.conn) return;
      if (err) {
        this.authRefused = true;
        const said = typeof (err as { message?: unknown }).message === 'string' ? this.scrubbed((err as { message: string }).message) : 'refused';
        const e = new AsteriskBanError('E_AMI_AUTH', `AMI login as "${printable(this.opts.username, 64)}" at ${this.opts.host}:${this.opts.port} refused: ${printable(said, 100)}`, {
          hint: 'check AMI_USERNAME/AMI_SECRET and the [user] section of manager.conf (read = security, permit for this host)',
        });
        this.logger.error(`${e.message} (${e.code})`, { jail: this.opts.jail, code: e.code });
        conn.destroy();
        return;
      }
      this.authRefused = false;
      this.attempts = 0;
      this.outageSaid = false;
      this.setStatus('ready');
      this.schedulePing(conn);
    });
  }

  private onFrame(text: string): void {
    const conn = this.conn;
    if (!conn) return;
    if (text.startsWith('Response:')) {
      // asterisk-manager's "Follows" mode buffers until a marker line; we send no
      // Command action, so such a response is never ours and must not grow its buffer.
      if (!/^Response: Follows/i.test(text)) conn.deliverResponse(text);
      return;
    }
    this.handlers.frame(text);
  }

  private schedulePing(conn: AmiConnection): void {
    this.arm(this.opts.pingInterval * 1000, () => this.ping(conn));
  }

  private ping(conn: AmiConnection): void {
    if (conn !== this.conn || this.state !== 'ready') return;
    let answered = false;
    this.arm(this.opts.pingTimeout * 1000, () => {
      if (answered) return;
      const e = new AsteriskBanError('E_AMI_TIMEOUT', `AMI Ping got no answer within ${this.opts.pingTimeout}s; the connection is dead`);
      this.logger.warn(`${e.message} (${e.code})`, { jail: this.opts.jail, code: e.code });
      conn.destroy(e);
    });
    conn.manager.action({ action: 'Ping', actionid: `asterisk-ban-ping-${++this.pingSeq}` }, () => {
      if (conn !== this.conn || answered) return;
      answered = true;
      this.lastSeenMs = this.clock.now();
      this.schedulePing(conn);
    });
  }

  private onClosed(conn: AmiConnection, err: Error | null): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.clearTimer();
    this.handlers.lost?.();
    if (this.closing) {
      this.closed();
      return;
    }
    const was = this.state;
    const why = err ? `: ${printable(this.scrubbed(err.message), 120)}` : '';
    if (was === 'ready') {
      this.logger.warn(`AMI connection to ${this.opts.host}:${this.opts.port} lost${why}`, { jail: this.opts.jail });
      this.outageSaid = true;
    } else if (!this.authRefused) {
      this.sayOutage(`AMI connection to ${this.opts.host}:${this.opts.port} failed${why}; retrying`);
    }
    this.retry();
  }

  /** At warning level once per outage (Asterisk down at start-up, a wrong port), then at debug. */
  private sayOutage(message: string): void {
    if (this.outageSaid) {
      this.logger.debug(message, { jail: this.opts.jail });
      return;
    }
    this.outageSaid = true;
    this.logger.warn(`${message} (said once until AMI is back)`, { jail: this.opts.jail });
  }

  private retry(): void {
    if (this.closing) return;
    this.attempts++;
    metrics.amiReconnects.inc({ jail: this.opts.jail });
    const backoff = this.opts.backoff ?? defaultBackoff;
    // A refused login will be refused again: no point in hammering it (or its logs).
    const delay = this.authRefused ? backoff.maxMs : retryDelay(this.attempts, backoff);
    this.setStatus('reconnecting');
    this.arm(delay, () => this.connect());
  }

  private closed(): void {
    this.setStatus('closed');
    const waiters = this.closedWaiters;
    this.closedWaiters = [];
    for (const w of waiters) w();
  }

  private arm(ms: number, fn: () => void): void {
    this.clearTimer();
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      fn();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
