import type { ActionFactory } from '../types.js';
import { createWebhookAction } from './action.js';

/**
 * `webhook[url=..., format=json|slack|teams|mattermost|ntfy, secret=env:NAME]`:
 * bans, unbans and alerts as HTTP POSTs, collected into digests like mail.
 */
export const webhookFactory: ActionFactory = (spec, deps) => createWebhookAction(spec, deps);

export { WEBHOOK_PARAMS } from './options.js';
export { createWebhookAction, type WebhookAction, type WebhookActionOverrides } from './action.js';
export { SIGNATURE_HEADER, TIMESTAMP_HEADER } from './sign.js';
