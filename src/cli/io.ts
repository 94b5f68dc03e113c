import { AsteriskBanError, type ErrorCode } from '../core/errors.js';

/**
 * Exit codes, stable for scripts:
 *   0  ok
 *   1  error: the daemon answered with an error (or check-config found problems)
 *   2  usage error: bad arguments, detected before anything was sent
 *   3  the daemon is not running, or cannot be reached on its socket
 *   4  permission denied on the socket
 */
export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, NOT_RUNNING: 3, PERMISSION: 4 } as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  error (the daemon answered with an error; check-config: configuration invalid)
  2  usage error
  3  daemon not running / cannot connect to its socket
  4  permission denied on the socket (run as root or as the daemon's user)`;

/** Where a CLI run reads and writes; injected so tests run main() in-process. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Bad arguments, caught before talking to the daemon: exit 2. */
export class UsageError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  E_NOT_RUNNING: EXIT.NOT_RUNNING,
  E_PERMISSION: EXIT.PERMISSION,
};

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof AsteriskBanError) return EXIT_BY_CODE[err.code] ?? EXIT.ERROR;
  return EXIT.ERROR;
}

/** The one line (plus hint) an admin sees for an expected error; never a stack. */
export function describeError(err: unknown): string {
  if (err instanceof UsageError) return `asterisk-ban: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}`;
  if (err instanceof AsteriskBanError) {
    const text = err.describe();
    return text.startsWith('asterisk-ban ') ? text : `asterisk-ban: ${text}`;
  }
  return `asterisk-ban: internal error: ${err instanceof Error ? err.message : String(err)}`;
}
