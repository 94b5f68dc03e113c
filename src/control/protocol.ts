import { AsteriskBanError, ErrorCodes, type ErrorCode } from '../core/errors.js';

/**
 * The control socket speaks JSON lines: one request object per line in, one
 * answer object per line out, matched by `id`.
 *
 *   → {"id": 1, "cmd": "ban", "args": {"jail": "asterisk", "ip": "203.0.113.5"}}
 *   ← {"id": 1, "ok": true, "result": {...}}
 *   ← {"id": 1, "ok": false, "error": {"code": "E_UNKNOWN_JAIL", "message": "..."}}
 */

/** A request line longer than this is refused and its connection closed. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export type RequestId = number | string | null;

export interface ControlRequest {
  id: RequestId;
  cmd: string;
  args: Record<string, unknown>;
}

export interface ControlError {
  code: ErrorCode;
  message: string;
  /** How to fix it, when the daemon knows (e.g. the names of the configured jails). */
  hint?: string;
}

export type ControlAnswer =
  | { id: RequestId; ok: true; result: unknown }
  | { id: RequestId; ok: false; error: ControlError };

const MAX_ID_TEXT = 64;
const MAX_CMD_TEXT = 32;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validId(v: unknown): v is RequestId {
  if (v === null) return true;
  if (typeof v === 'number') return Number.isSafeInteger(v);
  return typeof v === 'string' && v.length <= MAX_ID_TEXT;
}

/**
 * Parses one request line. Throws E_REQUEST with the id attached when one
 * could be read, so the error answer still reaches the right caller.
 */
export function parseRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new RequestError(null, 'request is not JSON');
  }
  if (!isPlainObject(value)) throw new RequestError(null, 'request must be a JSON object');
  const id = value.id === undefined ? null : value.id;
  if (!validId(id)) throw new RequestError(null, 'request id must be an integer, a short string or null');
  const { cmd, args } = value;
  if (typeof cmd !== 'string' || cmd.length === 0 || cmd.length > MAX_CMD_TEXT) {
    throw new RequestError(id, 'request needs a "cmd" string');
  }
  if (args !== undefined && args !== null && !isPlainObject(args)) {
    throw new RequestError(id, '"args" must be an object');
  }
  return { id, cmd, args: isPlainObject(args) ? args : {} };
}

/** E_REQUEST carrying the id of the request it answers. */
export class RequestError extends AsteriskBanError {
  constructor(readonly id: RequestId, message: string) {
    super('E_REQUEST', message);
  }
}

export function okAnswer(id: RequestId, result: unknown): string {
  return `${JSON.stringify({ id, ok: true, result: result === undefined ? null : result })}\n`;
}

export function errorAnswer(id: RequestId, code: ErrorCode, message: string, hint?: string): string {
  const error: ControlError = hint ? { code, message, hint } : { code, message };
  return `${JSON.stringify({ id, ok: false, error })}\n`;
}

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ErrorCodes, v);
}

/**
 * Splits a byte stream into lines without ever holding more than `maxBytes`
 * of an unfinished line: a peer that never sends a newline costs us at most
 * that much memory, then `onOverflow` fires once and everything after is dropped.
 */
export class LineSplitter {
  private pieces: Buffer[] = [];
  private pending = 0;
  private dead = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (!this.dead && start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.pending + (end - start) > this.maxBytes) {
        this.overflow();
        return;
      }
      if (nl < 0) {
        // A copy, so a tiny tail never pins the whole chunk it came in.
        this.pieces.push(Buffer.from(chunk.subarray(start)));
        this.pending += chunk.length - start;
        return;
      }
      const part = chunk.subarray(start, nl);
      const whole = this.pieces.length === 0 ? part : Buffer.concat([...this.pieces, part]);
      this.pieces = [];
      this.pending = 0;
      start = nl + 1;
      let text = whole.toString('utf8');
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.trim().length > 0) this.onLine(text);
    }
  }

  /** Bytes of an unfinished line held right now. */
  get buffered(): number {
    return this.pending;
  }

  private overflow(): void {
    this.dead = true;
    this.pieces = [];
    this.pending = 0;
    this.onOverflow();
  }
}
