import { printable } from '../../core/address.js';
import { formatDuration } from '../../core/duration.js';
import type { Ban } from '../../core/types.js';
import type { WhoisResult } from './whois.js';
import type { Alert } from '../../alerts/types.js';
import type { NotifyEntry } from '../notify/entry.js';

/**
 * Pure mail composition. Everything from a Ban except the address (parsed
 * again here) is attacker-influenced text: it goes only into the body, one
 * escaped line at a time, never into a header.
 */
export type MailEntry = NotifyEntry;
type BanEntry = Extract<MailEntry, { ban: Ban }>;
type AlertEntry = Extract<MailEntry, { event: 'alert' }>;

const isBan = (e: MailEntry): e is BanEntry => e.event !== 'alert';
const isAlert = (e: MailEntry): e is AlertEntry => e.event === 'alert';
const ALERTS_DETAILED = 20;

export interface ComposeContext {
  name: string;
  host: string;
  /** Raw failure lines per ban; 0 = none. */
  lines: number;
  whois: Map<string, WhoisResult>;
}

export interface Composed {
  subject: string;
  text: string;
}

const DIGEST_DETAIL_MAX = 5;
const WHOIS_DIGEST_CHARS = 2_000;

// Ban.ip is already parsed and normalised by the ban manager; this only guarantees that
// nothing but address characters can reach a header (a full re-parse costs ~100 µs a line).
const ADDRESS_CHARS = /^[0-9A-Fa-f:.]{2,45}(\/\d{1,3})?$/;

/** The address as a header may carry it; anything else is replaced, never passed through. */
export function headerAddress(ip: string): string {
  return ADDRESS_CHARS.test(ip) ? ip : 'an unparsable address';
}

function iso(ms: number | null): string {
  if (ms === null) return 'never (permanent)';
  return Number.isFinite(ms) ? new Date(ms).toISOString() : 'unknown';
}

function accounts(ban: Ban, max = 10): string {
  const seen = new Set<string>();
  for (const f of ban.failures) if (f.account !== undefined && seen.size < max) seen.add(`"${printable(f.account, 60)}"`);
  return seen.size === 0 ? '-' : [...seen].join(', ');
}

function summary(entry: BanEntry): string[] {
  const b = entry.ban;
  const length = b.end === null ? 'permanent' : formatDuration(Math.max(0, Math.round((b.end - b.start) / 1000)));
  return [
    `  address:  ${headerAddress(b.ip)}`,
    `  jail:     ${printable(b.jail, 80)}`,
    `  event:    ${entry.event === 'ban' ? 'banned' : 'unbanned'}`,
    `  ban #:    ${b.count} for this address`,
    `  since:    ${iso(b.start)}`,
    `  until:    ${iso(b.end)}${b.end === null ? '' : ` (${length})`}`,
    `  reason:   ${printable(b.reason, 120)} (seen via ${printable(b.source, 20)})`,
    `  failures: ${b.failures.length}`,
    `  accounts: ${accounts(b)}`,
  ];
}

function rawLines(ban: Ban, max: number): string[] {
  if (max <= 0) return [];
  const fs = ban.failures.slice(-max);
  const out = [`Failures of ${headerAddress(ban.ip)} (last ${fs.length} of ${ban.failures.length}):`];
  for (const f of fs) out.push(`  ${iso(f.time)} ${printable(f.raw ?? `${f.reason}${f.account !== undefined ? ` account=${f.account}` : ''}`, 500)}`);
  return out;
}

function whoisBlock(ip: string, result: WhoisResult | undefined, maxChars: number): string[] {
  if (result === undefined) return [];
  const head = `Whois for ${headerAddress(ip)}:`;
  if (!result.ok) return [head, `  (not available: ${printable(result.error, 200)})`];
  const text = result.text.length > maxChars ? result.text.slice(0, maxChars) : result.text;
  const body = text
    .split(/\r?\n/)
    .map((l) => `  ${printable(l, 300)}`);
  if (result.truncated || text.length < result.text.length) body.push('  [... whois output cut short]');
  return [head, ...body];
}

function footer(ctx: ComposeContext): string[] {
  return ['', '-- ', `asterisk-ban on ${printable(ctx.host, 100)}`];
}

/** An alert's lines: the summary, then its facts, each escaped and capped. */
function alertLines(a: Alert): string[] {
  const lines = [`  ${a.severity.toUpperCase()} ${a.rule} at ${iso(a.time)}: ${printable(a.summary, 400)}`];
  if (a.address !== undefined) lines.push(`    address: ${headerAddress(a.address)}`);
  if (a.account !== undefined) lines.push(`    account: "${printable(a.account, 80)}"`);
  for (const [k, v] of a.facts.slice(0, 20)) lines.push(`    ${printable(k, 40)}: ${printable(v, 300)}`);
  return lines;
}

/** The subject names only what we wrote: rule, severity, the parsed address; never attacker text. */
function alertSubject(a: Alert, ctx: ComposeContext): string {
  return `[asterisk-ban] ${ctx.name}: ${a.severity === 'high' ? 'ALERT' : 'alert'} ${a.rule}${a.address !== undefined ? ` ${headerAddress(a.address)}` : ''}`;
}

export function composeSingle(entry: MailEntry, ctx: ComposeContext): Composed {
  if (isAlert(entry)) {
    const lines = [`asterisk-ban alert in jail ${printable(ctx.name, 80)}:`, '', ...alertLines(entry.alert), ...footer(ctx)];
    return { subject: alertSubject(entry.alert, ctx), text: lines.join('\n') + '\n' };
  }
  const ip = headerAddress(entry.ban.ip);
  const verb = entry.event === 'ban' ? 'banned' : 'unbanned';
  const lines = [
    `asterisk-ban ${verb} ${ip} in jail ${printable(ctx.name, 80)}.`,
    '',
    ...summary(entry),
  ];
  const raw = entry.event === 'ban' ? rawLines(entry.ban, ctx.lines) : [];
  if (raw.length > 0) lines.push('', ...raw);
  const who = whoisBlock(entry.ban.ip, ctx.whois.get(entry.ban.ip), Number.POSITIVE_INFINITY);
  if (who.length > 0) lines.push('', ...who);
  lines.push(...footer(ctx));
  return { subject: `[asterisk-ban] ${ctx.name}: ${verb} ${ip}`, text: lines.join('\n') + '\n' };
}

/** One mail for many bans: a line per address, details for the first few. */
export function composeDigest(entries: MailEntry[], ctx: ComposeContext): Composed {
  if (entries.length === 1) return composeSingle(entries[0]!, ctx);
  const bans = entries.filter(isBan).filter((e) => e.event === 'ban');
  const unbans = entries.filter(isBan).filter((e) => e.event === 'unban');
  const alerts = entries.filter(isAlert).map((e) => e.alert);
  const parts: string[] = [];
  if (alerts.length > 0) {
    const high = alerts.filter((a) => a.severity === 'high').length;
    parts.push(`${alerts.length} alert${alerts.length === 1 ? '' : 's'}${high > 0 ? ` (${high} high)` : ''}`);
  }
  if (bans.length > 0) parts.push(`${bans.length} banned`);
  if (unbans.length > 0) parts.push(`${unbans.length} unbanned`);
  const lines = [`asterisk-ban, jail ${printable(ctx.name, 80)}: ${parts.join(', ')} since the last mail.`];
  if (alerts.length > 0) {
    lines.push('', 'Alerts:');
    for (const a of alerts.slice(0, ALERTS_DETAILED)) lines.push(...alertLines(a));
    if (alerts.length > ALERTS_DETAILED) lines.push(`  ... and ${alerts.length - ALERTS_DETAILED} more (asterisk-ban alerts lists them all)`);
  }
  const table = (title: string, list: BanEntry[]): void => {
    if (list.length === 0) return;
    lines.push('', `${title}:`);
    for (const { ban: b } of list) {
      lines.push(
        `  ${headerAddress(b.ip).padEnd(39)} #${b.count} until ${iso(b.end)} reason ${printable(b.reason, 60)} accounts ${accounts(b, 3)}`,
      );
    }
  };
  table('Banned', bans);
  table('Unbanned', unbans);
  const detailed = bans.slice(0, DIGEST_DETAIL_MAX);
  if (detailed.length > 0) {
    lines.push('', `Details of the first ${detailed.length}:`);
    for (const e of detailed) {
      lines.push('', ...summary(e));
      const raw = rawLines(e.ban, Math.min(ctx.lines, 5));
      if (raw.length > 0) lines.push(...raw);
      const who = whoisBlock(e.ban.ip, ctx.whois.get(e.ban.ip), WHOIS_DIGEST_CHARS);
      if (who.length > 0) lines.push(...who);
    }
  }
  lines.push(...footer(ctx));
  return { subject: `[asterisk-ban] ${ctx.name}: ${parts.join(', ')}`, text: lines.join('\n') + '\n' };
}

/** Addresses a digest of these entries shows whois for (bounds lookups under a flood). */
export function whoisTargets(entries: MailEntry[]): string[] {
  const withBans = entries.filter(isBan);
  const bans = withBans.filter((e) => e.event === 'ban');
  const pick = bans.length === 1 || withBans.length === 1 ? withBans.slice(0, 1) : bans.slice(0, DIGEST_DETAIL_MAX);
  return [...new Set(pick.map((e) => e.ban.ip))];
}

export function composeLifecycle(event: 'started' | 'stopped', ctx: ComposeContext, now: number): Composed {
  return {
    subject: `[asterisk-ban] ${ctx.name}: jail ${event}`,
    text: [`asterisk-ban ${event} jail ${printable(ctx.name, 80)} at ${iso(now)}.`, ...footer(ctx)].join('\n') + '\n',
  };
}
