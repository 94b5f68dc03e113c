import { accessSync, closeSync, constants, existsSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { printable } from '../core/address.js';
import { parseDuration } from '../core/duration.js';
import type { Location } from '../core/errors.js';
import { parseLogLevel } from '../core/logger.js';
import { DEFAULT_DAEMON } from './defaults.js';
import type { Scope } from './interpolate.js';
import { didYouMean, type Problems } from './problems.js';
import { readStack } from './stack.js';
import type { DaemonSettings } from './types.js';
import { FLEET_OPTIONS, readFleetSettings } from './fleet-settings.js';
import { parseBool, SectionReader } from './values.js';

/** asterisk-ban.conf [Definition], then asterisk-ban.local, then ASTERISK_BAN_* variables. */

export const DAEMON_OPTIONS = ['socket', 'dbfile', 'loglevel', 'logtarget', 'logjson', 'metrics', 'dbpurgeage', 'asterisk_config'] as const;
type DaemonKey = (typeof DAEMON_OPTIONS)[number];

const ENV_OVERRIDES: Partial<Record<DaemonKey, string>> = {
  socket: 'ASTERISK_BAN_SOCKET',
  dbfile: 'ASTERISK_BAN_DBFILE',
  loglevel: 'ASTERISK_BAN_LOGLEVEL',
  logtarget: 'ASTERISK_BAN_LOGTARGET',
  metrics: 'ASTERISK_BAN_METRICS',
};

const SECTIONS = ['Definition', 'DEFAULT'];
const OFF = new Set(['', 'off', 'no', 'false', 'none', '0']);

/** `host:port`, `[v6]:port`, `port`, or off (null); undefined when malformed. */
export function parseMetrics(text: string): { host: string; port: number } | null | undefined {
  const t = text.trim();
  if (OFF.has(t.toLowerCase())) return null;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(t) ?? /^()()(\d{1,5})$/.exec(t);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

export function loadDaemonSettings(dir: string, env: Record<string, string>, problems: Problems): DaemonSettings {
  const stack = readStack([resolve(dir, 'asterisk-ban.conf'), resolve(dir, 'asterisk-ban.local')], problems);
  for (const sec of stack.sections.values()) {
    if (SECTIONS.includes(sec.name) || sec.name === 'Fleet') continue;
    problems.error(`unknown section [${sec.name}] in the daemon settings`, { file: sec.file, line: sec.line },
      didYouMean(sec.name, [...SECTIONS, 'Fleet']) ?? 'daemon settings go in [Definition], fleet settings in [Fleet]; jails go in jail.conf');
  }
  const def = stack.sections.get('Definition');
  for (const [key, hist] of def?.values ?? []) {
    if ((DAEMON_OPTIONS as readonly string[]).includes(key)) continue;
    const v = hist[hist.length - 1]!;
    problems.error(`unknown option "${key}" in [Definition]`, { file: v.file, line: v.line },
      didYouMean(key, DAEMON_OPTIONS) ?? `known options: ${DAEMON_OPTIONS.join(', ')}`);
  }
  const scope: Scope = { stack, vars: { __name__: 'Definition' }, chain: SECTIONS, problems };
  const reader = new SectionReader(scope, problems);

  const get = (key: DaemonKey): { text: string; at?: Location } | undefined => {
    const envName = ENV_OVERRIDES[key];
    const fromEnv = envName ? env[envName] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') return { text: fromEnv.trim(), at: { file: `environment variable ${envName}` } };
    const text = reader.text(key);
    return text === undefined || text === '' ? undefined : { text, at: reader.at(key) };
  };
  const bad = (key: string, v: { text: string; at?: Location }, expected: string, hint?: string): void => {
    problems.error(`bad value "${printable(v.text, 80)}" for ${key}: expected ${expected}`, v.at, hint);
  };

  const out: DaemonSettings = { ...DEFAULT_DAEMON };
  const socket = get('socket');
  if (socket) out.socket = resolve(socket.text);
  const dbfile = get('dbfile');
  if (dbfile) out.dbfile = dbfile.text === ':memory:' ? dbfile.text : resolve(dbfile.text);
  const level = get('loglevel');
  if (level) {
    const l = parseLogLevel(level.text);
    if (l) out.loglevel = l;
    else bad('loglevel', level, 'a log level', 'CRITICAL, ERROR, WARNING, NOTICE, INFO or DEBUG');
  }
  const target = get('logtarget');
  if (target) {
    const upper = target.text.toUpperCase();
    const named = ['CONSOLE', 'STDOUT', 'STDERR', 'JOURNAL', 'SYSLOG'].includes(upper);
    out.logtarget = named ? upper.toLowerCase() : resolve(target.text);
    const why = named ? null : unwritable(out.logtarget);
    if (why !== null) problems.error(`logtarget ${printable(out.logtarget)} cannot be written: ${why}`, target.at, 'give a file the daemon may write (its directory must exist), or console, stdout, journal or syslog');
  }
  const json = get('logjson');
  if (json) {
    const b = parseBool(json.text);
    if (b === null) bad('logjson', json, 'true or false');
    else out.logjson = b;
  }
  const metrics = get('metrics');
  if (metrics) {
    const m = parseMetrics(metrics.text);
    if (m === undefined) bad('metrics', metrics, 'host:port, a port, or off', 'e.g. 127.0.0.1:9797');
    else out.metrics = m;
  }
  const asterisk = get('asterisk_config');
  if (asterisk) out.asteriskConfig = resolve(asterisk.text);
  const purge = get('dbpurgeage');
  if (purge) {
    try {
      const n = parseDuration(purge.text);
      if (n <= 0) bad('dbpurgeage', purge, 'a positive duration');
      else out.dbpurgeage = n;
    } catch {
      bad('dbpurgeage', purge, 'a duration', 'seconds or 1d, 1w...');
    }
  }
  const fleet = stack.sections.get('Fleet');
  if (fleet) {
    for (const [key, hist] of fleet.values) {
      if (FLEET_OPTIONS.includes(key)) continue;
      const v = hist[hist.length - 1]!;
      problems.error(`unknown option "${key}" in [Fleet]`, { file: v.file, line: v.line }, didYouMean(key, FLEET_OPTIONS) ?? `known options: ${FLEET_OPTIONS.join(', ')}`);
    }
    const fleetReader = new SectionReader({ stack, vars: { __name__: 'Fleet' }, chain: ['Fleet'], problems }, problems);
    out.fleet = readFleetSettings(fleetReader, env, { file: fleet.file, line: fleet.line }, problems);
  }
  return out;
}

/** Why the daemon could not append to a log file at `path`, or null when it can (it may not exist yet). */
function unwritable(path: string): string | null {
  try {
    if (existsSync(path)) {
      if (statSync(path).isDirectory()) return 'it is a directory';
      // Opening for append changes nothing, and tells what access() cannot (root, /proc, read-only mounts).
      closeSync(openSync(path, 'a'));
      return null;
    }
    const dir = dirname(path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return `its directory ${printable(dir)} does not exist`;
    accessSync(dir, constants.W_OK);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES' || (err as NodeJS.ErrnoException).code === 'EROFS' ? 'permission denied' : (err as Error).message;
  }
}
