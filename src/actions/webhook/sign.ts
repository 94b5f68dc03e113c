import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Asterisk-Ban-Signature';
export const TIMESTAMP_HEADER = 'X-Asterisk-Ban-Timestamp';

/**
 * Headers that let a receiver check a request is ours and fresh.
 *
 *   X-Asterisk-Ban-Timestamp: <unix seconds, decimal>
 *   X-Asterisk-Ban-Signature: sha256=<lower-case hex HMAC-SHA256>
 *
 * The HMAC is keyed with the `secret` parameter (its UTF-8 bytes) over the
 * timestamp header's text, a full stop, and the exact body bytes:
 * `<timestamp>.<body>`. Signing the timestamp with the body lets a receiver
 * refuse a replayed request older than a few minutes (the scheme of Slack's
 * and Stripe's webhooks). Receivers recompute it over the raw body, before
 * any JSON parsing, and compare in constant time.
 */
export function signatureHeaders(secret: string, body: Uint8Array, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `sha256=${mac}` };
}
