import type { Address } from '../core/address.js';
import type { LineMatcher, LineOutcome, MatcherHooks } from './types.js';
import type { LineEngine, Verdict } from './engine.js';
import { toMatch } from './engine.js';
import type { DateHit } from './date.js';
import { MAX_HELD_BYTES, MAX_HELD_LINES, MAX_LINE_CHARS } from './limits.js';
import { BulkScanner } from './bulk.js';

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
  private readonly bulk: BulkScanner;

  constructor(private readonly engine: LineEngine, private readonly hooks: MatcherHooks) {
    this.bulk = new BulkScanner(engine, {
      push: (line) => this.push(line),
      pushOne: (line, screened) => this.pushOne(line, screened),
      skip: (lines, bytes) => this.skip(lines, bytes),
      flush: () => this.flush(),
      gapNow: (lines) => this.gapNow(lines),
      decideNow: (line) => this.decideNow(line),
    });
  }

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
   * a line): the fast path test-filter and log read-back use (bulk.ts).
   * onLine is not called for lines screened out; onGap is.
   */
  pushLines(text: string): void {
    this.bulk.pushLines(text);
  }

  /** skip() while nothing is held. */
  private gapNow(lines: number): void {
    this.lineNo += lines;
    this.hooks.onGap?.(lines, 'missed');
  }

  /**
   * pushOne() for a line that cannot be held (see bulk.ts), without its
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
