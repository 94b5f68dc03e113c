import { formatDuration } from '../core/duration.js';
import { printable } from '../core/address.js';
import type { Ban } from '../core/types.js';
import type { Login } from '../sources/types.js';
import type { Alert } from './types.js';
import type { RecentFailures } from './recent-failures.js';

/** Logins already alerted: address|account → when; an account re-registering every minute alerts once per findtime. */
const MAX_REMEMBERED = 10_000;

/**
 * compromise: a login from an address that failed at least `threshold`
 * times within findtime, or that is banned right now. Nothing is cleared or
 * unbanned because of it: the alert says what was seen.
 */
export class CompromiseRule {
  private readonly alerted = new Map<string, number>();

  constructor(private readonly recent: RecentFailures) {}

  check(jail: string, ip: string, login: Login, now: number, o: { threshold: number; findtimeMs: number; ban: Ban | undefined }): Alert | null {
    const seen = this.recent.of(ip, now);
    if (seen.count < o.threshold && o.ban === undefined) return null;
    const key = `${ip}|${login.account ?? ''}`;
    const last = this.alerted.get(key);
    if (last !== undefined && now - last < o.findtimeMs) return null;
    this.alerted.delete(key);
    if (this.alerted.size >= MAX_REMEMBERED) this.alerted.delete(this.alerted.keys().next().value as string);
    this.alerted.set(key, now);
    const who = login.account !== undefined ? `account "${printable(login.account, 80)}"` : 'an account';
    const count = `${seen.count}${seen.capped ? '+' : ''}`;
    const window = formatDuration(Math.round(o.findtimeMs / 1000));
    const parts = [`${who} logged in from ${ip}`];
    if (seen.count > 0) parts.push(`after ${count} failure(s) from that address in the last ${window}`);
    if (o.ban) parts.push(`${seen.count > 0 ? 'and ' : ''}while it is banned (${o.ban.ip}${o.ban.end === null ? ', permanent' : ` until ${new Date(o.ban.end).toISOString()}`})`);
    const facts: [string, string][] = [['failures', count], ['window', window]];
    if (seen.accounts.length > 0) facts.push(['accounts tried', seen.accounts.map((a) => `"${printable(a, 60)}"`).join(', ')]);
    if (login.service !== undefined) facts.push(['service', login.service]);
    facts.push(['banned', o.ban ? `${o.ban.ip} until ${o.ban.end === null ? 'never (permanent)' : new Date(o.ban.end).toISOString()}` : 'no']);
    const alert: Alert = { rule: 'compromise', severity: 'high', jail, time: now, summary: parts.join(' '), address: ip, facts };
    if (login.account !== undefined) alert.account = login.account;
    return alert;
  }
}
