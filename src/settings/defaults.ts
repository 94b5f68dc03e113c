import { DEFAULT_ALERTS } from './alert-settings.js';
import type { AmiSettings, DaemonSettings, IncrementSettings, JailSettings } from './types.js';

/** fail2ban's defaults where fail2ban has one. */
export const DEFAULT_MAXRETRY = 5;
export const DEFAULT_FINDTIME = 600;
export const DEFAULT_BANTIME = 600;
export const DEFAULT_MAXTRACKED = 1_000_000;
/** A /64 is what one IPv6 customer line or cloud host gets: counting per address there never reaches maxretry. */
export const DEFAULT_IPV6_PREFIX = 64;
export const DEFAULT_AMI_EVENTS = ['InvalidAccountID', 'InvalidPassword', 'ChallengeResponseFailed', 'FailedACL'];

export const DEFAULT_DAEMON: DaemonSettings = {
  socket: '/run/asterisk-ban/asterisk-ban.sock',
  dbfile: '/var/lib/asterisk-ban/state.sqlite3',
  loglevel: 'info',
  logtarget: 'console',
  logjson: false,
  metrics: null,
  dbpurgeage: 86400,
  asteriskConfig: '/etc/asterisk',
  fleet: null,
};

export const DEFAULT_INCREMENT: IncrementSettings = {
  enabled: false,
  factor: 1,
  formula: null,
  multipliers: [],
  maxtime: -1,
  rndtime: 0,
  overalljails: false,
};

export const DEFAULT_AMI: AmiSettings = {
  host: '127.0.0.1',
  port: 5038,
  username: '',
  secret: '',
  events: DEFAULT_AMI_EVENTS,
  services: [],
  successClears: true,
  challengeWindow: 0,
  pingInterval: 10,
  pingTimeout: 5,
};

/** A complete jail with defaults, for code paths (and tests) that build jails without files. */
export function defaultJailSettings(name: string, overrides: Partial<JailSettings> = {}): JailSettings {
  return {
    name,
    file: '<defaults>',
    line: 0,
    enabled: true,
    filter: null,
    filterDef: null,
    gapfilter: null,
    gapFilterDef: null,
    logpath: [],
    backend: 'log',
    maxretry: DEFAULT_MAXRETRY,
    findtime: DEFAULT_FINDTIME,
    bantime: DEFAULT_BANTIME,
    increment: { ...DEFAULT_INCREMENT },
    ignoreip: [],
    ignoreself: true,
    ignoreAsteriskPeers: true,
    ignoreRecentSuccess: 0,
    ipv6Prefix: DEFAULT_IPV6_PREFIX,
    fleet: 'off',
    fleetMaxretry: DEFAULT_MAXRETRY,
    alerts: { ...DEFAULT_ALERTS, rules: [...DEFAULT_ALERTS.rules], newNetworkPrefix: [...DEFAULT_ALERTS.newNetworkPrefix] },
    actions: [],
    destemail: 'root@localhost',
    sender: 'asterisk-ban@localhost',
    verify: 'off',
    ami: { ...DEFAULT_AMI },
    maxtracked: DEFAULT_MAXTRACKED,
    readback: false,
    options: {},
    ...overrides,
  };
}
