import { hostname } from 'node:os';
import type { BackoffOptions } from '../../core/backoff.js';
import type { Ban } from '../../core/types.js';
import type { Alert } from '../../alerts/types.js';
import type { Invocation } from '../../settings/types.js';
import type { Action, ActionDeps, BanOptions } from '../types.js';
import { Outbox, type MessageSender, type OutboxStats } from '../notify/digest-queue.js';
import type { WebhookEntry } from './entries.js';
import { parseWebhookOptions, type WebhookOptions } from './options.js';
import { buildPayload, type WebhookRequest } from './payload.js';
import { createWebhookSender } from './sender.js';

/** Shutdown waits at most this long for the last requests. */
const STOP_DEADLINE_MS = 5_000;
/** Retries start after 2 s and double; with the default 4 attempts a message is given up after about 14 s. */
const WEBHOOK_BACKOFF: BackoffOptions = { baseMs: 2_000, maxMs: 5 * 60_000, jitter: 0.2 };

export interface WebhookAction extends Action {
  readonly kind: 'notify';
  readonly options: WebhookOptions;
  alert(alerts: Alert[]): Promise<void>;
  /** Resolves once no delivery is in progress; for tests and the daemon's shutdown report. */
  settled(): Promise<void>;
  stats(): OutboxStats;
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
  const bans = options.events.has('bans');
  const alerts = options.events.has('alerts');

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
  let outbox = newOutbox();
  let started = false;
  let stopped = false;

  return {
    id,
    kind: 'notify',
    options,
    async start() {
      if (started && !stopped) return;
      if (stopped) {
        // Started again after stop() (a reload may reuse the action): the old outbox is closed for good.
        outbox = newOutbox();
        stopped = false;
      }
      started = true;
      logger.debug(`${id} to ${options.describe}: ${options.format}, ${[...options.events].join(' ')}${options.signed ? ', signed' : ''}`);
    },
    async check() {
      return false;
    },
    async ban(list: Ban[], opts: BanOptions) {
      // Restored bans were told about when they were made; a restart must not re-send thousands.
      if (!bans || opts.restored || stopped) return;
      outbox.add(list.map((ban) => ({ type: 'ban', ban })));
    },
    async unban(list: Ban[]) {
      if (!bans || !options.notifyUnban || stopped) return;
      outbox.add(list.map((ban) => ({ type: 'unban', ban })));
    },
    async alert(list: Alert[]) {
      if (!alerts || stopped) return;
      outbox.add(list.map((alert) => ({ type: 'alert', alert })));
    },
    async flush() {
      // Nothing of ours is held in the kernel; queued messages still go out at stop().
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const left = await outbox.close(over.stopDeadlineMs ?? STOP_DEADLINE_MS);
      sender.close();
      logger.debug('webhook: stopped', { ...left });
    },
    settled: () => outbox.settled(),
    stats: () => outbox.stats(),
  };
}
