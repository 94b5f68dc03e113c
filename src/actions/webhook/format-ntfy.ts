import { cap, entryLine, fitEntries, hasHighAlert, headline, moreLine, oneLine, type Markup, type WebhookEntry } from './entries.js';
import type { PayloadContext, WebhookRequest } from './request.js';

/** ntfy turns a body over 4,096 bytes into an attachment, or refuses it where attachments are off. */
const BODY_MAX_BYTES = 3_800;

export const plainMarkup: Markup = {
  text: oneLine,
  code: (s) => `"${oneLine(s)}"`,
  strong: (s) => s,
};

/** Header values must be bytes without line breaks; ASCII keeps every proxy and ntfy version happy. */
export function asciiHeader(s: string): string {
  return oneLine(cap(s, 200)).replace(/[^\x20-\x7e]/g, '?');
}

/** Whole characters only, at most `max` UTF-8 bytes. */
function cutBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  // encodeInto stops before a character that does not fit whole; room is left for the 3-byte ellipsis.
  const { read } = new TextEncoder().encodeInto(s, new Uint8Array(max - 3));
  return `${s.slice(0, read ?? 0)}…`;
}

// ntfy shows these tag names as emoji in front of the title.
function tags(entries: WebhookEntry[]): string {
  const out = new Set<string>();
  for (const e of entries) {
    if (e.event === 'alert') out.add(e.alert.severity === 'high' ? 'rotating_light' : 'warning');
    else out.add(e.event === 'ban' ? 'no_entry' : 'unlock');
  }
  return [...out].join(',');
}

/** A plain-text body with what ntfy reads from headers: Title, Priority (5 for a high alert, else 3), Tags. */
export function ntfyPayload(entries: WebhookEntry[], ctx: PayloadContext): WebhookRequest {
  const { items, more } = fitEntries(entries, (e) => entryLine(e, plainMarkup), (line) => Buffer.byteLength(line) + 1, BODY_MAX_BYTES);
  if (more > 0) items.push(moreLine(more));
  items.push(`asterisk-ban on ${oneLine(cap(ctx.host, 100))}`);
  return {
    body: cutBytes(items.join('\n'), BODY_MAX_BYTES),
    contentType: 'text/plain; charset=utf-8',
    headers: {
      Title: asciiHeader(headline(entries, ctx.name)),
      Priority: hasHighAlert(entries) ? '5' : '3',
      Tags: tags(entries),
    },
  };
}
