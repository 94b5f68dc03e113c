import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AsteriskBanError, isAsteriskBanError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { DaemonApi } from './api.js';
import { findCommand } from './commands.js';
import { metrics } from './metrics.js';
import { LineSplitter, MAX_REQUEST_BYTES, RequestError, errorAnswer, okAnswer, parseRequest, type RequestId } from './protocol.js';

export interface ControlServerOptions {
  path: string;
  api: DaemonApi;
  logger?: Logger;
  /** Longest request line accepted; default 64 KiB. */
  maxLineBytes?: number;
  /** Connections served at once; more are refused. Default 64. */
  maxConnections?: number;
  /** A connection silent (no read, no write progress) this long is dropped. Default 60 s. */
  idleTimeoutMs?: number;
}

export const MAX_SOCKET_PATH_BYTES = 107;

// Requests read ahead of their answers per connection; beyond it we stop reading.
const MAX_IN_FLIGHT = 8;

/**
 * The daemon's control socket: a Unix socket only root (or the daemon's user)
 * can open, serving the command table in commands.ts as JSON lines.
 */
export class ControlServer {
  readonly path: string;
  private readonly api: DaemonApi;
  private readonly logger: Logger;
  private readonly maxLineBytes: number;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Connections with no request in progress, longest idle first. */
  private readonly idle = new Set<Socket>();

  constructor(opts: ControlServerOptions) {
    this.path = opts.path;
    this.api = opts.api;
    this.logger = opts.logger ?? silentLogger();
    this.maxLineBytes = opts.maxLineBytes ?? MAX_REQUEST_BYTES;
    this.maxConnections = opts.maxConnections ?? 64;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  }

  async start(): Promise<void> {
    if (this.server) return;
    // sun_path holds 108 bytes with its NUL; a longer path fails obscurely in bind().
    if (Buffer.byteLength(this.path) > MAX_SOCKET_PATH_BYTES) {
      throw new AsteriskBanError('E_CONFIG', `control socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes: ${this.path}`, {
        hint: 'choose a shorter `socket` in asterisk-ban.conf',
      });
    }
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o750 });
      await this.clearStale();
    } catch (err) {
      throw fsError(this.path, err);
    }
    const server = createServer((sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(err.code === 'EADDRINUSE'
          ? inUse(this.path)
          : fsError(this.path, err));
      };
      server.once('error', onError);
      // The socket is created by bind() inside listen(); a tight umask around it
      // means there is no moment where another user could connect.
      const old = process.umask(0o177);
      try {
        server.listen(this.path, () => {
          server.off('error', onError);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    server.on('error', (err) => this.logger.error('control socket error', { error: err.message }));
    this.server = server;
    await chmod(this.path, 0o600);
    this.logger.info('control socket listening', { path: this.path });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const sock of this.sockets) sock.destroy();
    await closed;
  }

  /** Another daemon answering on our path is fatal; a dead one's leftover socket is removed. */
  private async clearStale(): Promise<void> {
    let kind;
    try {
      kind = await lstat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (!kind.isSocket()) {
      throw new AsteriskBanError('E_SOCKET_IN_USE', `${this.path} exists and is not a socket; not replacing it`, {
        hint: 'remove it, or set another `socket` in asterisk-ban.conf',
      });
    }
    const alive = await new Promise<boolean>((resolve) => {
      const probe = createConnection(this.path);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', (err: NodeJS.ErrnoException) => {
        // Only a refused connection proves nobody listens; anything else, assume someone might.
        resolve(err.code !== 'ECONNREFUSED');
      });
    });
    if (alive) throw inUse(this.path);
    this.logger.warn('removing stale control socket', { path: this.path });
    await unlink(this.path);
  }

  private onConnection(sock: Socket): void {
    // Idle clients must not lock the administrator out: the one idle longest
    // makes room. Only when every slot is busy is the newcomer turned away.
    if (this.sockets.size >= this.maxConnections) {
      const oldest = this.idle.values().next().value as Socket | undefined;
      if (oldest === undefined) {
        sock.on('error', () => sock.destroy());
        sock.end(errorAnswer(null, 'E_BUSY', `asterisk-ban is busy: ${this.sockets.size} control requests in progress; try again`), () => sock.destroy());
        return;
      }
      this.idle.delete(oldest);
      this.sockets.delete(oldest);
      oldest.destroy();
    }
    this.sockets.add(sock);
    this.idle.add(sock);
    sock.on('close', () => {
      this.sockets.delete(sock);
      this.idle.delete(sock);
    });
    sock.on('error', () => sock.destroy());
    sock.setTimeout(this.idleTimeoutMs);
    sock.on('timeout', () => sock.destroy());

    let inFlight = 0;
    let chain = Promise.resolve();
    const splitter = new LineSplitter(
      this.maxLineBytes,
      (line) => {
        // A reload may take longer than the idle limit; only a connection with
        // nothing in progress is idle.
        if (inFlight++ === 0) {
          sock.setTimeout(0);
          this.idle.delete(sock);
        }
        if (inFlight >= MAX_IN_FLIGHT) sock.pause();
        chain = chain
          .then(() => this.answer(line))
          .then((text) => write(sock, text))
          .finally(() => {
            inFlight--;
            if (sock.destroyed) return;
            if (inFlight < MAX_IN_FLIGHT) sock.resume();
            if (inFlight === 0) {
              sock.setTimeout(this.idleTimeoutMs);
              this.idle.add(sock);
            }
          });
      },
      () => {
        this.logger.warn('control request too long; closing connection', { limit: this.maxLineBytes });
        metrics.controlRequests.inc({ cmd: 'invalid', outcome: 'error' });
        // Answer, then stop reading: whatever else the peer sends is never buffered.
        sock.end(errorAnswer(null, 'E_REQUEST', `request longer than ${this.maxLineBytes} bytes`), () => sock.destroy());
      },
    );
    sock.on('data', (chunk: Buffer) => splitter.push(chunk));
  }

  /** One request line in, one answer line out; never throws. */
  private async answer(line: string): Promise<string> {
    let id: RequestId = null;
    let cmd = 'invalid';
    try {
      const req = parseRequest(line);
      id = req.id;
      const handler = findCommand(req.cmd);
      if (!handler) {
        throw new AsteriskBanError('E_UNKNOWN_COMMAND', `unknown command "${req.cmd}"`);
      }
      cmd = req.cmd;
      const result = await handler(this.api, req.args);
      metrics.controlRequests.inc({ cmd, outcome: 'ok' });
      return okAnswer(id, result);
    } catch (err) {
      metrics.controlRequests.inc({ cmd, outcome: 'error' });
      if (err instanceof RequestError) return errorAnswer(err.id ?? id, err.code, err.message);
      if (isAsteriskBanError(err)) return errorAnswer(id, err.code, err.message, err.hint);
      // Internals (paths, stack, maybe settings) stay in our log, not on the socket.
      this.logger.error('control command failed', { cmd, error: err instanceof Error ? err.stack ?? err.message : String(err) });
      return errorAnswer(id, 'E_INTERNAL', 'internal error; see the daemon log');
    }
  }
}

function fsError(path: string, err: unknown): AsteriskBanError {
  if (isAsteriskBanError(err)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new AsteriskBanError('E_PERMISSION', `cannot create the control socket ${path}: ${code}`, {
      hint: 'run as root, or give the daemon\'s user a writable directory for `socket`',
      cause: err,
    });
  }
  return new AsteriskBanError('E_INTERNAL', `cannot listen on ${path}: ${code ?? (err as Error).message}`, { cause: err });
}

function inUse(path: string): AsteriskBanError {
  return new AsteriskBanError('E_SOCKET_IN_USE', `another asterisk-ban is already answering on ${path}`, {
    hint: 'stop it first, or give this one another --socket',
  });
}

function write(sock: Socket, text: string): Promise<void> {
  if (sock.destroyed || !sock.writable) return Promise.resolve();
  return new Promise((resolve) => sock.write(text, () => resolve()));
}
