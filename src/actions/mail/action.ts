import { access, constants } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { ActionDeps } from '../types.js';
import { notifyChannel, type NotifyChannel } from '../notify/channel.js';
import type { Invocation } from '../../settings/types.js';
import { composeDigest, composeLifecycle, whoisTargets, type ComposeContext, type MailEntry } from './compose.js';
import { parseMailOptions, type MailOptions, type MailVariant } from './options.js';
import { Outbox } from '../notify/digest-queue.js';
import { createSender, type MailSender, type OutgoingMail } from './transport.js';
import { WhoisCache, type WhoisResult } from './whois.js';

export { MAIL_PARAMS, type MailVariant } from './options.js';

/** Shutdown waits at most this long for the last mails. */
const STOP_DEADLINE_MS = 5_000;

export interface MailAction extends NotifyChannel {
  readonly options: MailOptions;
}

/** Seams for tests; the daemon passes none. */
export interface MailActionOverrides {
  sender?: MailSender;
  whoisLookup?: (address: string) => Promise<WhoisResult>;
  stopDeadlineMs?: number;
  /** Outbox bounds. */
  maxPending?: number;
  maxQueued?: number;
  maxPerMail?: number;
}

export function createMailAction(spec: Invocation, deps: ActionDeps, variant: MailVariant, over: MailActionOverrides = {}): MailAction {
  const options = parseMailOptions(spec, deps, variant);
  const logger = deps.logger.child({ jail: deps.jail.name, action: spec.name });
  const whois = new WhoisCache(
    { server: options.whoisServer, port: options.whoisPort, timeoutMs: options.whoisTimeoutMs },
    deps.clock,
    over.whoisLookup,
  );
  let sender: MailSender | null = over.sender ?? null;
  const getSender = (): MailSender =>
    (sender ??= createSender({
      transport: options.transport,
      to: options.to,
      from: options.from,
      fromName: options.fromName,
      password: deps.env.SMTP_PASSWORD ?? null,
    }));
  const ctx = (results: Map<string, WhoisResult>): ComposeContext => ({
    name: options.name,
    host: hostname(),
    lines: options.lines,
    whois: results,
  });

  const compose = async (entries: MailEntry[], flushing: boolean): Promise<OutgoingMail> => {
    const results = new Map<string, WhoisResult>();
    if (options.whois) {
      await Promise.all(
        whoisTargets(entries).map(async (ip) => {
          // A prefix is asked about by its first address: registries answer for the block holding it.
          const query = ip.replace(/\/\d+$/, '');
          // At shutdown only what is already known: a lookup could eat the whole deadline.
          const r = flushing ? whois.peek(query) : whois.get(query);
          if (r) results.set(ip, await r);
        }),
      );
      for (const [ip, r] of results) if (!r.ok) logger.info('mail: whois unavailable, mailing without it', { ip, error: r.error });
    }
    return composeDigest(entries, ctx(results));
  };

  // The sender is created lazily so that a mail-less run never spawns or connects.
  const newOutbox = (): Outbox<MailEntry, OutgoingMail> =>
    new Outbox<MailEntry, OutgoingMail>({
      clock: deps.clock,
      logger,
      sender: { send: (m) => getSender().send(m), close: () => sender?.close(), get describe() { return getSender().describe; } },
      digestMs: options.digestMs,
      compose,
      maxPending: over.maxPending,
      maxQueued: over.maxQueued,
      maxPerMail: over.maxPerMail,
    });
  const channel = notifyChannel({
    id: `${spec.name}[${options.name}]`,
    channel: 'mail',
    logger,
    events: options.events,
    notifyUnban: options.notifyUnban,
    newOutbox,
    stopDeadlineMs: over.stopDeadlineMs ?? STOP_DEADLINE_MS,
    async started(outbox) {
      if (options.transport.kind === 'sendmail') {
        const path = options.transport.path;
        // Not fatal (an MTA may be installed later) but said once, plainly, instead of a retry loop's warnings.
        await access(path, constants.X_OK).catch(() =>
          logger.warn(`mail: ${path} is missing or not executable; install an MTA or set transport=smtp://host:587 (or SMTP_URL)`),
        );
      }
      if (options.notifyStart) outbox.addMessage(composeLifecycle('started', ctx(new Map()), deps.clock.now()));
    },
    stopping(outbox) {
      if (options.notifyStart) outbox.addMessage(composeLifecycle('stopped', ctx(new Map()), deps.clock.now()));
    },
    closed() {
      sender?.close();
      sender = over.sender ?? null;
    },
  });
  return { ...channel, options };
}
