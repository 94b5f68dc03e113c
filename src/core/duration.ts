import { AsteriskBanError } from './errors.js';

const UNITS: Record<string, number> = {
  s: 1, sec: 1, second: 1, seconds: 1,
  m: 60, min: 60, mi: 60, minute: 60, minutes: 60,
  h: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800,
  mo: 2592000, month: 2592000, months: 2592000,
  y: 31536000, year: 31536000, years: 31536000,
};

/**
 * Parses fail2ban-style durations into seconds: `600`, `10m`, `1h 30m`, `3d`, `1w`, `-1`.
 * Returns -1 for "forever" (any negative number, as fail2ban treats it).
 */
export function parseDuration(text: string): number {
  const s = text.trim().toLowerCase();
  if (/^-\d+(\.\d+)?$/.test(s)) return -1;
  if (/^\d+(\.\d+)?$/.test(s)) return capped(Number(s), text);
  const re = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    const unit = UNITS[m[2]!];
    if (unit === undefined) break;
    total += Number(m[1]) * unit;
    matched = re.lastIndex;
  }
  if (matched !== s.length || s.length === 0) {
    throw new AsteriskBanError('E_DURATION', `"${text}" is not a duration`, {
      hint: 'use seconds or a number with a unit: 600, 10m, 1h, 3d, 1w; -1 means permanent',
    });
  }
  return capped(total, text);
}

/**
 * The longest duration taken: ten years. nftables refuses element timeouts
 * far beyond (about 274 years), and a number past that (1e308, 1e20 weeks)
 * would store an end no date can hold. Permanent is -1.
 */
export const MAX_DURATION_SECONDS = 3650 * 86400;

function capped(seconds: number, text: string): number {
  if (!Number.isFinite(seconds) || seconds > MAX_DURATION_SECONDS) {
    throw new AsteriskBanError('E_DURATION_TOO_LONG', `"${text.slice(0, 40)}" is longer than 3650d (ten years)`, { hint: 'use at most 3650d; -1 means permanent' });
  }
  return seconds;
}

export function formatDuration(seconds: number): string {
  if (seconds < 0) return 'permanent';
  const parts: string[] = [];
  let rest = Math.round(seconds);
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join('');
}
