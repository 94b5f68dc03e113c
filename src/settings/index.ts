import { resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { loadDaemonSettings } from './daemon-settings.js';
import { loadEnv } from './env.js';
import { readJails } from './jail-settings.js';
import { Problems } from './problems.js';
import type { Settings } from './types.js';

export type * from './types.js';
export { loadFilter, loadFilterFile, hasHostTag } from './filter-file.js';
export { parseInvocations } from './invocation.js';
export { parseMetrics } from './daemon-settings.js';
export { parseBool } from './values.js';

export interface LoadOptions {
  /** The environment to read (default: process.env); `.env` in `dir` fills in under it. */
  env?: NodeJS.ProcessEnv;
  /** Also copy `.env` values into process.env (never overwriting what is set). */
  writeEnv?: boolean;
}

/**
 * Reads and validates everything in a configuration directory: the daemon
 * settings, every jail (with its filters), `.env`. Throws ConfigErrors
 * listing every problem with file:line and a hint; warnings are returned
 * in `settings.warnings`.
 */
export function loadSettings(dir: string, opts: LoadOptions = {}): Settings {
  const abs = resolve(dir);
  const problems = new Problems();
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    problems.error(`configuration directory ${abs} does not exist`, { file: abs }, 'pass --config DIR or set ASTERISK_BAN_CONFIG', 'E_CONFIG_IO');
    problems.throwIfAny();
  }
  const env = loadEnv(abs, opts.env ?? process.env, problems, opts.writeEnv ?? false);
  const daemon = loadDaemonSettings(abs, env, problems);
  const jails = readJails(abs, env, problems);
  if (daemon.fleet === null) {
    for (const j of jails) {
      if (j.enabled && j.fleet !== 'off') problems.error(`jail [${j.name}] has fleet = ${j.fleet} but there is no [Fleet] section`, { file: j.file, line: j.line }, 'add [Fleet] with redis = redis://host:6379 to asterisk-ban.local, or set fleet = off');
    }
  }
  problems.throwIfAny();
  return { dir: abs, daemon, jails, env, warnings: problems.warnings };
}
