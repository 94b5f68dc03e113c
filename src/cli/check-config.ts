import { shownParams } from '../settings/shown.js';
import { redisLabel, type FleetSettings } from '../settings/fleet-settings.js';
import { READ_FIX, unreadableBecause } from '../sources/logfile/access.js';
import { existsSync } from 'node:fs';
import { AsteriskBanError, ConfigErrors } from '../core/errors.js';
import { loadSettings } from '../settings/index.js';
import type { FilterDefinition, JailSettings, Settings } from '../settings/types.js';
import type { CompiledFilter } from '../filter/types.js';
import { compileFilter } from '../filter/index.js';
import { compileIncrement } from '../bans/increment.js';
import { createAction, validateInvocation } from '../actions/registry.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { readTrustedPeers, warningText } from '../asterisk/peers.js';
import { printable } from '../core/address.js';

export interface CheckResult {
  settings: Settings | null;
  errors: AsteriskBanError[];
  warnings: string[];
  /** Filters compiled while checking, for the daemon to use rather than compile again. */
  compiled: Map<FilterDefinition, CompiledFilter>;
}

function asErrors(err: unknown): AsteriskBanError[] {
  if (err instanceof ConfigErrors) return err.errors;
  if (err instanceof AsteriskBanError) return [err];
  return [new AsteriskBanError('E_INTERNAL', err instanceof Error ? err.message : String(err))];
}

/** Which jail's action first took each firewall object name (`iptables:asterisk`, `nftables:asterisk`). */
type NameOwners = Map<string, { jail: string; file: string; line: number }>;

function checkJail(jail: JailSettings, env: Record<string, string>, result: CheckResult, owners: NameOwners = new Map()): void {
  const { errors, warnings, compiled } = result;
  const where = { file: jail.file, line: jail.line };
  if (jail.increment.enabled) {
    try {
      compileIncrement(jail.increment, where);
    } catch (err) {
      errors.push(...asErrors(err));
    }
  }
  for (const def of [jail.filterDef, jail.gapFilterDef]) {
    if (!def) continue;
    try {
      compiled.set(def, compileFilter(def));
    } catch (err) {
      errors.push(...asErrors(err));
    }
  }
  for (const action of jail.actions) {
    const problems = validateInvocation(action);
    errors.push(...problems);
    if (problems.length > 0) continue;
    // Building an action checks parameter values (a bad digest, a password
    // written into an SMTP URL) without touching the system.
    try {
      const built = createAction(action, { jail, logger: silentLogger(), clock: systemClock, env });
      if (built.kind === 'firewall') claimName(built.id, action, jail.name, owners, errors);
    } catch (err) {
      errors.push(...asErrors(err));
    }
  }
  // Missing logpath, filter or AMI account are the settings loader's to report.
  if (jail.backend !== 'ami') {
    for (const p of jail.logpath) {
      if (/[*?[]/.test(p.value)) continue;
      // A warning, not an error: an AMI jail beside it must still start, and a log may appear later.
      const why = unreadableBecause(p.value);
      if (why !== null) warnings.push(`${p.file}:${p.line}: logpath ${p.value} cannot be read: ${why}; ${READ_FIX}`);
      else if (!existsSync(p.value)) warnings.push(`${p.file}:${p.line}: logpath ${p.value} does not exist yet; it will be followed once it appears`);
    }
  }
}

/**
 * One table, chain or set per firewall action, always: two actions sharing
 * one would lift each other's bans (a jail disabled, an unban in the other).
 * The iptables back ends share the filter table's chain names, nftables its
 * table names.
 */
function claimName(id: string, action: { name: string; file: string; line: number }, jail: string, owners: NameOwners, errors: AsteriskBanError[]): void {
  const name = /\[(.*)\]$/.exec(id)?.[1] ?? id;
  const key = `${action.name.startsWith('nftables') ? 'nftables' : 'iptables'}:${name}`;
  const first = owners.get(key);
  if (first === undefined) {
    owners.set(key, { jail, file: action.file, line: action.line });
    return;
  }
  errors.push(new AsteriskBanError('E_CONFIG', `action ${action.name} of jail [${jail}] would use the firewall name asban-${name}, which jail [${first.jail}] already uses (${first.file}:${first.line})`, {
    location: { file: action.file, line: action.line },
    hint: 'give each firewall action its own name=..., or leave name out (each jail then gets its own)',
  }));
}

/** Everything `run` would refuse, found without starting anything. */
export function checkConfig(dir: string, env: NodeJS.ProcessEnv = process.env): CheckResult {
  const result: CheckResult = { settings: null, errors: [], warnings: [], compiled: new Map() };
  let settings: Settings;
  try {
    settings = loadSettings(dir, { env });
  } catch (err) {
    if (err instanceof ConfigErrors) result.warnings.push(...err.warnings);
    result.errors.push(...asErrors(err));
    return result;
  }
  result.settings = settings;
  const { warnings } = result;
  warnings.push(...(settings.warnings ?? []));
  const enabled = settings.jails.filter((j) => j.enabled);
  if (enabled.length === 0) warnings.push(`${dir}: no jail is enabled`);
  const owners: NameOwners = new Map();
  for (const jail of enabled) checkJail(jail, settings.env, result, owners);
  // A filter read in two modes (a jail's filter and its gap filter) fails the same way twice: say it once.
  const seen = new Set<string>();
  result.errors = result.errors.filter((e) => !seen.has(e.describe()) && seen.add(e.describe()) !== undefined);
  return result;
}

export async function checkConfigCommand(opts: { config: string; dump?: boolean }, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const result = checkConfig(opts.config);
  const peers = result.settings?.jails.some((j) => j.enabled && j.ignoreAsteriskPeers) ? readTrustedPeers(result.settings.daemon.asteriskConfig) : null;
  // Asterisk's files are not ours: what is wrong in them is worth knowing, never a reason to refuse to run.
  for (const w of peers?.warnings ?? []) result.warnings.push(warningText(w));
  for (const w of result.warnings) err.write(`warning: ${w}\n`);
  if (result.errors.length > 0) {
    for (const e of result.errors) err.write(`error: ${e.describe()}\n`);
    err.write(`${result.errors.length} error(s) in ${opts.config}\n`);
    return 1;
  }
  if (opts.dump) {
    for (const j of result.settings!.jails) out.write(`${JSON.stringify(dumpJail(j))}\n`);
    const fleet = result.settings!.daemon.fleet;
    if (fleet) out.write(`${JSON.stringify({ fleet: dumpFleet(fleet) })}\n`);
    return 0;
  }
  const jails = result.settings!.jails.filter((j) => j.enabled).map((j) => j.name);
  out.write(`OK: ${opts.config}: ${jails.length} jail(s) enabled${jails.length ? ` (${jails.join(', ')})` : ''}\n`);
  if (peers) {
    out.write(peers.found ? `${peers.peers.length} peer(s) Asterisk trusts in ${peers.dir}, never banned:\n` : `no Asterisk configuration at ${peers.dir}: no trusted peers learned\n`);
    for (const p of peers.peers) out.write(`  ${printable(p.entry)}  (${p.origin})\n`);
  }
  return 0;
}

/** [Fleet] as it will run: the Redis URL without its credentials, the password only as set or not. */
function dumpFleet(f: FleetSettings): Record<string, unknown> {
  return {
    redis: f.redis === null ? null : redisLabel(f.redis), password: f.password || /^\w+:\/\/[^@/]*:[^@/]*@/.test(f.redis ?? '') ? '(set)' : '(not set)', sentinels: f.sentinels.map((x) => `${x.host}:${x.port}`), sentinelName: f.sentinelName,
    node: f.node, prefix: f.prefix, tls: f.tls, remoteBansPerMinute: f.remoteBansPerMinute, remoteUnbansPerMinute: f.remoteUnbansPerMinute, streamMaxlen: f.streamMaxlen,
    file: `${f.where.file}:${f.where.line}`,
  };
}

/**
 * fail2ban-client -d: a jail as it will run, every value resolved. The AMI
 * secret and passwords in action parameters are replaced: a dump gets pasted
 * into tickets.
 */
function dumpJail(j: JailSettings): Record<string, unknown> {
  const located = (l: { value: string }) => l.value;

  return {
    jail: j.name, enabled: j.enabled, backend: j.backend, maxretry: j.maxretry, findtime: j.findtime, bantime: j.bantime,
    ignoreip: j.ignoreip, ignoreself: j.ignoreself, ignoreAsteriskPeers: j.ignoreAsteriskPeers, ignoreRecentSuccess: j.ignoreRecentSuccess, ipv6Prefix: j.ipv6Prefix, alerts: j.alerts, verify: j.verify, logpath: j.logpath.map(located),
    fleet: j.fleet, fleetMaxretry: j.fleetMaxretry,
    filter: j.filter ? { name: j.filter.name, params: j.filter.params } : null,
    actions: j.actions.map((a) => ({ name: a.name, params: shownParams(a.params) })),
    ami: { host: j.ami.host, port: j.ami.port, username: j.ami.username, secret: j.ami.secret ? '(set)' : '(not set)' },
    file: `${j.file}:${j.line}`,
  };
}
