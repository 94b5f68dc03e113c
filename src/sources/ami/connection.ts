import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import createManager from 'asterisk-manager';

const require = createRequire(import.meta.url);
// The CommonJS `net` object asterisk-manager itself requires (the ESM namespace is read-only).
const netModule = require('node:net') as { createConnection: (...args: unknown[]) => Socket };

export interface ConnectionOptions {
  host: string;
  port: number;
  username: string;
  /** Handed to asterisk-manager's login only; never logged. */
  secret: string;
}

export interface ConnectionHandlers {
  connected(): void;
  data(chunk: string): void;
  /** Once per connection, whatever ended it. */
  closed(err: Error | null): void;
}

/**
 * One TCP connection to Asterisk through asterisk-manager (the library our
 * users know): it opens the socket, writes actions, sends the login and
 * matches responses to callbacks. We keep its socket's bytes for ourselves
 * (see framing.ts) and hand its reader only the responses, so its buffer
 * never holds more than one complete message and events are parsed once.
 */
export class AmiConnection {
  readonly manager: createManager.Manager;
  private socket: Socket | null = null;
  private libReader: ((chunk: string) => void) | null = null;
  private ended = false;
  private lastError: Error | null = null;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    // No port: asterisk-manager must not connect or log in on its own.
    this.manager = createManager(undefined, opts.host, opts.username, opts.secret, false);
    // The library emits 'error' on its own emitter; without a listener Node would throw.
    this.manager.on('error', () => undefined);
  }

  open(): void {
    const original = netModule.createConnection;
    let captured: Socket | null = null;
    // asterisk-manager keeps its socket private; its connect() creates it
    // synchronously, so wrapping createConnection for this one call hands it to us.
    netModule.createConnection = (...args: unknown[]) => {
      captured = original.apply(netModule, args);
      return captured;
    };
    try {
      this.manager.connect(this.opts.port, this.opts.host);
    } finally {
      netModule.createConnection = original;
    }
    const socket = captured as Socket | null;
    if (!socket) throw new Error('asterisk-manager did not open a socket');
    this.socket = socket;
    const readers = socket.listeners('data') as Array<(chunk: string) => void>;
    this.libReader = readers[0] ?? null;
    socket.removeAllListeners('data');
    socket.on('data', (chunk: string | Buffer) => this.handlers.data(typeof chunk === 'string' ? chunk : chunk.toString('utf8')));
    socket.once('connect', () => this.handlers.connected());
    socket.on('error', (err) => {
      this.lastError = err;
    });
    socket.once('close', () => this.finish());
  }

  /** A complete response message (without its blank line) for asterisk-manager's callbacks. */
  deliverResponse(text: string): void {
    this.libReader?.(`${text}\r\n\r\n`);
  }

  /** Ends at once, without waiting for the peer (a stuck or half-open socket never answers a FIN). */
  destroy(err?: Error): void {
    if (err) this.lastError = err;
    this.socket?.destroy();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.manager.removeAllListeners();
    this.manager.on('error', () => undefined);
    this.handlers.closed(this.lastError);
  }
}
