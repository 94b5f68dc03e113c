import { createServer, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';

/**
 * A fake Asterisk Manager Interface on 127.0.0.1 (port 0): greets like
 * Asterisk 20, checks Login, answers Ping, and sends whatever a test asks
 * for, including what a broken or hostile peer would send.
 */
export interface FakeAmiOptions {
  username?: string;
  secret?: string;
  /** Refuse every login, as for a wrong secret. */
  refuseLogin?: boolean;
  /** The Message: of a refused login; some proxies echo what they got. */
  refusalMessage?: string;
  banner?: string;
  /** Fixed port (restart tests reuse the old one); 0 = any. */
  port?: number;
  /** '\n' makes it answer with bare LF line ends, as no Asterisk does. */
  lineEnd?: '\r\n' | '\n';
}

export const BANNER = 'Asterisk Call Manager/9.0.0';

export class FakeAmiServer {
  readonly username: string;
  readonly secret: string;
  refuseLogin: boolean;
  refusalMessage: string;
  /** While true, actions get no answer (a half-open peer). */
  silent = false;
  port = 0;
  readonly host = '127.0.0.1';
  logins = 0;
  loginAttempts: Array<{ username: string; secret: string }> = [];
  pings = 0;
  connections = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly authed = new Set<Socket>();
  private loginWaiters: Array<{ n: number; resolve: () => void }> = [];

  private constructor(private readonly opts: FakeAmiOptions) {
    this.username = opts.username ?? 'ban';
    this.secret = opts.secret ?? 's3cret-value';
    this.refuseLogin = opts.refuseLogin ?? false;
    this.refusalMessage = opts.refusalMessage ?? 'Authentication failed';
  }

  static async start(opts: FakeAmiOptions = {}): Promise<FakeAmiServer> {
    const s = new FakeAmiServer(opts);
    await s.listen(opts.port ?? 0);
    return s;
  }

  private listen(port: number): Promise<void> {
    const server = createServer((sock) => this.accept(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        const addr = server.address();
        if (addr && typeof addr === 'object') this.port = addr.port;
        resolve();
      });
    });
  }

  private accept(sock: Socket): void {
    this.connections++;
    this.sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.sockets.delete(sock);
      this.authed.delete(sock);
    });
    this.out(sock, `${this.opts.banner ?? BANNER}\r\n`);
    let buf = '';
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      if (buf.length > 1 << 20) sock.destroy();
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const text = buf.slice(0, end);
        buf = buf.slice(end + 4);
        this.action(sock, text);
      }
    });
  }

  private action(sock: Socket, text: string): void {
    const h = new Map<string, string>();
    for (const line of text.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) h.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    const id = h.get('actionid');
    const idLine = id !== undefined ? `ActionID: ${id}\r\n` : '';
    const action = (h.get('action') ?? '').toLowerCase();
    if (this.silent) return;
    if (action === 'login') {
      const username = h.get('username') ?? '';
      const secret = h.get('secret') ?? '';
      this.loginAttempts.push({ username, secret });
      if (this.refuseLogin || username !== this.username || secret !== this.secret) {
        this.out(sock, `Response: Error\r\n${idLine}Message: ${this.refusalMessage}\r\n\r\n`);
        return;
      }
      this.authed.add(sock);
      this.logins++;
      this.out(sock, `Response: Success\r\n${idLine}Message: Authentication accepted\r\n\r\n`);
      this.loginWaiters = this.loginWaiters.filter((w) => (this.logins >= w.n ? (w.resolve(), false) : true));
    } else if (action === 'ping') {
      this.pings++;
      if (!this.authed.has(sock)) {
        this.out(sock, `Response: Error\r\n${idLine}Message: Permission denied\r\n\r\n`);
        return;
      }
      this.out(sock, `Response: Success\r\n${idLine}Ping: Pong\r\nTimestamp: 1795793312.295906\r\n\r\n`);
    } else if (action === 'logoff') {
      this.out(sock, `Response: Goodbye\r\n${idLine}Message: Thanks for all the fish.\r\n\r\n`);
      sock.end();
    } else {
      this.out(sock, `Response: Error\r\n${idLine}Message: Invalid/unknown command\r\n\r\n`);
    }
  }

  private out(sock: Socket, text: string): void {
    sock.write(this.opts.lineEnd === '\n' ? text.replaceAll('\r\n', '\n') : text);
  }

  /** Clients logged in right now. */
  get loggedIn(): number {
    return this.authed.size;
  }

  /** Resolves once `n` logins in total have succeeded. */
  waitForLogins(n: number): Promise<void> {
    if (this.logins >= n) return Promise.resolve();
    return new Promise((resolve) => this.loginWaiters.push({ n, resolve }));
  }

  /** Raw text to every logged-in client. */
  send(text: string): void {
    for (const s of this.authed) s.write(text);
  }

  /** Raw text to every connected client, logged in or not. */
  sendAll(text: string): void {
    for (const s of this.sockets) s.write(text);
  }

  /** The event part of a recording (after the login response, before Goodbye). */
  replay(file: string): void {
    this.send(recordedEvents(file));
  }

  /** Half a message, then a reset. */
  dropMidFrame(text: string): void {
    for (const s of this.authed) {
      s.write(text.slice(0, Math.floor(text.length / 2)));
      s.destroy();
    }
  }

  /** Closes client sockets (as Asterisk does on `core restart`: no bytes, just a close). */
  kick(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Stops listening and drops every client; `restart()` listens again on the same port. */
  async close(): Promise<void> {
    this.kick();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async restart(): Promise<void> {
    const port = this.port;
    await this.close();
    await this.listen(port);
  }
}

/** Splits a recording into banner, login response and the event stream that follows. */
export function recordedEvents(file: string): string {
  const text = readFileSync(file, 'utf8');
  const accepted = 'Message: Authentication accepted\r\n\r\n';
  const start = text.indexOf(accepted);
  if (start < 0) throw new Error(`${file}: no login response`);
  const end = text.indexOf('Response: Goodbye');
  return text.slice(start + accepted.length, end < 0 ? undefined : end);
}

export interface GeneratedEvent {
  event?: string;
  ip: string;
  service?: string;
  account?: string;
  session?: string;
  /** e.g. 2026-11-27T10:00:00.123+0000 */
  time?: string;
  port?: number;
}

/** A whole security event as Asterisk 20 writes it. */
export function securityEvent(e: GeneratedEvent): string {
  const fam = e.ip.includes(':') ? 'IPV6' : 'IPV4';
  const event = e.event ?? 'InvalidPassword';
  return (
    `Event: ${event}\r\nPrivilege: security,all\r\nEventTV: ${e.time ?? '2026-11-27T10:00:00.000+0000'}\r\n` +
    `Severity: ${event === 'SuccessfulAuth' || event === 'ChallengeSent' ? 'Informational' : 'Error'}\r\n` +
    `Service: ${e.service ?? 'SIP'}\r\nEventVersion: ${event === 'InvalidPassword' ? 2 : 1}\r\n` +
    `AccountID: ${e.account ?? '100'}\r\nSessionID: ${e.session ?? '0x7f3d74018660'}\r\n` +
    `LocalAddress: ${fam}/UDP/${fam === 'IPV6' ? '2001:db8:51::1' : '192.0.2.1'}/5060\r\n` +
    `RemoteAddress: ${fam}/UDP/${e.ip}/${e.port ?? 5060}\r\n\r\n`
  );
}
