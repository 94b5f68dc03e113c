import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric the daemon exports, in one registry. Stages increment these
 * directly; the HTTP endpoint (when enabled) only reads them.
 */
export const registry = new Registry();

let currentlyFailedNow: () => Iterable<[string, number]> = () => [];

/** Where asterisk_ban_currently_failed reads its values at each scrape (the daemon's jails). */
export function setCurrentlyFailedSource(fn: () => Iterable<[string, number]>): void {
  currentlyFailedNow = fn;
}

/** Every per-jail series at 0 from the start, so a dashboard sees the jail before its first event. */
export function touchJailSeries(jail: string): void {
  for (const c of [metrics.bans, metrics.unbans, metrics.verifyRefused, metrics.logAmbiguous, metrics.ignored, metrics.asteriskDiscarded]) c.inc({ jail }, 0);
  for (const kind of ['too_old', 'future']) metrics.logDates.inc({ jail, kind }, 0);
  metrics.banned.inc({ jail }, 0);
}

export const metrics = {
  failures: new Counter({ name: 'asterisk_ban_failures_total', help: 'Failures counted', labelNames: ['jail', 'source', 'event'], registers: [registry] }),
  bans: new Counter({ name: 'asterisk_ban_bans_total', help: 'Bans applied', labelNames: ['jail'], registers: [registry] }),
  unbans: new Counter({ name: 'asterisk_ban_unbans_total', help: 'Bans lifted', labelNames: ['jail'], registers: [registry] }),
  banned: new Gauge({ name: 'asterisk_ban_banned', help: 'Addresses currently banned', labelNames: ['jail'], registers: [registry] }),
  verifyRefused: new Counter({ name: 'asterisk_ban_verify_refused_total', help: 'Bans refused because the address never sent packets here', labelNames: ['jail'], registers: [registry] }),
  amiConnected: new Gauge({ name: 'asterisk_ban_ami_connected', help: '1 while the AMI session is ready', labelNames: ['jail'], registers: [registry] }),
  amiReconnects: new Counter({ name: 'asterisk_ban_ami_reconnects_total', help: 'AMI reconnect attempts', labelNames: ['jail'], registers: [registry] }),
  amiTampered: new Counter({ name: 'asterisk_ban_ami_tampered_total', help: 'AMI frames with injected or missing headers', labelNames: ['jail'], registers: [registry] }),
  amiDropped: new Counter({ name: 'asterisk_ban_ami_dropped_total', help: 'AMI frames dropped as malformed', labelNames: ['jail'], registers: [registry] }),
  logLines: new Counter({ name: 'asterisk_ban_log_lines_total', help: 'Log lines read', labelNames: ['jail'], registers: [registry] }),
  logMatched: new Counter({ name: 'asterisk_ban_log_matched_total', help: 'Log lines matched by failregex', labelNames: ['jail'], registers: [registry] }),
  logInjected: new Counter({ name: 'asterisk_ban_log_injected_total', help: 'Log lines recognised as attacker-injected', labelNames: ['jail'], registers: [registry] }),
  logDates: new Counter({ name: 'asterisk_ban_log_dates_total', help: 'Failures whose date was not taken: too_old (before findtime, ignored) or future (counted as now)', labelNames: ['jail', 'kind'], registers: [registry] }),
  asteriskDiscarded: new Counter({
    name: 'asterisk_ban_asterisk_log_discarded_total',
    help: "Messages Asterisk's logger says it discarded (queue over logger_queue_limit): failures in them are invisible to log mode",
    labelNames: ['jail'],
    registers: [registry],
  }),
  verifyLookups: new Counter({ name: 'asterisk_ban_verify_lookups_total', help: 'Addresses verified: via=stream from the conntrack event record, via=conntrack by a conntrack query', labelNames: ['via'], registers: [registry] }),
  conntrackStreamUp: new Gauge({ name: 'asterisk_ban_conntrack_stream_up', help: '1 while the conntrack event stream (verification) runs', registers: [registry] }),
  conntrackEventsLost: new Counter({ name: 'asterisk_ban_conntrack_events_lost_total', help: 'Times the conntrack event stream reported lost events (ENOBUFS)', registers: [registry] }),
  nftBatches: new Counter({ name: 'asterisk_ban_nft_batches_total', help: 'Changes made to nftables tables, by the way they went: netlink (from this process), session (the running nft -i), process (one nft per batch)', labelNames: ['action', 'path'], registers: [registry] }),
  nftSessionLost: new Counter({ name: 'asterisk_ban_nft_session_lost_total', help: 'Times a running nft -i died or stopped answering (its batch ran one-shot)', labelNames: ['action'], registers: [registry] }),
  ipsetBatches: new Counter({ name: 'asterisk_ban_ipset_batches_total', help: 'Changes made to ipset sets, by the way they went: session (the running ipset -), process (one ipset restore per batch)', labelNames: ['action', 'path'], registers: [registry] }),
  ipsetSessionLost: new Counter({ name: 'asterisk_ban_ipset_session_lost_total', help: 'Times a running ipset - died or stopped answering (its batch ran one-shot)', labelNames: ['action'], registers: [registry] }),
  asteriskOverflows: new Counter({ name: 'asterisk_ban_asterisk_log_overflows_total', help: "Times Asterisk's logger said it started discarding messages", labelNames: ['jail'], registers: [registry] }),
  logAmbiguous: new Counter({ name: 'asterisk_ban_log_ambiguous_total', help: 'Log messages naming several candidate addresses (an injection), counted for none', labelNames: ['jail'], registers: [registry] }),
  logSuspect: new Counter({
    name: 'asterisk_ban_log_suspect_total',
    help: 'Suspect log lines (they came with an injectable message and name another address), by outcome: counted (verified), refused, unverified (verification off)',
    labelNames: ['jail', 'outcome'],
    registers: [registry],
  }),
  stateUnsaved: new Gauge({ name: 'asterisk_ban_state_unsaved_changes', help: 'Ban changes enforced but not yet written to the state database (a full disk); a restart would not know them', registers: [registry] }),
  stateUnsavedSince: new Gauge({ name: 'asterisk_ban_state_unsaved_since_seconds', help: 'Unix time since when the state database refuses writes; 0 while every change is written', registers: [registry] }),
  alerts: new Counter({ name: 'asterisk_ban_alerts_total', help: 'Alerts raised (compromise, new_network, wave, health), by severity', labelNames: ['jail', 'rule', 'severity'], registers: [registry] }),
  fleetConnected: new Gauge({ name: 'asterisk_ban_fleet_connected', help: '1 while this node is connected to the fleet\'s Redis and has joined', registers: [registry] }),
  fleetRemote: new Counter({ name: 'asterisk_ban_fleet_remote_total', help: 'Bans and unbans from other fleet nodes, by origin node and outcome: applied, extended (held longer there), kept (already banned), ignored (own ignore list), capped (per-node limit), invalid', labelNames: ['op', 'outcome', 'node'], registers: [registry] }),
  fleetPropagation: new Histogram({
    name: 'asterisk_ban_fleet_propagation_seconds',
    help: "From a ban's publication on its origin node (origin clock) to its application here",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [registry],
  }),
  fleetCounted: new Counter({ name: 'asterisk_ban_fleet_counted_total', help: 'Failures sent to the fleet-wide count (fleet = counts), by outcome: counted, dropped (Redis away or too many waiting), unseen (verification: the address never sent packets here)', labelNames: ['outcome'], registers: [registry] }),
  fleetTripped: new Counter({ name: 'asterisk_ban_fleet_tripped_total', help: 'Bans this node\'s failure made on the fleet-wide count', registers: [registry] }),
  fleetOutbox: new Gauge({ name: 'asterisk_ban_fleet_outbox', help: 'Bans and unbans of this node waiting for Redis', registers: [registry] }),
  actionErrors: new Counter({ name: 'asterisk_ban_action_errors_total', help: 'Action calls that failed', labelNames: ['jail', 'action'], registers: [registry] }),
  controlRequests: new Counter({ name: 'asterisk_ban_control_requests_total', help: 'Control socket requests, by command (or "invalid") and outcome', labelNames: ['cmd', 'outcome'], registers: [registry] }),
  currentlyFailed: new Gauge({
    name: 'asterisk_ban_currently_failed',
    help: 'Addresses with failures counted within findtime, not banned yet',
    labelNames: ['jail'],
    registers: [registry],
    collect() {
      for (const [jail, n] of currentlyFailedNow()) this.set({ jail }, n);
    },
  }),
  ignored: new Counter({ name: 'asterisk_ban_ignored_total', help: 'Failures dropped because the address is in ignoreip', labelNames: ['jail'], registers: [registry] }),
  info: new Gauge({ name: 'asterisk_ban_info', help: 'Always 1; the version label says which asterisk-ban runs', labelNames: ['version'], registers: [registry] }),
  banLatency: new Histogram({
    name: 'asterisk_ban_event_to_ban_seconds',
    help: 'From the failure that crossed maxretry to the action call',
    labelNames: ['jail'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  }),
};
