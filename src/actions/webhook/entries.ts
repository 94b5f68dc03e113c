import { printable } from '../../core/address.js';
import type { Alert } from '../../alerts/types.js';
import type { Ban } from '../../core/types.js';
import type { NotifyEntry } from '../notify/entry.js';

/**
 * What a webhook message tells about, and the wording every format shares.
 * Accounts, reasons, summaries and fact values are attacker-influenced:
 * they are capped here and escaped by each format's Markup.
 */
export type WebhookEntry = NotifyEntry;

/** Longest attacker-influenced field (account, reason, summary, fact value) in any format. */
export const FIELD_MAX = 200;
/** Entries a chat message lists; the rest are counted ("… and N more"). */
export const DETAIL_MAX = 50;
/** Facts per alert in any format. */
export const FACTS_MAX = 20;
const ACCOUNTS_MAX = 10;
/** A one-line entry names fewer accounts and facts than a structured one. */
const LINE_ACCOUNTS = 3;
const LINE_FACTS = 5;

/** Control characters shown as \xNN, so attacker text never starts a line of its own; cap() bounds it first. */
export function oneLine(s: string): string {
  return printable(s, s.length);
}

/** At most `max` characters, never ending in half a surrogate pair. */
export function cap(text: string, max = FIELD_MAX): string {
  const s = String(text);
  if (s.length <= max) return s;
  const cut = /[\uD800-\uDBFF]$/.test(s.slice(0, max)) ? max - 1 : max;
  return `${s.slice(0, cut)}…`;
}

// Ban.ip and Alert.address are parsed and canonical already; this only guarantees that nothing
// but address characters reaches a payload, whatever a caller passes (a re-parse costs ~100 µs).
const ADDRESS = /^[0-9A-Fa-f:.]{2,45}(\/\d{1,3})?$/;

export function safeAddress(ip: string): string {
  return ADDRESS.test(ip) ? ip : 'an unparsable address';
}

export function iso(ms: number | null): string | null {
  if (ms === null) return null;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** Distinct accounts the ban's failures named, capped. */
export function banAccounts(ban: Ban, max = ACCOUNTS_MAX): string[] {
  const seen = new Set<string>();
  for (const f of ban.failures) {
    if (seen.size >= max) break;
    if (f.account !== undefined) seen.add(cap(f.account));
  }
  return [...seen];
}

export function alertFacts(alert: Alert, max = FACTS_MAX): [string, string][] {
  return alert.facts.slice(0, max).map(([k, v]) => [cap(k, 40), cap(v)]);
}

/** Our own words: counts, rule names and a checked address. Still escaped by each format (the name is configuration). */
export function headline(entries: WebhookEntry[], name: string): string {
  if (entries.length === 1) {
    const e = entries[0]!;
    if (e.event === 'alert') return `asterisk-ban ${name}: ${e.alert.severity} alert, ${e.alert.rule}`;
    return `asterisk-ban ${name}: ${e.event === 'ban' ? 'banned' : 'unbanned'} ${safeAddress(e.ban.ip)}`;
  }
  let bans = 0;
  let unbans = 0;
  let alerts = 0;
  let high = 0;
  for (const e of entries) {
    if (e.event === 'alert') {
      alerts++;
      if (e.alert.severity === 'high') high++;
    } else if (e.event === 'ban') bans++;
    else unbans++;
  }
  const parts: string[] = [];
  if (bans > 0) parts.push(`${bans} banned`);
  if (unbans > 0) parts.push(`${unbans} unbanned`);
  if (alerts > 0) parts.push(`${alerts} alert${alerts === 1 ? '' : 's'}${high > 0 ? ` (${high} high)` : ''}`);
  return `asterisk-ban ${name}: ${parts.join(', ')}`;
}

export function hasHighAlert(entries: WebhookEntry[]): boolean {
  return entries.some((e) => e.event === 'alert' && e.alert.severity === 'high');
}

/** How a format escapes text; every piece of an entry line goes through one of these. */
export interface Markup {
  /** Attacker-influenced prose (summaries, reasons, jail names): escaped, formatting neutralised. */
  text(s: string): string;
  /** Attacker-influenced identifiers (addresses, accounts, fact values): escaped, set apart. */
  code(s: string): string;
  /** Our own words, emphasised where the format can. */
  strong(s: string): string;
}

/** One line for an entry; `facts: false` when the format shows them apart (Teams' FactSet). */
export function entryLine(e: WebhookEntry, m: Markup, opts: { facts: boolean } = { facts: true }): string {
  if (e.event === 'alert') {
    const a = e.alert;
    const facts = opts.facts ? alertFacts(a, LINE_FACTS).map(([k, v]) => `${m.text(k)} ${m.code(v)}`) : [];
    const about = a.address !== undefined ? ` [${m.code(safeAddress(a.address))}]` : '';
    return `${m.strong(`${a.severity} alert, ${a.rule}`)}${about}: ${m.text(cap(a.summary))}${facts.length > 0 ? ` (${facts.join(', ')})` : ''}`;
  }
  const b = e.ban;
  const where = `${m.code(safeAddress(b.ip))} in jail ${m.text(cap(b.jail, 80))}`;
  if (e.event === 'unban') return `${m.strong('unbanned')} ${where}`;
  const until = b.end === null ? 'permanently' : `until ${iso(b.end) ?? 'an unknown time'}`;
  const accounts = banAccounts(b, LINE_ACCOUNTS).map((a) => m.code(a));
  return `${m.strong('banned')} ${where}, ban #${b.count} ${until}: ${m.text(cap(b.reason))}${accounts.length > 0 ? `; accounts ${accounts.join(', ')}` : ''}`;
}

/**
 * Renders entries in order while they fit: at most DETAIL_MAX, and at most
 * `budget` by `size` (chat services refuse or cut long messages). `more`
 * counts the entries left out.
 */
export function fitEntries<T>(entries: WebhookEntry[], render: (e: WebhookEntry) => T, size: (t: T) => number, budget: number): { items: T[]; more: number } {
  const items: T[] = [];
  let used = 0;
  for (const e of entries) {
    if (items.length >= DETAIL_MAX) break;
    const item = render(e);
    const n = size(item);
    // The first entry always goes in (cut by the format if it must): a message about nothing helps no one.
    if (items.length > 0 && used + n > budget) break;
    items.push(item);
    used += n;
  }
  return { items, more: entries.length - items.length };
}

export function moreLine(more: number): string {
  return `… and ${more} more`;
}
