import { hostname } from 'node:os';
import type { BackoffOptions } from '../../core/backoff.js';
import type { Invocation } from '../../settings/types.js';
import type { ActionDeps } from '../types.js';
import { Outbox, type MessageSender } from '../notify/digest-queue.js';
import { notifyChannel, type NotifyChannel } from '../notify/channel.js';
import type { WebhookEntry } from './entries.js';
import { parseWebhookOptions, type WebhookOptions } from './options.js';
import { buildPayload, type WebhookRequest } from './payload.js';
import { createWebhookSender } from './sender.js';

/** Shutdown waits at most this long for the last requests. */
const STOP_DEADLINE_MS = 5_000;
/** Retries start after 2 s and double; with the default 4 attempts a message is given up after about 14 s. */
const WEBHOOK_BACKOFF: BackoffOptions = { baseMs: 2_000, maxMs: 5 * 60_000, jitter: 0.2 };

export interface WebhookAction extends NotifyChannel {
  readonly options: WebhookOptions;
}

/** Seams for tests; the daemon passes none. */
export interface WebhookActionOverrides {
  sender?: MessageSender<WebhookRequest>;
  backoff?: BackoffOptions;
  random?: () => number;
  stopDeadlineMs?: number;
  host?: string;
  /** Outbox bounds. */
  maxPending?: number;
  maxQueued?: number;
  maxPerMessage?: number;
}

export function createWebhookAction(spec: Invocation, deps: ActionDeps, over: WebhookActionOverrides = {}): WebhookAction {
  const { options, endpoint } = parseWebhookOptions(spec, deps);
  const id = `${spec.name}[${options.name}]`;
  // The destination as logs may show it: scheme and host, never the token-bearing path.
  const logger = deps.logger.child({ jail: deps.jail.name, action: id, to: options.describe });
  const sender = over.sender ?? createWebhookSender({ endpoint, timeoutMs: options.timeoutMs, clock: deps.clock });
  const ctx = { name: options.name, host: over.host ?? hostname() };

  const newOutbox = (): Outbox<WebhookEntry, WebhookRequest> =>
    new Outbox<WebhookEntry, WebhookRequest>({
      clock: deps.clock,
      logger,
      sender,
      channel: 'webhook',
      digestMs: options.digestMs,
      compose: async (entries) => buildPayload(options.format, entries, ctx),
      maxAttempts: options.maxAttempts,
      backoff: over.backoff ?? WEBHOOK_BACKOFF,
      random: over.random,
      maxPending: over.maxPending,
      maxQueued: over.maxQueued,
      maxPerMail: over.maxPerMessage,
    });
  const channel = notifyChannel({
    id,
    channel: 'webhook',
    logger,
    events: options.events,
    notifyUnban: options.notifyUnban,
    newOutbox,
    stopDeadlineMs: over.stopDeadlineMs ?? STOP_DEADLINE_MS,
    started: async () => void logger.debug(`${id} to ${options.describe}: ${options.format}, ${[...options.events].join(' ')}${options.signed ? ', signed' : ''}`),
    closed: () => sender.close(),
  });
  return { ...channel, options };
}
