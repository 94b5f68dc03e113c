import { printable } from '../core/address.js';
import { parseDuration } from '../core/duration.js';
import { AsteriskBanError, type Location } from '../core/errors.js';
import { valueText, type IniValue } from './ini.js';
import { interpolateLines, type Scope } from './interpolate.js';
import { isSecretName, type Problems } from './problems.js';
import { latest } from './stack.js';
import type { Located } from './types.js';

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

/**
 * A JSON.stringify replacer that keeps a Located value's text and drops where
 * it was written: two settings that differ only by file and line compare equal.
 */
export function locatedValues(_key: string, v: unknown): unknown {
  return v && typeof v === 'object' && 'line' in v && 'file' in v && 'value' in v ? (v as Located).value : v;
}

export function parseBool(text: string): boolean | null {
  const t = text.trim().toLowerCase();
  if (TRUE.has(t)) return true;
  if (FALSE.has(t)) return false;
  return null;
}

/** Splits a list written with spaces, commas or new lines. */
export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/**
 * Typed access to the options of one section (searched through a scope's
 * chain: the section, then [DEFAULT]); a bad value is reported with its
 * file:line and the default is returned, so every problem gets reported.
 * Secret options are taken verbatim (no interpolation: a `%` in a password
 * must work) and their values never appear in a message.
 */
export class SectionReader {
  constructor(readonly scope: Scope, readonly problems: Problems) {}

  raw(key: string): IniValue | undefined {
    for (const sec of this.scope.chain) {
      const v = latest(this.scope.stack.sections.get(sec), key);
      if (v) return v;
    }
    return undefined;
  }

  at(key: string): Location | undefined {
    const v = this.raw(key);
    return v ? { file: v.file, line: v.line } : undefined;
  }

  lines(key: string): Located[] | undefined {
    const v = this.raw(key);
    if (!v) return undefined;
    if (isSecretName(key)) return [{ value: valueText(v), file: v.file, line: v.line }];
    return interpolateLines(v, this.scope) ?? undefined;
  }

  text(key: string): string | undefined {
    const l = this.lines(key);
    return l?.map((x) => x.value).join('\n').trim();
  }

  str(key: string, def: string): string {
    return this.text(key) ?? def;
  }

  private bad(key: string, text: string, expected: string, hint?: string): void {
    const shown = isSecretName(key) ? '' : ` "${printable(text, 80)}"`;
    const comment = / #/.test(text) ? '; inline comments start with " ;" ("#" only at the start of a line)' : '';
    this.problems.error(`bad value${shown} for ${key}: expected ${expected}`, this.at(key), (hint ?? '') + comment || undefined);
  }

  bool(key: string, def: boolean): boolean {
    const t = this.text(key);
    if (t === undefined || t === '') return def;
    const b = parseBool(t);
    if (b === null) this.bad(key, t, 'true or false (yes/no, on/off, 1/0)');
    return b ?? def;
  }

  int(key: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const t = this.text(key);
    if (t === undefined || t === '') return def;
    const n = /^-?\d+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.bad(key, t, max === Number.MAX_SAFE_INTEGER ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`);
      return def;
    }
    return n;
  }

  number(key: string, def: number, min: number): number {
    const t = this.text(key);
    if (t === undefined || t === '') return def;
    const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
    if (!Number.isFinite(n) || n < min) {
      this.bad(key, t, `a number of at least ${min}`);
      return def;
    }
    return n;
  }

  /** Seconds; `-1` (permanent) only when allowed, `0` only when allowed. */
  duration(key: string, def: number, opts: { permanent?: boolean; zero?: boolean } = {}): number {
    const t = this.text(key);
    if (t === undefined || t === '') return def;
    let n: number;
    try {
      n = parseDuration(t);
    } catch (err) {
      if (err instanceof AsteriskBanError && err.code === 'E_DURATION_TOO_LONG') {
        this.bad(key, t, 'a duration of at most 3650d (ten years)', opts.permanent ? '-1 means permanent' : undefined);
        return def;
      }
      this.bad(key, t, 'a duration', `seconds or a number with a unit: 600, 10m, 1h, 3d, 1w${opts.permanent ? '; -1 means permanent' : ''}`);
      return def;
    }
    if ((n < 0 && !opts.permanent) || (n === 0 && !opts.zero)) {
      this.bad(key, t, n < 0 ? 'a positive duration' : 'a duration above 0');
      return def;
    }
    return n;
  }

  choice<T extends string>(key: string, def: T, allowed: readonly T[]): T {
    const t = this.text(key);
    if (t === undefined || t === '') return def;
    const lower = t.toLowerCase() as T;
    if (allowed.includes(lower)) return lower;
    this.bad(key, t, `one of ${allowed.join(', ')}`);
    return def;
  }

  list(key: string, def: string[]): string[] {
    const t = this.text(key);
    return t === undefined ? def : splitList(t);
  }
}
