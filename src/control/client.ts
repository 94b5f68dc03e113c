import { createConnection } from 'node:net';
import { AsteriskBanError } from '../core/errors.js';
import { LineSplitter, isErrorCode } from './protocol.js';

export interface RequestOptions {
  /** Give up waiting for the answer after this long. Default 30 s. */
  timeoutMs?: number;
  /** Largest answer accepted (a `list` of a million bans is ~170 MB). Default 256 MiB, under V8's string limit. */
  maxAnswerBytes?: number;
}

let nextId = 1;

/**
 * Sends one command to the daemon's control socket and resolves with its
 * result. Failures are AsteriskBanErrors the CLI maps to exit codes:
 * E_NOT_RUNNING (no socket, refused, no answer), E_PERMISSION, or the code
 * the daemon answered with.
 */
export function request(
  socketPath: string,
  cmd: string,
  args: Record<string, unknown> = {},
  opts: RequestOptions = {},
): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const id = nextId++;
  return new Promise((resolve, reject) => {
    let settled = false;
    const sock = createConnection(socketPath);
    const finish = (err: Error | null, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      finish(new AsteriskBanError('E_NOT_RUNNING', `asterisk-ban did not answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`} on ${socketPath}`));
    }, timeoutMs);

    const splitter = new LineSplitter(
      opts.maxAnswerBytes ?? 256 * 1024 * 1024,
      (line) => {
        try {
          finish(null, readAnswer(line, id));
        } catch (err) {
          finish(err as Error);
        }
      },
      () => finish(new AsteriskBanError('E_INTERNAL', 'answer from the daemon is too large')),
    );
    sock.on('connect', () => {
      sock.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
    sock.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk);
      } catch (err) {
        finish(new AsteriskBanError('E_INTERNAL', `cannot read the daemon's answer: ${(err as Error).message}`));
      }
    });
    sock.on('end', () => finish(new AsteriskBanError('E_NOT_RUNNING', `asterisk-ban closed the connection on ${socketPath} without answering`)));
    sock.on('error', (err: NodeJS.ErrnoException) => finish(connectError(socketPath, err)));
  });
}

function readAnswer(line: string, id: number): unknown {
  let answer: unknown;
  try {
    answer = JSON.parse(line);
  } catch {
    throw new AsteriskBanError('E_INTERNAL', 'the daemon sent an answer that is not JSON');
  }
  if (typeof answer !== 'object' || answer === null) throw new AsteriskBanError('E_INTERNAL', 'the daemon sent a malformed answer');
  const a = answer as { id?: unknown; ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; hint?: unknown } };
  if (a.ok === true && a.id === id) return a.result;
  if (a.ok === false) {
    const code = isErrorCode(a.error?.code) ? a.error.code : 'E_INTERNAL';
    const message = typeof a.error?.message === 'string' ? a.error.message : 'the daemon reported an error';
    const hint = typeof a.error?.hint === 'string' ? a.error.hint : undefined;
    throw new AsteriskBanError(code, message, hint === undefined ? {} : { hint });
  }
  throw new AsteriskBanError('E_INTERNAL', 'the daemon answered a different request');
}

export function connectError(socketPath: string, err: NodeJS.ErrnoException): AsteriskBanError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new AsteriskBanError('E_NOT_RUNNING', `asterisk-ban is not running (no socket at ${socketPath})`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new AsteriskBanError('E_PERMISSION', `permission denied on ${socketPath}: run as root or as the daemon's user`, { cause: err });
    case 'ENOTSOCK':
      return new AsteriskBanError('E_NOT_RUNNING', `${socketPath} is not a socket; is --socket right?`, { cause: err });
    default:
      return new AsteriskBanError('E_NOT_RUNNING', `cannot connect to asterisk-ban at ${socketPath}: ${err.code ?? err.message}`, { cause: err });
  }
}
