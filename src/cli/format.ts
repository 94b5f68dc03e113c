import { printable } from '../core/address.js';
import { formatDuration } from '../core/duration.js';
import type { AlertView, BanView, JailStatus } from '../control/api.js';

/**
 * Human and JSON renderings of what the daemon answers. Reasons, account names
 * and source details can carry attacker text, so everything printed for humans
 * goes through safe() (no terminal escapes), and JSON output escapes the C1
 * controls JSON.stringify leaves raw.
 */

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** `2026-11-27 12:00:00` in local time, as fail2ban prints it. */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function isoTime(iso: string | null | undefined, none: string): string {
  if (iso === null || iso === undefined) return none;
  return formatTime(Date.parse(iso));
}

function safe(v: unknown, max = 200): string {
  return printable(typeof v === 'string' ? v : String(v ?? ''), max);
}

export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

/** BanView's fields in contract order, whatever else the daemon may send. */
export function banJson(b: BanView): string {
  const o: Record<string, unknown> = { jail: b.jail, ip: b.ip, since: b.since, until: b.until, count: b.count, source: b.source, reason: b.reason };
  if (b.existing) o.existing = true;
  if (b.node !== undefined) o.node = b.node;
  if (b.persisted === false) o.persisted = false;
  return jsonLine(o);
}

/** JailStatus's fields in contract order. */
export function jailJson(j: JailStatus): string {
  return jsonLine({
    jail: j.jail, enabled: j.enabled, backend: j.backend, currentlyFailed: j.currentlyFailed, totalFailed: j.totalFailed,
    currentlyBanned: j.currentlyBanned, totalBanned: j.totalBanned, refusedByVerify: j.refusedByVerify,
    banned: j.banned, failing: j.failing ?? [], sources: j.sources, actions: j.actions,
    tooOld: j.tooOld ?? 0, futureDated: j.futureDated ?? 0, notPersistedSince: j.notPersistedSince ?? null, unsavedChanges: j.unsavedChanges ?? 0,
    trustedPeers: j.trustedPeers ?? [], recentSuccess: j.recentSuccess ?? 0,
    asteriskLogDiscarded: j.asteriskLogDiscarded ?? 0, asteriskLogDiscardingSince: j.asteriskLogDiscardingSince ?? null,
    alertRules: j.alertRules ?? [], alerts: j.alerts ?? [],
  });
}

/** AlertView's fields in contract order. */
export function alertJson(a: AlertView): string {
  const o: Record<string, unknown> = { id: a.id, time: a.time, jail: a.jail, rule: a.rule, severity: a.severity, summary: a.summary };
  if (a.address !== undefined) o.address = a.address;
  if (a.account !== undefined) o.account = a.account;
  o.facts = a.facts ?? {};
  return jsonLine(o);
}

/** One block per alert: time, severity, rule, jail, the summary, then its facts. */
export function formatAlerts(alerts: AlertView[]): string {
  if (alerts.length === 0) return 'No alerts.\n';
  const out: string[] = [];
  for (const a of alerts) {
    out.push(`${isoTime(a.time, '?')}  ${safe(a.severity, 10).toUpperCase().padEnd(7)} ${safe(a.rule, 20).padEnd(11)} [${safe(a.jail, 64)}] ${safe(a.summary, 400)}`);
    for (const [k, v] of Object.entries(a.facts ?? {})) out.push(`    ${safe(k, 40)}: ${safe(v, 300)}`);
  }
  return `${out.join('\n')}\n`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  // A loop, not Math.max(...rows): spreading a million rows overflows the stack.
  const widths = header.map((h) => h.length);
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? '').length);
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function formatStatus(jails: JailStatus[]): string {
  if (jails.length === 0) return 'No jails configured.\n';
  return jails.map(formatJail).join('\n');
}

function formatJail(j: JailStatus): string {
  const out: string[] = [];
  out.push(`Jail ${safe(j.jail)} (${j.enabled ? 'enabled' : 'disabled'}, backend ${safe(j.backend)})`);
  const row = (label: string, value: string): void => {
    out.push(`  ${label.padEnd(19)}${value}`);
  };
  row('currently failed:', String(j.currentlyFailed));
  row('total failed:', String(j.totalFailed));
  row('currently banned:', String(j.currentlyBanned));
  row('total banned:', String(j.totalBanned));
  row('refused by verify:', String(j.refusedByVerify));
  if (j.tooOld) row('too old:', `${j.tooOld} (dated before findtime, ignored)`);
  if (j.futureDated) row('future-dated:', `${j.futureDated} (counted as now)`);
  if (j.notPersistedSince) row('state:', `NOT PERSISTED since ${formatTime(Date.parse(j.notPersistedSince))}: ${j.unsavedChanges} ban change(s) in memory only (state database not writable)`);
  if (j.asteriskLogDiscardingSince) row('Asterisk log:', `DISCARDING messages since ${formatTime(Date.parse(j.asteriskLogDiscardingSince))} (its logger queue is full): attacks in them are not seen; AMI is not affected`);
  if (j.asteriskLogDiscarded) row('Asterisk dropped:', `${j.asteriskLogDiscarded} log message(s) (logger queue full): attacks in them were not seen`);
  row('banned:', j.banned.length ? j.banned.map((ip) => safe(ip, 64)).join(' ') : '-');
  const failing = j.failing ?? [];
  row('failing now:', failing.length ? failing.map((f) => `${safe(f.ip, 64)} (${f.count})`).join(' ') : '-');
  const alerts = j.alerts ?? [];
  if (j.alertRules) row('alerts:', `${j.alertRules.length ? j.alertRules.map((r) => safe(r, 20)).join(' ') : 'off'}${alerts.length ? `; raised: ${alerts.map((x) => `${x.count} ${safe(x.rule, 20)} (${safe(x.severity, 10)})`).join(', ')}` : ''}`);
  if (j.recentSuccess) row('recent success:', `${j.recentSuccess} log failure(s) not counted (the address had logged in over AMI)`);
  const peers = j.trustedPeers ?? [];
  if (peers.length) {
    out.push(`  Asterisk peers:    ${peers.length} never banned (ignore_asterisk_peers)`);
    for (const p of peers) out.push(`    ${safe(p, 200)}`);
  }
  if (j.fleet && j.fleet.mode !== 'off') {
    const from = Object.entries(j.fleet.fromNodes ?? {}).map(([n, c]) => `${safe(n, 64)} ${c}`).join(', ');
    const link = j.fleet.state === null ? 'not running' : j.fleet.state === 'connected' ? `connected since ${isoTime(j.fleet.since, '?')}` : `${safe(j.fleet.state, 20).toUpperCase()}${j.fleet.since ? ` since ${isoTime(j.fleet.since, '?')}` : ''}: banning locally, changes kept for Redis`;
    row('fleet:', `${safe(j.fleet.mode, 10)}; ${link}; bans here from other nodes: ${from || '-'}`);
  }
  row('actions:', j.actions.length ? j.actions.map((a) => safe(a)).join(', ') : '-');
  if (j.sources.length === 0) {
    row('sources:', '-');
  } else {
    out.push('  sources:');
    for (const s of j.sources) {
      out.push(`    ${safe(s.name)}: ${safe(s.state)} since ${formatTime(s.since)}${s.detail ? ` (${safe(s.detail)})` : ''}`);
    }
  }
  return out.join('\n') + '\n';
}

export function formatBans(bans: BanView[]): string {
  if (bans.length === 0) return 'No active bans.\n';
  return table(
    ['ADDRESS', 'JAIL', 'SINCE', 'UNTIL', 'COUNT', 'REASON'],
    bans.map((b) => [safe(b.ip, 64), safe(b.jail), isoTime(b.since, '?'), isoTime(b.until, 'permanent'), String(b.count), `${safe(b.reason, 80)}${b.node !== undefined ? ` (from node ${safe(b.node, 64)})` : ''}`]),
  );
}

/** `fleet status`: the connection, the nodes seen, the outbox. */
export function formatFleet(f: Record<string, unknown>): string {
  const nodes = Array.isArray(f.nodes) ? (f.nodes as { node: string; heartbeatAgeSeconds: number }[]) : [];
  const lines = [
    `Fleet node ${safe(f.node, 64)}: ${safe(f.state, 20)}${f.connectedSince ? ` since ${isoTime(String(f.connectedSince), '?')}` : ''}${f.disconnectedSince ? `, disconnected since ${isoTime(String(f.disconnectedSince), '?')}` : ''}`,
    `  engine:          ${safe(f.engine, 200)}`,
    `  nodes seen:      ${nodes.length ? nodes.map((n) => `${safe(n.node, 64)} (${n.heartbeatAgeSeconds}s ago)`).join(', ') : '-'}`,
    `  stream lag:      ${f.streamLag === null || f.streamLag === undefined ? '-' : `${safe(f.streamLag, 20)} ms`}`,
    `  outbox:          ${safe(f.outbox, 20)} change(s) waiting for Redis`,
    `  remote bans:     ${safe(f.remoteApplied, 20)} applied, ${safe(f.remoteRefused, 20)} refused or skipped`,
  ];
  const c = f.counted as { sent?: unknown; dropped?: unknown; tripped?: unknown } | undefined;
  if (c && typeof c === 'object') lines.push(`  shared counts:   ${safe(c.sent, 20)} failure(s) counted, ${safe(c.dropped, 20)} counted here only, ${safe(c.tripped, 20)} ban(s) tripped here`);
  return `${lines.join('\n')}\n`;
}

export function formatBanned(b: BanView): string {
  if (b.existing) return `${safe(b.ip, 64)} is already banned in ${safe(b.jail)} until ${isoTime(b.until, 'never (permanent)')}.\n`;
  const unsaved = b.persisted === false ? '\nNot persisted: the state database cannot be written (disk full?); the ban is enforced, but a restart before it is written would lose it.' : '';
  return `Banned ${safe(b.ip, 64)} in ${safe(b.jail)} until ${isoTime(b.until, 'never (permanent)')} (ban #${b.count}).${unsaved}\n`;
}

export function formatUnbanned(bans: BanView[]): string {
  if (bans.length === 0) return 'Nothing to unban.\n';
  return bans.map((b) => `Unbanned ${safe(b.ip, 64)} from ${safe(b.jail)}.\n`).join('');
}

export function formatReload(r: { reloaded: string[]; stopped: string[]; started: string[] }): string {
  const part = (label: string, names: string[]): string => `${label}: ${names.length ? names.map((n) => safe(n)).join(', ') : '-'}`;
  return `${part('reloaded', r.reloaded)}; ${part('started', r.started)}; ${part('stopped', r.stopped)}\n`;
}

export function formatVersion(client: string, daemon: { version: string; pid: number; uptime: number } | null): string {
  const first = `asterisk-ban ${client}\n`;
  if (!daemon) return `${first}daemon: not running\n`;
  return `${first}daemon: ${safe(daemon.version)}, pid ${daemon.pid}, up ${formatDuration(daemon.uptime)}\n`;
}
