/** One request as composed; the sender adds the signature at send time (its timestamp is per attempt). */
export interface WebhookRequest {
  body: string;
  contentType: string;
  /** Format-specific headers (ntfy's Title, Priority, Tags): ASCII only. */
  headers: Record<string, string>;
}

export interface PayloadContext {
  /** The action's name (configuration text). */
  name: string;
  host: string;
}

/** The body of every format but ntfy. */
export function jsonRequest(value: unknown): WebhookRequest {
  return { body: JSON.stringify(value), contentType: 'application/json', headers: {} };
}
