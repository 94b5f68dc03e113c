import type { FleetSettings } from './fleet-settings.js';
import type { AlertSettings } from './alert-settings.js';
import type { LogLevel } from '../core/logger.js';

/** A value with the place it was written, so errors can name file:line. */
export interface Located<T = string> {
  value: T;
  file: string;
  line: number;
}

/** asterisk-ban.conf [Definition] (+ .local, + environment). */
export interface DaemonSettings {
  socket: string;
  dbfile: string;
  loglevel: LogLevel;
  /** console | stdout | syslog | a file path */
  logtarget: string;
  logjson: boolean;
  /** `host:port` to serve Prometheus metrics on, or null when off. */
  metrics: { host: string; port: number } | null;
  /** Seconds of ban history kept (bantime increment looks back this far). */
  dbpurgeage: number;
  /** Asterisk's configuration directory, read for the peers it trusts (ignore_asterisk_peers). */
  asteriskConfig: string;
  /** `[Fleet]`: bans (and counts) shared through Redis; null without the section (Redis is never contacted). */
  fleet: FleetSettings | null;
}

/** `name[key=value, ...]` as written in `action =` or `filter =`. */
export interface Invocation {
  name: string;
  params: Record<string, string>;
  file: string;
  line: number;
}

export type Backend = 'ami' | 'log' | 'auto';
export type FleetMode = 'off' | 'bans' | 'counts';
export type VerifyMode = 'auto' | 'conntrack' | 'off';

export interface IncrementSettings {
  enabled: boolean;
  factor: number;
  /** fail2ban's formula text, when given (evaluated by src/bans/increment.ts). */
  formula: string | null;
  multipliers: number[];
  /** Seconds; -1 for no limit. */
  maxtime: number;
  /** Seconds of random jitter added to each ban. */
  rndtime: number;
  overalljails: boolean;
}

export interface AmiSettings {
  host: string;
  port: number;
  username: string;
  /** Never logged. */
  secret: string;
  /** Security event names that count as failures. */
  events: string[];
  /** Services this jail takes events from (SIP, PJSIP, IAX2, AMI); empty = all. */
  services: string[];
  /** A whole SuccessfulAuth frame from an address clears its failures. */
  successClears: boolean;
  /** Seconds within which a ChallengeSent must be followed by SuccessfulAuth; 0 = off. */
  challengeWindow: number;
  pingInterval: number;
  pingTimeout: number;
}

/** A filter.d definition after [INCLUDES], [Init] and interpolation. */
export interface FilterDefinition {
  name: string;
  file: string;
  failregex: Located[];
  ignoreregex: Located[];
  prefregex: Located | null;
  datepattern: Located | null;
  /** Other [Definition]/[Init] values, for tags like <F-USER> or custom substitutions. */
  vars: Record<string, string>;
  /**
   * asterisk-ban's injection-aware pairs ([Definition] openregex/closeregex,
   * one regex per line, the n-th closeregex completing the n-th openregex).
   * When absent, src/filter reads them from vars (without line numbers).
   */
  openregex?: Located[];
  closeregex?: Located[];
  /** Messages whose last field is the attacker's (asterisk-ban only; see config/filter.d/asterisk.conf). */
  tailregex?: Located[];
}

export interface JailSettings {
  name: string;
  /** Where the [name] section starts. */
  file: string;
  line: number;
  enabled: boolean;
  filter: Invocation | null;
  filterDef: FilterDefinition | null;
  /**
   * backend = auto: the filter the log is read with while AMI is connected,
   * limited to what AMI does not report (e.g. `asterisk[mode=gaps]`); null = none.
   */
  gapfilter: Invocation | null;
  gapFilterDef: FilterDefinition | null;
  logpath: Located[];
  backend: Backend;
  maxretry: number;
  /** Seconds. */
  findtime: number;
  /** Seconds; -1 permanent. */
  bantime: number;
  increment: IncrementSettings;
  /** Raw entries (addresses, CIDRs, hostnames), resolved by src/jail/ignore.ts. */
  ignoreip: string[];
  ignoreself: boolean;
  /** Never ban the peers Asterisk's own configuration trusts (trunks, identify matches). */
  ignoreAsteriskPeers: boolean;
  /** Seconds: an address with a successful AMI login this recently is not banned on log lines alone (0 = off). */
  ignoreRecentSuccess: number;
  /** IPv6 sources are counted and banned by this prefix length (128 = per address). */
  ipv6Prefix: number;
  /** Alert rules and their thresholds (src/alerts/). */
  alerts: AlertSettings;
  /** Fleet mode: off, bans shared, or bans and failure counts shared (needs [Fleet]). */
  fleet: FleetMode;
  /** Failures across the fleet that ban (default maxretry). */
  fleetMaxretry: number;
  actions: Invocation[];
  destemail: string;
  sender: string;
  verify: VerifyMode;
  ami: AmiSettings;
  /** Most addresses the failure counter tracks at once; the oldest is evicted beyond it. */
  maxtracked: number;
  /** On start, read back lines of the log written within findtime. */
  readback: boolean;
  /** All options after interpolation, for action parameters such as %(destemail)s. */
  options: Record<string, string>;
}

export interface Settings {
  dir: string;
  daemon: DaemonSettings;
  /** Enabled and disabled jails, in file order. */
  jails: JailSettings[];
  /** Values from .env and the process environment that we read. */
  env: Record<string, string>;
  /** Things accepted but worth telling the admin (`file:line: message`), for the daemon to log. */
  warnings?: string[];
}
