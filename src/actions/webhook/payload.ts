import type { WebhookEntry } from './entries.js';
import { jsonPayload } from './format-json.js';
import { mattermostPayload, slackPayload } from './format-chat.js';
import { teamsPayload } from './format-teams.js';
import { ntfyPayload } from './format-ntfy.js';
import type { PayloadContext, WebhookRequest } from './request.js';

export type { PayloadContext, WebhookRequest } from './request.js';

export const WEBHOOK_FORMATS = ['json', 'slack', 'teams', 'mattermost', 'ntfy'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

const BUILDERS: Record<WebhookFormat, (entries: WebhookEntry[], ctx: PayloadContext) => WebhookRequest> = {
  json: jsonPayload,
  slack: slackPayload,
  mattermost: mattermostPayload,
  teams: teamsPayload,
  ntfy: ntfyPayload,
};

/** One message for a digest's entries (bans, unbans and alerts in arrival order). Pure; never throws on entry content. */
export function buildPayload(format: WebhookFormat, entries: WebhookEntry[], ctx: PayloadContext): WebhookRequest {
  return BUILDERS[format](entries, ctx);
}
