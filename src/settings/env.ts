import { join } from 'node:path';
import dotenv from 'dotenv';
import { readConfigText } from './ini.js';
import type { Problems } from './problems.js';

/** Environment variables we read; others in the process environment are not kept. */
const PREFIXES = ['AMI_', 'SMTP_', 'MAIL_', 'ASTERISK_BAN_', 'WEBHOOK_', 'FLEET_'];

/**
 * `.env` in the configuration directory, read with dotenv, under the real
 * environment (a variable set in the environment wins). The process
 * environment is only written when asked (`write`), and never overwritten.
 */
export function loadEnv(dir: string, real: NodeJS.ProcessEnv, problems: Problems, write = false): Record<string, string> {
  const file = join(dir, '.env');
  const text = readConfigText(file, problems);
  const fromFile: Record<string, string> = typeof text === 'string' ? dotenv.parse(text) : {};
  const merged: Record<string, string> = { ...fromFile };
  for (const [k, v] of Object.entries(real)) {
    if (v === undefined) continue;
    if (k in fromFile || PREFIXES.some((p) => k.startsWith(p))) merged[k] = v;
  }
  if (write) {
    for (const [k, v] of Object.entries(fromFile)) if (process.env[k] === undefined) process.env[k] = v;
  }
  return merged;
}
