import type { ActionFactory } from '../types.js';
import { createMailAction, MAIL_PARAMS, type MailVariant } from './action.js';

/**
 * The notify actions, under the names fail2ban users write in jail.conf.
 * `sendmail-*` and `mail-*` behave the same here: both go through nodemailer
 * (sendmail binary by default, or SMTP); the names differ only in what the
 * mail contains.
 */
const VARIANTS: Record<string, MailVariant> = {
  sendmail: { whois: false, lines: false },
  'sendmail-whois': { whois: true, lines: false },
  'sendmail-whois-lines': { whois: true, lines: true },
  'sendmail-buffered': { whois: false, lines: false },
  mail: { whois: false, lines: false },
  'mail-whois': { whois: true, lines: false },
  'mail-whois-lines': { whois: true, lines: true },
};

export const mailActions: Record<string, { factory: ActionFactory; params: readonly string[] }> = Object.fromEntries(
  Object.entries(VARIANTS).map(([name, variant]) => [
    name,
    { factory: ((spec, deps) => createMailAction(spec, deps, variant)) as ActionFactory, params: MAIL_PARAMS },
  ]),
);
