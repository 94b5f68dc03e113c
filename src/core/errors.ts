/**
 * One error type with a stable code. The CLI, the control socket and the
 * tests match on `code`, never on message text.
 */
export const ErrorCodes = {
  E_CONFIG: 'invalid configuration',
  E_CONFIG_IO: 'configuration file unreadable',
  E_FILTER: 'invalid filter',
  E_REGEX: 'regex cannot be used',
  E_ADDRESS: 'not an IP address',
  E_DURATION: 'not a duration',
  E_DURATION_TOO_LONG: 'a duration past ten years',
  E_ACTION: 'action failed',
  E_ACTION_UNKNOWN: 'unknown action',
  E_AMI_AUTH: 'AMI login refused',
  E_AMI_CONNECT: 'AMI connection failed',
  E_AMI_TIMEOUT: 'AMI timed out',
  E_STORE: 'state database error',
  E_STORE_LOCKED: 'state database in use',
  E_SOCKET_IN_USE: 'control socket in use',
  E_NOT_RUNNING: 'daemon not running',
  E_BUSY: 'daemon busy',
  E_PERMISSION: 'permission denied',
  E_REQUEST: 'bad request',
  E_UNKNOWN_COMMAND: 'unknown command',
  E_UNKNOWN_JAIL: 'unknown jail',
  E_IGNORED: 'address is ignored',
  E_NOT_BANNED: 'address not banned',
  E_INTERNAL: 'internal error',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface Location {
  file: string;
  line?: number;
}

export class AsteriskBanError extends Error {
  readonly code: ErrorCode;
  readonly location?: Location;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, opts: { location?: Location; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AsteriskBanError';
    this.code = code;
    this.location = opts.location;
    this.hint = opts.hint;
  }

  /** `file:line: message (hint)` — the form check-config prints. */
  describe(): string {
    const where = this.location ? `${this.location.file}${this.location.line ? `:${this.location.line}` : ''}: ` : '';
    return `${where}${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}

export function configError(message: string, location?: Location, hint?: string): AsteriskBanError {
  return new AsteriskBanError('E_CONFIG', message, { location, hint });
}

export function isAsteriskBanError(err: unknown, code?: ErrorCode): err is AsteriskBanError {
  return err instanceof AsteriskBanError && (code === undefined || err.code === code);
}

/** Several configuration problems reported together, so an admin fixes them in one pass. */
export class ConfigErrors extends AsteriskBanError {
  readonly errors: AsteriskBanError[];
  /** Warnings found on the way: they often say why an error came (a missing include). */
  readonly warnings: string[];
  constructor(errors: AsteriskBanError[], warnings: string[] = []) {
    super('E_CONFIG', errors.map((e) => e.describe()).join('\n'));
    this.errors = errors;
    this.warnings = warnings;
  }
}
