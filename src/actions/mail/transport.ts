import nodemailer from 'nodemailer';
import { AsteriskBanError } from '../../core/errors.js';
import { scrubSecret } from '../../core/scrub.js';
import { spawnRunner } from '../exec.js';
import type { TransportSpec } from './options.js';
import type { MessageSender } from '../notify/digest-queue.js';

export interface OutgoingMail {
  subject: string;
  text: string;
}

/** What the outbox needs from a transport; tests may hand in their own. Its errors are AsteriskBanErrors (E_ACTION). */
export type MailSender = MessageSender<OutgoingMail>;

export interface SenderOptions {
  transport: TransportSpec;
  to: string[];
  from: string;
  fromName: string;
  /** SMTP_PASSWORD, used only with an SMTP URL that names a user. */
  password?: string | null;
  /** Upper bound for one delivery attempt; sendmail has none of its own. */
  timeoutMs?: number;
}

export function createSender(opts: SenderOptions): MailSender {
  const t = opts.transport;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  // For sendmail, nodemailer only composes the message: the binary runs
  // through spawnRunner, whose timeout kills it and what it started.
  const transporter: nodemailer.Transporter =
    t.kind === 'sendmail'
      ? nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
      : nodemailer.createTransport({
          host: t.host,
          port: t.port,
          secure: t.secure,
          requireTLS: t.starttls === 'required',
          ignoreTLS: t.starttls === 'off',
          tls: { rejectUnauthorized: t.verify },
          auth: t.user !== null ? { user: t.user, pass: opts.password ?? '' } : undefined,
          connectionTimeout: Math.min(timeoutMs, 15_000),
          greetingTimeout: Math.min(timeoutMs, 15_000),
          socketTimeout: timeoutMs,
          logger: false,
          debug: false,
        });
  const secret = t.kind === 'smtp' ? (opts.password ?? null) : null;
  const user = t.kind === 'smtp' ? t.user : null;
  const describe = t.kind === 'sendmail' ? `sendmail ${t.path}` : t.text;
  // sendmail delivers a bare local name (the seed's dest=root) through the
  // MTA's aliases; SMTP needs a domain, and the relay's own is `localhost`.
  const to = t.kind === 'smtp' ? opts.to.map((a) => (a.includes('@') ? a : `${a}@localhost`)) : opts.to;

  return {
    describe,
    async send(mail) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const sent = Promise.race([
          transporter.sendMail({
            from: { name: opts.fromName, address: opts.from },
            to,
            // Explicit, because nodemailer drops a bare local name such as the seed's dest=root
            // from the derived envelope (the To header still omits it; the MTA delivers it).
            envelope: { from: opts.from, to },
            subject: mail.subject,
            text: mail.text,
            headers: { 'Auto-Submitted': 'auto-generated', 'X-Mailer': 'asterisk-ban' },
          }),
          deadline,
        ]);
        const info = (await sent) as { message?: Buffer };
        if (t.kind === 'sendmail') {
          clearTimeout(timer);
          await spawnRunner(t.path, ['-i', '-f', opts.from, ...to], { input: (info.message ?? Buffer.alloc(0)).toString('utf8'), timeoutMs });
        }
      } catch (err) {
        const e = err as { code?: unknown; responseCode?: unknown; message?: unknown };
        const parts = [typeof e.message === 'string' ? e.message : String(err)];
        if (typeof e.code === 'string') parts.unshift(e.code);
        if (e.code === 'EAUTH') parts.push('check the user in the SMTP URL and SMTP_PASSWORD');
        // Deliberately no `cause`: nodemailer errors carry the command sent, which may hold the AUTH token.
        throw new AsteriskBanError('E_ACTION', scrubSecret(`mail via ${describe} failed: ${parts.join(': ')}`, secret, user).slice(0, 500));
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      transporter.close();
    },
  };
}
