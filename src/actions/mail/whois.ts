import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import type { Clock } from '../../core/clock.js';

/** Whois output is attacker-influenced (anyone can register a range): keep only this much. */
export const WHOIS_MAX_BYTES = 16 * 1024;
const CACHE_MS = 6 * 3600_000;
const CACHE_MAX = 2_000;

export interface WhoisOptions {
  /** Query this server directly (RFC 3912); null runs the system `whois` client. */
  server: string | null;
  port: number;
  timeoutMs: number;
  /** For tests and hosts without /usr/bin/whois. */
  command?: string;
}

export type WhoisResult = { ok: true; text: string; truncated: boolean } | { ok: false; error: string };

/**
 * RFC 3912 by hand: node has no whois client and the protocol is one line
 * out, bytes in until close. Resolves, never rejects; bounded in time and size.
 */
export function queryWhoisServer(address: string, server: string, port: number, timeoutMs: number): Promise<WhoisResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let settled = false;
    const done = (r: WhoisResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const finish = (): void =>
      done(size > 0 ? { ok: true, text: Buffer.concat(chunks).toString('utf8'), truncated } : { ok: false, error: `${server}:${port} closed without an answer` });
    const sock = connect({ host: server, port });
    const timer = setTimeout(() => done({ ok: false, error: `no answer from ${server}:${port} within ${timeoutMs} ms` }), timeoutMs);
    // No half-close after the query: some servers treat it as the client going away.
    sock.on('connect', () => sock.write(`${address}\r\n`));
    sock.on('data', (chunk: Buffer) => {
      const room = WHOIS_MAX_BYTES - size;
      if (chunk.length >= room) {
        chunks.push(chunk.subarray(0, room));
        size = WHOIS_MAX_BYTES;
        truncated = true;
        finish();
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    });
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: `${server}:${port}: ${err.code ?? err.message}` }));
  });
}

/** The system client follows registry referrals, which a single direct query does not. */
export function runWhoisCommand(address: string, timeoutMs: number, command = 'whois'): Promise<WhoisResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      ['--', address],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: WHOIS_MAX_BYTES, encoding: 'buffer', windowsHide: true },
      (err, stdout) => {
        const out = Buffer.isBuffer(stdout) ? stdout : Buffer.alloc(0);
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; signal?: string | null }) | null;
        if (e && e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          resolve({ ok: true, text: out.subarray(0, WHOIS_MAX_BYTES).toString('utf8'), truncated: true });
        } else if (e && (e.killed || e.signal)) {
          resolve({ ok: false, error: `${command} gave no answer within ${timeoutMs} ms` });
        } else if (e && typeof e.code === 'string') {
          resolve({ ok: false, error: `${command}: ${e.code}` });
        } else if (out.length > 0) {
          // whois exits non-zero for "no match" yet prints something useful.
          resolve({ ok: true, text: out.toString('utf8'), truncated: false });
        } else {
          resolve({ ok: false, error: `${command} printed nothing${e ? ` (exit ${String(e.code)})` : ''}` });
        }
      },
    );
  });
}

/** Per-address cache: a botnet rebanned within hours costs one lookup, and concurrent asks share one. */
export class WhoisCache {
  private readonly entries = new Map<string, { at: number; result: Promise<WhoisResult> }>();

  constructor(
    opts: WhoisOptions,
    private readonly clock: Clock,
    private readonly lookup: (address: string) => Promise<WhoisResult> = (a) =>
      opts.server
        ? queryWhoisServer(a, opts.server, opts.port, opts.timeoutMs)
        : runWhoisCommand(a, opts.timeoutMs, opts.command),
  ) {}

  get(address: string): Promise<WhoisResult> {
    const now = this.clock.now();
    const hit = this.entries.get(address);
    if (hit && now - hit.at < CACHE_MS) return hit.result;
    if (hit) this.entries.delete(address);
    while (this.entries.size >= CACHE_MAX) this.entries.delete(this.entries.keys().next().value as string);
    // Resolves, never rejects, whatever the lookup does: a whois problem must never cost the mail.
    const result: Promise<WhoisResult> = Promise.resolve()
      .then(() => this.lookup(address))
      .catch((err: unknown): WhoisResult => ({ ok: false, error: err instanceof Error ? err.message : String(err) }))
      .then((r) => {
        // Failures are not worth remembering: the next ban may find the server back.
        if (!r.ok && this.entries.get(address)?.result === result) this.entries.delete(address);
        return r;
      });
    this.entries.set(address, { at: now, result });
    return result;
  }

  /** Only what is already known, without a query (used when shutting down). */
  peek(address: string): Promise<WhoisResult> | null {
    const hit = this.entries.get(address);
    return hit && this.clock.now() - hit.at < CACHE_MS ? hit.result : null;
  }
}
