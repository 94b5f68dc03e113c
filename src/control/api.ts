import type { SourceStatus } from '../sources/types.js';

/** What the control socket can ask of the running daemon; the daemon implements it. */
export interface BanView {
  jail: string;
  ip: string;
  /** ISO 8601 */
  since: string;
  /** ISO 8601, or null when permanent */
  until: string | null;
  count: number;
  source: string;
  reason: string;
  /** Answering a ban: the address was banned already (this is that ban). */
  existing?: true;
  /** Fleet mode: the node this ban came from (absent: made on this node). */
  node?: string;
  /** Enforced, but not written to the state database (a full disk): a restart would not know it. */
  persisted?: false;
}

export interface JailStatus {
  jail: string;
  enabled: boolean;
  backend: string;
  currentlyFailed: number;
  totalFailed: number;
  currentlyBanned: number;
  totalBanned: number;
  refusedByVerify: number;
  banned: string[];
  /** Addresses failing now, most failures first (at most 50). */
  failing: { ip: string; count: number }[];
  sources: SourceStatus[];
  actions: string[];
  /** Failures dated before findtime, ignored. */
  tooOld: number;
  /** Failures dated after now, counted as now. */
  futureDated: number;
  /** ISO 8601: since when the state database refuses writes; null while every change is written. */
  notPersistedSince: string | null;
  /** Ban changes (of every jail) held in memory only. */
  unsavedChanges: number;
  /** Addresses never banned because Asterisk's configuration trusts them, each with file, line and section. */
  trustedPeers: string[];
  /** Log failures not counted: the address had logged in over AMI within ignore_recent_success. */
  recentSuccess: number;
  /** Log messages Asterisk's logger said it discarded (queue full) since start: attacks in them were not seen. */
  asteriskLogDiscarded: number;
  /** ISO 8601: since when Asterisk says it is discarding log messages; null when it is not. */
  asteriskLogDiscardingSince: string | null;
  /** Alert rules on for this jail. */
  alertRules: string[];
  /** Alerts raised by this jail since start, by rule and severity. */
  alerts: { rule: string; severity: string; count: number }[];
  /** Fleet mode for this jail: off, or the mode with the link to Redis and the bans in force here by origin node. */
  fleet: { mode: string; state: string | null; since: string | null; fromNodes: Record<string, number> };
}

/** An alert as the control socket returns it. */
export interface AlertView {
  id: number;
  time: string;
  jail: string;
  rule: string;
  severity: string;
  summary: string;
  address?: string;
  account?: string;
  facts: Record<string, string>;
}

export interface DaemonApi {
  status(jail?: string): Promise<JailStatus[]>;
  list(): Promise<BanView[]>;
  ban(jail: string, ip: string, opts: { seconds?: number; force?: boolean }): Promise<BanView>;
  unban(opts: { ip?: string; jail?: string; all?: boolean; node?: string }): Promise<BanView[]>;
  /** Fleet mode's state; E_REQUEST when it is off. */
  fleet(): Promise<unknown>;
  reload(jail?: string): Promise<{ reloaded: string[]; stopped: string[]; started: string[] }>;
  version(): Promise<{ version: string; pid: number; uptime: number }>;
  /** A jail option as the jail runs with it (fail2ban-client get JAIL OPTION). */
  get(jail: string, option: string): Promise<unknown>;
  /** Alerts since `since` (ms epoch), oldest first, at most `limit`. */
  alerts(since: number, limit: number): Promise<AlertView[]>;
  /** A daemon setting changed while running: `loglevel`. */
  set(option: string, value: string): Promise<{ option: string; value: string }>;
}
