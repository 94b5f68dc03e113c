import { printable } from '../../core/address.js';
import type { Clock } from '../../core/clock.js';
import { AsteriskBanError } from '../../core/errors.js';
import { scrubSecret } from '../../core/scrub.js';
import type { MessageSender } from '../notify/digest-queue.js';
import type { WebhookEndpoint } from './options.js';
import type { WebhookRequest } from './request.js';
import { signatureHeaders } from './sign.js';

export interface WebhookSenderOptions {
  endpoint: WebhookEndpoint;
  /** One request, the answer's body included. */
  timeoutMs: number;
  /** The signature's timestamp. */
  clock: Clock;
}

/**
 * POSTs each message with Node's fetch. A non-2xx answer is a failure.
 * Every error names the destination as `<scheme>://<host>` only: the path
 * and query often are the credential (Slack, Teams, ntfy topics).
 */
export function createWebhookSender(opts: WebhookSenderOptions): MessageSender<WebhookRequest> {
  const { endpoint, timeoutMs, clock } = opts;
  const failure = (why: string): AsteriskBanError => {
    let text = `webhook to ${endpoint.describe} failed: ${why}`;
    for (const s of [...endpoint.redact].sort((a, b) => b.length - a.length)) text = scrubSecret(text, s);
    return new AsteriskBanError('E_ACTION', printable(text, 300));
  };

  return {
    describe: endpoint.describe,
    async send(request) {
      const body = Buffer.from(request.body, 'utf8');
      const headers: Record<string, string> = {
        ...request.headers,
        'Content-Type': request.contentType,
        'User-Agent': 'asterisk-ban',
      };
      if (endpoint.authorization !== null) headers.Authorization = endpoint.authorization;
      // Signed per attempt: a retry carries a fresh timestamp, so receivers can keep a short replay window.
      if (endpoint.secret !== null) Object.assign(headers, signatureHeaders(endpoint.secret, body, clock.now()));
      let status: number;
      try {
        const response = await fetch(endpoint.url, {
          method: 'POST',
          headers,
          body,
          // A redirect would carry the signed body to wherever the answer points.
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = response.status;
        // The answer's body is unused; cancelled, not read, so a huge one costs nothing.
        await response.body?.cancel().catch(() => {});
      } catch (err) {
        throw failure(reason(err, timeoutMs));
      }
      if (status >= 300 && status < 400) throw failure(`answered HTTP ${status} (a redirect); set url to the address it points to`);
      if (status < 200 || status >= 300) throw failure(`answered HTTP ${status}`);
    },
    close() {
      // fetch keeps no connection of ours open beyond its own idle pool.
    },
  };
}

/** Why fetch failed, from its error and cause codes; their text is scrubbed by the caller. */
function reason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = e.cause;
  if (cause && typeof cause.code === 'string') return `${cause.code}${typeof cause.message === 'string' ? ` (${cause.message})` : ''}`;
  if (cause && typeof cause.message === 'string') return cause.message;
  return typeof e.message === 'string' ? e.message : String(err);
}
