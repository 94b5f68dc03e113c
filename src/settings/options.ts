import { parseNetwork } from '../core/address.js';
import type { Backend } from './types.js';
import { ALERT_OPTIONS } from './alert-settings.js';

/** Options a jail section may set. Anything else in an enabled jail is an error. */
export const JAIL_OPTIONS: readonly string[] = [
  'enabled', 'filter', 'gapfilter', 'logpath', 'backend', 'maxretry', 'findtime', 'bantime',
  'bantime.increment', 'bantime.factor', 'bantime.formula', 'bantime.multipliers', 'bantime.maxtime',
  'bantime.rndtime', 'bantime.overalljails',
  'ignoreip', 'ignoreself', 'ignore_asterisk_peers', 'ignore_recent_success', 'ipv6_prefix',
  ...ALERT_OPTIONS, 'fleet', 'fleet_maxretry', 'action', 'banaction', 'banaction_allports', 'destemail', 'sender', 'sendername',
  'mta', 'port', 'protocol', 'chain', 'verify',
  'ami_host', 'ami_port', 'ami_username', 'ami_secret', 'ami_events', 'ami_services', 'ami_success_clears',
  'ami_challenge_window', 'ami_ping_interval', 'ami_ping_timeout',
  'maxtracked', 'readback', 'usedns', 'maxmatches', 'logencoding', 'mode',
  // fail2ban lets a jail override its filter's definitions:
  'failregex', 'ignoreregex', 'prefregex', 'datepattern', 'maxlines', 'journalmatch',
];

/** fail2ban options we knowingly do not support, with what to do instead. */
export const UNSUPPORTED: Record<string, { error: boolean; message: string }> = {
  ignorecommand: { error: true, message: 'ignorecommand is not supported (it runs a shell command per address); list addresses, ranges or host names in ignoreip' },
  logtimezone: { error: false, message: 'logtimezone is ignored: log dates are read in the local time zone' },
  ignorecache: { error: false, message: 'ignorecache is ignored: ignore checks are in-memory and cached already' },
};

/**
 * Helper options that exist for interpolation only (fail2ban's `action_`,
 * `action_mwl`, `_private`) are accepted anywhere.
 */
export function isHelperOption(key: string): boolean {
  return key.startsWith('_') || /^action_\w*$/.test(key) || key.startsWith('known/');
}

/**
 * fail2ban's file backends all mean "follow the file", which our log
 * backend does; `auto` is the same word in both (for us: AMI, with the log
 * as fallback). systemd (the journal) has no equivalent.
 */
export function mapBackend(text: string): { backend: Backend; note?: string } | { error: string; hint: string } {
  const name = text.trim().replace(/\[.*$/s, '').toLowerCase();
  switch (name) {
    case 'ami':
    case 'log':
    case 'auto':
      return { backend: name };
    case 'polling':
    case 'pyinotify':
    case 'gamin':
    case 'inotify':
      return { backend: 'log', note: `fail2ban backend "${name}" read as "log": asterisk-ban follows log files itself (inode and position)` };
    case 'systemd':
      return { error: 'backend "systemd" (the journal) is not supported', hint: 'point Asterisk\'s logger.conf at a file and use backend = log, or use backend = ami' };
    default:
      return { error: `unknown backend "${text.trim().slice(0, 40)}"`, hint: 'use ami, log or auto' };
  }
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function maskBits(mask: string): number | null {
  const parts = mask.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  const bits = parts.reduce((acc, p) => acc * 256 + p, 0).toString(2).padStart(32, '0');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') < 0 ? 32 : bits.indexOf('0') : null;
}

/**
 * One ignoreip entry: an address, a CIDR range (also `addr/255.255.0.0`),
 * or a host name. Returns the entry to keep, or null when invalid.
 */
export function checkIgnoreEntry(entry: string): string | null {
  const dotted = /^([\d.]+)\/(\d+\.\d+\.\d+\.\d+)$/.exec(entry);
  if (dotted) {
    const bits = maskBits(dotted[2]!);
    return bits !== null && parseNetwork(`${dotted[1]}/${bits}`) ? `${dotted[1]}/${bits}` : null;
  }
  if (/[/:]/.test(entry) || /^[\d.]+$/.test(entry)) return parseNetwork(entry) ? entry : null;
  return HOSTNAME.test(entry) && /[A-Za-z]/.test(entry) ? entry : null;
}
