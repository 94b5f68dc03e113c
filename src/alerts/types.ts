/**
 * What an alert rule found. Everything but `rule`, `severity`, `jail`,
 * `time` and `address` (parsed, canonical) may hold attacker-written text
 * (account names, SIP URIs): channels escape it for their format and cap
 * its length; `summary` is built with printable() so it holds no line break.
 */
export type AlertRule = 'compromise' | 'new_network' | 'wave' | 'health';
export type AlertSeverity = 'high' | 'warning' | 'info';

export const ALERT_RULES: readonly AlertRule[] = ['compromise', 'new_network', 'wave', 'health'];

export interface Alert {
  rule: AlertRule;
  severity: AlertSeverity;
  jail: string;
  /** ms epoch when the rule fired. */
  time: number;
  /** One line, e.g. `account "6001" logged in from 203.0.113.5 after 37 failures from it in the last 10m`. */
  summary: string;
  /** The address it is about, when there is one (parsed and canonical). */
  address?: string;
  /** The account it is about (attacker-influenced on failures). */
  account?: string;
  /** Further facts in display order, e.g. ['failures', '37']; values may be attacker text. */
  facts: [string, string][];
}

/** What a notify action carries: `events = bans alerts` (the default) picks them. */
export type NotifyEvent = 'bans' | 'alerts';
