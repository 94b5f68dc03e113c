import { AsteriskBanError } from '../core/errors.js';
import type { DatePattern } from './datepattern.js';


/** Where a line's date ends and what time it names. */
export interface DateHit {
  /** ms epoch, or null when the line carries no date. */
  time: number | null;
  /** Index where the date starts (0 for dates at the line start). */
  start: number;
  /** Index of the first character after the date and the spaces following it (0 when none). */
  end: number;
}

export interface DateOptions {
  /** 'UTC', 'local' (default) or a fixed offset such as '+0100'. */
  timezone?: string;
  now?: () => number;
}

export const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };
export const MONTH_RE = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*';
const DAY_MS = 86_400_000;

/** Groups a parsed date can name; absent ones take their defaults. */
export interface Fields {
  year?: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  /** Minutes east of UTC written in the date itself. */
  offset?: number;
  epoch?: number;
  pm?: boolean;
}

/** Offset in minutes from '+01:00', '-0530', 'Z', 'UTC'; undefined when not an offset. */
export function parseOffset(text: string): number | undefined {
  if (/^(?:Z|UTC|GMT)$/i.test(text)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (!m) return undefined;
  const v = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -v : v;
}

export function fraction(text: string | undefined): number {
  return text ? Math.floor(Number(`0.${text}`) * 1000) : 0;
}

/**
 * Turns date text into epoch ms. Zone order: offset written in the line,
 * then the configured zone, then the machine's local zone. A date without a
 * year takes the current year, or last year when that would put it more
 * than a day in the future (a December line read in January).
 */
export class DateResolver {
  private readonly fixedOffset: number | undefined;
  private readonly now: () => number;

  constructor(opts: DateOptions = {}) {
    const tz = opts.timezone;
    if (tz === undefined || tz === '' || tz === 'local') this.fixedOffset = undefined;
    else {
      const off = parseOffset(tz);
      if (off === undefined) throw new AsteriskBanError('E_FILTER', `time zone "${tz}" is not understood`, { hint: "use 'UTC', 'local' or an offset such as '+0100'" });
      this.fixedOffset = off;
    }
    this.now = opts.now ?? (() => Date.now());
  }

  resolve(f: Fields): number | null {
    if (f.epoch !== undefined) return Number.isFinite(f.epoch) ? f.epoch : null;
    let hour = f.hour;
    if (f.pm !== undefined) hour = (hour % 12) + (f.pm ? 12 : 0);
    if (f.month < 0 || f.month > 11 || f.day < 1 || f.day > 31 || hour > 23 || f.minute > 59 || f.second > 60) return null;
    if (f.year !== undefined) return this.build(f, f.year, hour);
    const now = this.now();
    const year = new Date(now).getUTCFullYear();
    const t = this.build(f, year, hour);
    return t > now + DAY_MS ? this.build(f, year - 1, hour) : t;
  }

  private build(f: Fields, year: number, hour: number): number {
    const off = f.offset ?? this.fixedOffset;
    if (off !== undefined) return Date.UTC(year, f.month, f.day, hour, f.minute, f.second, f.ms) - off * 60_000;
    return new Date(year, f.month, f.day, hour, f.minute, f.second, f.ms).getTime();
  }
}

// The formats Asterisk writes: logger.conf `dateformat = %F %T` (optionally
// with milliseconds), its default `%b %e %T`, syslog, and ISO 8601.
export const DEFAULT_DATE = new RegExp(
  '^(\\[)?(?:(\\d{4})-(\\d{2})-(\\d{2})[T ](\\d{2}):(\\d{2}):(\\d{2})(?:[.,](\\d{1,9}))?(Z|[+-]\\d{2}:?\\d{2})?' +
    `|(${MONTH_RE}) {1,2}(\\d{1,2}) (\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,9}))?(?: (\\d{4}))?)(\\])?`,
);

export function defaultFields(m: RegExpExecArray): Fields | null {
  if ((m[1] === undefined) !== (m[17] === undefined)) return null;
  if (m[2] !== undefined) {
    return {
      year: Number(m[2]), month: Number(m[3]) - 1, day: Number(m[4]), hour: Number(m[5]), minute: Number(m[6]), second: Number(m[7]),
      ms: fraction(m[8]), offset: m[9] === undefined ? undefined : parseOffset(m[9]),
    };
  }
  const month = MONTHS[m[10]!.slice(0, 3).toLowerCase()];
  if (month === undefined) return null;
  return {
    year: m[16] === undefined ? undefined : Number(m[16]), month, day: Number(m[11]), hour: Number(m[12]), minute: Number(m[13]),
    second: Number(m[14]), ms: fraction(m[15]),
  };
}

/**
 * Finds and resolves line dates with a one-entry cache: consecutive lines
 * mostly share their second, so the common case is one startsWith().
 */
export class DateFinder {
  private lastText = '';
  private lastTime: number | null = null;
  private lastLen = 0;

  private readonly scratch: DateHit = { time: null, start: 0, end: 0 };
  private readonly plain: boolean;
  private hourKey = '';
  private hourBase = 0;
  /** `[YYYY-MM-DD HH:MM:` of the last line certainAt() accepted. */
  private certainKey = '';
  /** `[YYYY-MM-DD HH:MM:` of the last fast-path date, for datedAt(). */
  private minuteKey = '';

  constructor(private readonly patterns: DatePattern[], private readonly resolver: DateResolver) {
    this.plain = patterns.length === 1 && patterns[0]!.isDefault;
  }

  /**
   * `[YYYY-MM-DD HH:MM:SS(.fff)]` (logger.conf `dateformat = %F %T`), read
   * with character arithmetic and a per-hour cache: with milliseconds every
   * line has a new date, so this is the common path. False for anything
   * else (the regexes decide then).
   */
  private fastIso(line: string, hit: DateHit): boolean {
    const br = line.charCodeAt(0) === 91 ? 1 : 0;
    if (line.charCodeAt(br + 4) !== 45 || line.charCodeAt(br + 7) !== 45 || line.charCodeAt(br + 10) !== 32
      || line.charCodeAt(br + 13) !== 58 || line.charCodeAt(br + 16) !== 58) return false;
    const minute = digitAt(line, br + 14) * 10 + digitAt(line, br + 15);
    const second = digitAt(line, br + 17) * 10 + digitAt(line, br + 18);
    if (minute < 0 || minute > 59 || second < 0 || second > 60) return false;
    let q = br + 19;
    let ms = 0;
    if (line.charCodeAt(q) === 46) {
      let scale = 100;
      const from = ++q;
      while (q - from < 9) {
        const c = line.charCodeAt(q) - 48;
        if (!(c >= 0 && c <= 9)) break;
        ms += c * scale;
        scale /= 10;
        q++;
      }
      if (q === from) return false;
      ms = Math.floor(ms);
    }
    if (br === 1) {
      if (line.charCodeAt(q) !== 93) return false;
      q++;
    } else if (q < line.length && line.charCodeAt(q) !== 32) return false;
    const hourLen = br + 13;
    if (this.hourKey.length !== hourLen || !line.startsWith(this.hourKey)) {
      const year = number(line, br, 4);
      const month = number(line, br + 5, 2) - 1;
      const day = number(line, br + 8, 2);
      const hour = number(line, br + 11, 2);
      if (year < 0 || month < 0 || day < 0 || hour < 0) return false;
      const base = this.resolver.resolve({ year, month, day, hour, minute: 0, second: 0, ms: 0 });
      if (base === null) return false;
      this.hourKey = line.slice(0, hourLen);
      this.hourBase = base;
    }
    if (this.minuteKey.length !== br + 17 || !line.startsWith(this.minuteKey)) this.minuteKey = line.slice(0, br + 17);
    const time = this.hourBase + minute * 60_000 + second * 1000 + ms;
    this.lastText = line.slice(0, q);
    this.lastLen = q;
    this.lastTime = time;
    hit.time = time;
    hit.start = 0;
    hit.end = skipSpaces(line, q);
    return true;
  }

  /**
   * Whether the line at `pos` opens with `[%F %T(.fff)]`, every field in
   * range: a date find() always accepts. False means "maybe not" (always,
   * with a datepattern other than Asterisk's own formats).
   */
  certainAt(text: string, pos: number): boolean {
    if (!this.plain) return false;
    const key = this.certainKey;
    if (key.length > 0 && text.startsWith(key, pos)) {
      // Same minute as the last certain line: only seconds, fraction and ']' remain.
      let q = pos + key.length;
      const s1 = text.charCodeAt(q) - 48;
      const s2 = text.charCodeAt(q + 1) - 48;
      if (s2 >= 0 && s2 <= 9 && ((s1 >= 0 && s1 <= 5) || (s1 === 6 && s2 === 0))) {
        q += 2;
        if (text.charCodeAt(q) === 46) {
          const from = ++q;
          while (q - from < 9 && text.charCodeAt(q) >= 48 && text.charCodeAt(q) <= 57) q++;
          if (q === from) q = -1;
        }
        if (q > 0 && text.charCodeAt(q) === 93) return true;
      }
    }
    CERTAIN.lastIndex = pos;
    if (!CERTAIN.test(text)) return false;
    this.certainKey = text.slice(pos, pos + CERTAIN_KEY);
    return true;
  }

  /** Whether the line of `text` starting at `pos` (ending at `end`) opens with a date; no allocation in the common case. */
  datedAt(text: string, pos: number, end: number): boolean {
    const mk = this.minuteKey;
    if (mk.length > 0 && text.startsWith(mk, pos)) {
      // Same minute as the last date seen: only the seconds (and fraction) remain to check.
      let q = pos + mk.length;
      const s1 = text.charCodeAt(q) - 48;
      const s2 = text.charCodeAt(q + 1) - 48;
      if (s1 >= 0 && s1 <= 6 && s2 >= 0 && s2 <= 9 && s1 * 10 + s2 <= 60) {
        q += 2;
        if (text.charCodeAt(q) === 46) {
          const from = ++q;
          while (q - from < 9 && text.charCodeAt(q) >= 48 && text.charCodeAt(q) <= 57) q++;
          if (q === from) q = -1;
        }
        if (q > 0 && q <= end) {
          const c = text.charCodeAt(q);
          if (mk.charCodeAt(0) === 91 ? c === 93 : q === end || c === 32) return true;
        }
      }
    }
    const last = this.lastText;
    if (last.length > 0 && text.startsWith(last, pos) && pos + last.length <= end) {
      const c = text.charCodeAt(pos + last.length);
      if (!(c >= 48 && c <= 57) && c !== 46 && c !== 44 && c !== 58) return true;
    }
    return this.find(text.slice(pos, Math.min(end, pos + 128)), this.scratch);
  }

  /** Fills `hit` for `line`; returns false when the line has no date. */
  find(line: string, hit: DateHit): boolean {
    const last = this.lastText;
    if (last.length > 0 && line.startsWith(last)) {
      const c = line.charCodeAt(last.length);
      // The cached text must end the date, not be the prefix of a longer one.
      if (!(c >= 48 && c <= 57) && c !== 46 && c !== 44 && c !== 58) {
        hit.time = this.lastTime;
        hit.start = 0;
        hit.end = skipSpaces(line, this.lastLen);
        return true;
      }
    }
    if (this.plain && this.fastIso(line, hit)) return true;
    for (const p of this.patterns) {
      const m = p.exec(line);
      if (!m || !m.fields) continue;
      const time = this.resolver.resolve(m.fields);
      if (time === null) continue;
      hit.time = time;
      hit.start = m.start;
      hit.end = skipSpaces(line, m.end);
      if (m.start === 0) {
        this.lastText = line.slice(0, m.end);
        this.lastLen = m.end;
        this.lastTime = time;
      }
      return true;
    }
    hit.time = null;
    hit.start = 0;
    hit.end = 0;
    return false;
  }
}

// `[%F %T(.fff)]` with every field in the range fastIso() and resolve()
// accept, so a line opening with it is always dated.
const CERTAIN = /\[\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]) (?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{1,9})?\]/y;
/** Length of its `[YYYY-MM-DD HH:MM:` part. */
const CERTAIN_KEY = 18;

/** The decimal number in `count` characters at `i`; negative when one is not a digit. */
function number(line: string, i: number, count: number): number {
  let v = 0;
  for (let k = 0; k < count; k++) v = v * 10 + digitAt(line, i + k);
  return v;
}

function digitAt(line: string, i: number): number {
  const c = line.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -100;
}

function skipSpaces(line: string, i: number): number {
  while (line.charCodeAt(i) === 32) i++;
  return i;
}
