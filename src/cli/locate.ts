import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import dotenv from 'dotenv';
import { DEFAULT_DAEMON } from '../settings/defaults.js';

export const SYSTEM_CONFIG_DIR = '/etc/asterisk-ban';

// asterisk-ban.conf is a few hundred bytes; anything far larger is not ours to parse here.
const MAX_CONF_BYTES = 1024 * 1024;

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** --config, then ASTERISK_BAN_CONFIG, then ./config when it exists, then /etc/asterisk-ban. */
export function resolveConfigDir(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  const given = flag ?? (env.ASTERISK_BAN_CONFIG || undefined);
  if (given !== undefined) return isAbsolute(given) ? given : resolve(cwd, given);
  const local = join(cwd, 'config');
  return isDir(local) ? local : SYSTEM_CONFIG_DIR;
}

/** Where a client command looks for the daemon, and in words why there. */
export interface DaemonLocation {
  socket: string;
  from: string;
}

/**
 * The control socket a client command uses. Beyond resolveSocketPath: run
 * from an installed copy's directory (/opt/asterisk-ban holds the shipped
 * config/, whose socket is ./var/...), an implicit ./config whose socket is
 * not there gives way to the system daemon's when that one is.
 */
export function locateDaemon(socketFlag: string | undefined, configFlag: string | undefined, env: NodeJS.ProcessEnv, cwd: string, systemDir = SYSTEM_CONFIG_DIR): DaemonLocation {
  if (socketFlag !== undefined) return { socket: resolve(cwd, socketFlag.trim()), from: '--socket' };
  if (env.ASTERISK_BAN_SOCKET) return { socket: resolve(cwd, env.ASTERISK_BAN_SOCKET.trim()), from: 'ASTERISK_BAN_SOCKET' };
  const dir = resolveConfigDir(configFlag, env, cwd);
  const socket = resolveSocketPath(undefined, env, dir, cwd);
  const implicit = configFlag === undefined && !env.ASTERISK_BAN_CONFIG && dir !== systemDir;
  if (implicit && !existsSync(socket) && isDir(systemDir)) {
    const system = resolveSocketPath(undefined, env, systemDir, cwd);
    if (existsSync(system)) return { socket: system, from: `${systemDir} (nothing answers for ${dir})` };
  }
  return { socket, from: dir };
}

/**
 * The daemon's order: --socket, then ASTERISK_BAN_SOCKET from the environment,
 * then from <config>/.env, then `socket` in asterisk-ban.local / asterisk-ban.conf,
 * then the default. Relative paths are taken from the working directory, as the
 * settings loader does. The client must reach the daemon even when the rest of
 * the configuration is broken, so this reads the one key itself instead of
 * loading (and validating) all settings.
 */
export function resolveSocketPath(flag: string | undefined, env: NodeJS.ProcessEnv, configDir: string, cwd: string): string {
  const fromFiles = (): string | null => {
    const dotEnv = readSmallFile(join(configDir, '.env'));
    const fromDotEnv = dotEnv === null ? undefined : dotenv.parse(dotEnv).ASTERISK_BAN_SOCKET;
    if (fromDotEnv) return fromDotEnv;
    for (const name of ['asterisk-ban.local', 'asterisk-ban.conf']) {
      const value = readDefinitionKey(join(configDir, name), 'socket');
      if (value) return value;
    }
    return null;
  };
  const chosen = flag ?? (env.ASTERISK_BAN_SOCKET || fromFiles() || DEFAULT_DAEMON.socket);
  return resolve(cwd, chosen.trim());
}

function readSmallFile(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(MAX_CONF_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * The last `key = value` (or `key: value`) of the [Definition] section, the
 * way a fail2ban-style INI reader resolves repeats. Comments start with # or ;.
 */
export function readDefinitionKey(path: string, key: string): string | null {
  const text = readSmallFile(path);
  if (text === null) return null;
  let inDefinition = false;
  let found: string | null = null;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([^\]]*)\]$/.exec(line);
    if (section) {
      inDefinition = section[1]!.trim() === 'Definition';
      continue;
    }
    if (!inDefinition || /^\s/.test(rawLine)) continue;
    const sep = line.search(/[=:]/);
    if (sep <= 0 || line.slice(0, sep).trim() !== key) continue;
    const value = line.slice(sep + 1).replace(/\s[#;].*$/, '').trim();
    found = value === '' ? null : value;
  }
  return found;
}
