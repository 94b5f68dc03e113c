import type { Address } from '../core/address.js';
import type { LineMatcher, LineOutcome, MatcherHooks } from './types.js';
import type { LineEngine, Verdict } from './engine.js';
import { toMatch } from './engine.js';
import type { DateHit } from './date.js';

/** Longest line examined; the rest is cut (a log line longer than this is garbage or an attack). */
export const MAX_LINE_CHARS = 64 * 1024;
/**
 * How much may be held while an opening waits for its remainder. A SIP
 * datagram carries at most 64 KiB of attacker text, so one injection fits;
 * past the bound the oldest line is decided as an ordinary line.
 */
export const MAX_HELD_BYTES = 128 * 1024;
export const MAX_HELD_LINES = 1024;
/** Dated lines after a line that guarantee it is released before any closing fragment (the line bound, plus margin). */
const SAFE_LINES = MAX_HELD_LINES + 2;

interface Held {
  no: number;
  line: string;
  time: number | null;
  /** Text after date and prefix (prefregex), null when nothing can match it. */
  content: string | null;
  /** > 0: a run of lines the caller skipped as unable to match anything. */
  gap: number;
  /** Index of the injection pair this line opens, or -1. */
  pair: number;
  openIp: Address | null;
  /** Carries a bare CR and did not pair up: never counted on its own. */
  tainted: boolean;
  /** Decided already (an opening and its remainder on one line, split by CR). */
  fixed: Verdict | null;
  /** Characters it counts against MAX_HELD_BYTES (newlines included). */
  bytes: number;
}

/**
 * The stateful half of a filter. Asterisk logs some attacker-controlled
 * fields with their newlines decoded, so one message can carry forged,
 * well-formed log lines. A line matching an openregex (a known message that
 * may stop inside such a field) is held with the lines after it. When a
 * line without a date follows, it is the remainder of a message that was
 * opened earlier: everything between the earliest held opening and it is
 * attacker text ('injected'), and only the address Asterisk itself wrote —
 * in the opening, or in the remainder when a closeregex reads it — is
 * counted. Openings never completed are decided as ordinary lines at the
 * bound or on flush(). Text after a bare CR is the attacker's, too.
 */
export class InjectionAwareMatcher implements LineMatcher {
  private lineNo = 0;
  private held: Held[] = [];
  private head = 0;
  private heldBytes = 0;
  private heldLines = 0;
  private readonly hit: DateHit = { time: null, start: 0, end: 0 };
  private readonly starts = new Int32Array(SAFE_LINES);

  constructor(private readonly engine: LineEngine, private readonly hooks: MatcherHooks) {}

  /** Whether lines are held back waiting for a possible remainder. */
  get holding(): boolean {
    return this.head < this.held.length;
  }

  push(input: string): void {
    this.pushOne(input, true);
  }

  /** mayHold false: nothing is held and no closing fragment can follow in reach, so the line is decided now. */
  private pushOne(input: string, screen: boolean, mayHold = true): void {
    const no = ++this.lineNo;
    let line = input.length > MAX_LINE_CHARS ? input.slice(0, MAX_LINE_CHARS) : input;
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    const cr = line.indexOf('\r');
    const head = cr < 0 ? line : line.slice(0, cr);
    const hasDate = this.engine.date(head, this.hit);
    const { time, start, end } = this.hit;
    const content = this.engine.content(head, start, end, screen);
    const entry: Held = { no, line, time, content, gap: 0, pair: -1, openIp: null, tainted: cr >= 0, fixed: null, bytes: 0 };
    if (!hasDate) {
      if (line.length > 0 && this.holding) {
        this.close(entry, cr < 0 ? line : line.slice(line.lastIndexOf('\r') + 1));
        return;
      }
    } else if (mayHold || cr >= 0) {
      // Without a possible remainder an opening only matters when its remainder shares its line (after a CR).
      const op = this.engine.opening(content);
      if (op !== null) {
        const done = cr >= 0 ? this.engine.closing(op.pair, line.slice(line.lastIndexOf('\r') + 1)) : null;
        if (done !== null) {
          const ip = op.ip ?? done.ip;
          entry.fixed = ip === null ? { outcome: 'missed' } : { outcome: 'matched', ip, regex: this.pairRegex(op.pair) };
        } else {
          entry.pair = op.pair;
          entry.openIp = op.ip;
        }
      }
    }
    if ((!this.holding && entry.pair < 0) || !mayHold) this.decide(entry);
    else this.hold(entry, line.length + 1, 1);
  }

  /**
   * Many '\n'-separated lines at once (a final line without '\n' counts as
   * a line). Lines that carry a date and none of the literals the filter's
   * regexes need are only counted, never cut out of the text: this is the
   * fast path test-filter and log read-back use. onLine is not called for
   * skipped lines; onGap is.
   */
  pushLines(text: string): void {
    const screen = this.engine.parts.chunkScreen;
    if (screen === null || !this.engine.parts.anchoredDates) {
      let pos = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', pos)) {
        this.push(text.slice(pos, nl));
        pos = nl + 1;
      }
      if (pos < text.length) this.push(text.slice(pos));
      return;
    }
    const n = text.length;
    const starts = this.starts;
    let pos = 0;
    while (pos < n) {
      // Holding only matters when a dateless line may follow within the
      // hold bound: a line with SAFE_LINES certainly dated lines after it is
      // released before any closing fragment can arrive, so it is decided
      // at once. `starts` keeps the last SAFE_LINES line starts walked.
      let p = pos;
      let count = 0;
      while (p < n && this.engine.certainAt(text, p)) {
        starts[count++ % SAFE_LINES] = p;
        const nl = text.indexOf('\n', p);
        p = nl < 0 ? n : nl + 1;
      }
      if (count > SAFE_LINES) {
        const safeEnd = starts[count % SAFE_LINES]!;
        this.flush();
        this.scanNow(text, pos, safeEnd, screen);
        pos = safeEnd;
      }
      let to = n;
      if (p < n) {
        const le = text.indexOf('\n', p);
        to = le < 0 ? n : le + 1;
      }
      this.scanHeld(text, pos, to, screen);
      pos = to;
    }
  }

  /**
   * Lines [from, to) (whole lines, all certainly dated, nothing held):
   * the screen jumps from one candidate line to the next; the lines between
   * are only counted, never cut out or date-parsed.
   */
  private scanNow(text: string, from: number, to: number, screen: RegExp): void {
    let pos = from;
    let gap = 0;
    while (pos < to) {
      screen.lastIndex = pos;
      const hit = screen.test(text) ? screen.lastIndex : to + 1;
      if (hit > to) {
        for (let nl = text.indexOf('\n', pos); nl >= 0 && nl < to; nl = text.indexOf('\n', nl + 1)) gap++;
        break;
      }
      // A literal holds no newline: the hit's line is the one holding hit - 1.
      let nl = text.indexOf('\n', pos);
      while (nl < hit - 1) {
        gap++;
        pos = nl + 1;
        nl = text.indexOf('\n', pos);
      }
      if (gap > 0) this.gapNow(gap);
      gap = 0;
      this.decideNow(text.slice(pos, Math.min(nl, pos + MAX_LINE_CHARS)));
      pos = nl + 1;
    }
    if (gap > 0) this.gapNow(gap);
  }

  /** skip() while nothing is held. */
  private gapNow(lines: number): void {
    this.lineNo += lines;
    this.hooks.onGap?.(lines, 'missed');
  }

  /**
   * pushOne() for a line that cannot be held (see scanNow), without its
   * bookkeeping: a line without CR is decided by its verdict alone.
   */
  private decideNow(input: string): void {
    let line = input;
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (line.indexOf('\r') >= 0) {
      this.pushOne(input, false, false);
      return;
    }
    const no = ++this.lineNo;
    const hit = this.hit;
    this.engine.date(line, hit);
    this.emitAt(no, line, this.engine.verdict(this.engine.content(line, hit.start, hit.end, false)), hit.time);
  }

  /** Lines [from, to) through the holding path, screened line by line. */
  private scanHeld(text: string, from: number, to: number, screen: RegExp): void {
    let pos = from;
    let next = -1;
    let gapLines = 0;
    let gapBytes = 0;
    while (pos < to) {
      let le = text.indexOf('\n', pos);
      if (le < 0 || le > to) le = to;
      // `next` is where the next literal hit ENDS (test() allocates nothing);
      // a literal holds no newline, so the hit lies in this line iff it ends by le.
      if (next <= pos) {
        screen.lastIndex = pos;
        next = screen.test(text) ? screen.lastIndex : text.length + 1;
      }
      if (next <= le || !this.engine.datedAt(text, pos, le)) {
        if (gapLines > 0) this.skip(gapLines, gapBytes);
        gapLines = 0;
        gapBytes = 0;
        this.pushOne(text.slice(pos, le), next > le);
      } else {
        // Counted as push() would count it: cut length plus the newline.
        gapLines++;
        gapBytes += Math.min(le - pos, MAX_LINE_CHARS) + 1;
      }
      pos = le + 1;
    }
    if (gapLines > 0) this.skip(gapLines, gapBytes);
  }

  /** `lines` lines (`bytes` long) the caller screened out: they cannot match, open or complete anything. */
  skip(lines: number, bytes: number): void {
    if (lines <= 0) return;
    const entry: Held = { no: this.lineNo + 1, line: '', time: null, content: null, gap: lines, pair: -1, openIp: null, tainted: false, fixed: null, bytes: 0 };
    this.lineNo += lines;
    if (!this.holding) this.decide(entry);
    else this.hold(entry, bytes, lines);
  }

  flush(): void {
    while (this.head < this.held.length) this.decide(this.held[this.head++]!);
    this.reset();
  }

  private hold(entry: Held, bytes: number, lines: number): void {
    entry.bytes = bytes;
    this.held.push(entry);
    this.heldBytes += bytes;
    this.heldLines += lines;
    while (this.holding && (this.heldBytes > MAX_HELD_BYTES || this.heldLines > MAX_HELD_LINES)) this.releaseOne();
    // Lines before the earliest opening cannot be part of an injection.
    while (this.holding && this.held[this.head]!.pair < 0) this.releaseOne();
    if (!this.holding) this.reset();
    else if (this.head > 4096 && this.head * 2 > this.held.length) {
      // Decided lines must not pile up in front of the queue.
      this.held = this.held.slice(this.head);
      this.head = 0;
    }
  }

  private releaseOne(): void {
    const e = this.held[this.head++]!;
    this.heldBytes -= e.bytes;
    this.heldLines -= e.gap > 0 ? e.gap : 1;
    this.decide(e);
  }

  private reset(): void {
    this.held = [];
    this.head = 0;
    this.heldBytes = 0;
    this.heldLines = 0;
  }

  /**
   * A dateless line while openings are held: the remainder of one of them.
   * The earliest opening whose closeregex it satisfies is the one (it can
   * name the address).
   */
  private close(fragment: Held, tail: string): void {
    let j = -1;
    let closeIp: Address | null = null;
    for (let k = this.head; k < this.held.length; k++) {
      const open = this.held[k]!;
      if (open.pair < 0) continue;
      const done = this.engine.closing(open.pair, tail);
      if (done !== null) {
        j = k;
        closeIp = done.ip;
        break;
      }
    }
    if (j < 0) {
      // It completes none of the held messages by their closeregex. When an
      // opening was cut short (it matches no failregex on its own), this is
      // taken as its remainder with an unknown tail: everything in between
      // stays attacker text. When every held opening looks whole, it is no
      // remainder (a dateless line: a packet dump, a test log): it must not
      // turn real lines into 'injected', and it is not counted itself while
      // a remainder could still come.
      for (let k = this.head; k < this.held.length && j < 0; k++) {
        const open = this.held[k]!;
        if (open.pair >= 0 && this.engine.verdict(open.content).outcome !== 'matched') j = k;
      }
      if (j < 0) {
        const v = this.engine.verdict(fragment.content);
        this.report(fragment.no, fragment.line, v.outcome === 'matched' ? 'injected' : 'missed');
        return;
      }
    }
    const open = this.held[j]!;
    while (this.head < j) this.decide(this.held[this.head++]!);
    const ip = open.openIp ?? closeIp;
    const verdict: Verdict = ip === null ? { outcome: 'missed' } : { outcome: 'matched', ip, regex: this.pairRegex(open.pair) };
    if (open.openIp !== null || ip === null) {
      if (ip === null) this.report(open.no, open.line, 'injected');
      else this.emit(open, verdict);
      this.injected(j + 1);
      this.report(fragment.no, fragment.line, 'injected');
    } else {
      this.report(open.no, open.line, 'injected');
      this.injected(j + 1);
      this.emit(fragment, verdict, open.time);
    }
    this.reset();
  }

  /** Matches through an opening/closing pair are numbered after the failregex list. */
  private pairRegex(pair: number): number {
    return this.engine.parts.failregex.length + pair;
  }

  private injected(from: number): void {
    for (let k = from; k < this.held.length; k++) {
      const e = this.held[k]!;
      if (e.gap > 0) this.hooks.onGap?.(e.gap, 'injected');
      else this.report(e.no, e.line, 'injected');
    }
  }

  private decide(e: Held): void {
    if (e.gap > 0) this.hooks.onGap?.(e.gap, 'missed');
    else if (e.fixed !== null) this.emit(e, e.fixed);
    else if (e.tainted) this.report(e.no, e.line, 'injected');
    else this.emit(e, this.engine.verdict(e.content));
  }

  private emit(e: Held, v: Verdict, time: number | null = e.time): void {
    this.emitAt(e.no, e.line, v, time);
  }

  private emitAt(no: number, line: string, v: Verdict, time: number | null): void {
    if (v.outcome !== 'matched') {
      this.report(no, line, v.outcome);
      return;
    }
    const m = toMatch(v, time, line, no);
    this.hooks.onMatch(m);
    this.hooks.onLine?.(no, line, 'matched', m);
  }

  private report(no: number, line: string, outcome: LineOutcome): void {
    this.hooks.onLine?.(no, line, outcome);
  }
}
