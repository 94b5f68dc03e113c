import type { Address } from '../core/address.js';
import type { LineMatcher, LineOutcome, MatcherHooks, MatcherOptions } from './types.js';
import type { LineEngine, Opening, Verdict } from './engine.js';
import { ASTERISK_PREFIX, candidatesOf, distinct, joinText, ownIps } from './message.js';
import type { Held, Line, Parked } from './message.js';
import { toMatch } from './engine.js';
import type { DateHit } from './date.js';
import { MAX_LINE_CHARS, REACH_CHARS, TAIL_REACH_CHARS } from './limits.js';
import { BulkScanner } from './bulk.js';
import { Episodes } from './episodes.js';

/**
 * The stateful half of a filter: the one state machine that labels each
 * line, for the daemon and test-filter alike.
 *
 * Asterisk logs some attacker-controlled fields with their newlines decoded,
 * so one message (one write) can carry forged, well-formed lines. Those
 * fields are short, so everything an attacker wrote into a message starts
 * within REACH_CHARS after its first line.
 * - A line matching an openregex (a known message that may stop inside such
 *   a field) is held until its reach is over, the read ends, or flush().
 *   Its remainders (closeregex: a line without a date, or behind a date the
 *   attacker wrote) are put together with it and judged by failregex; its
 *   verdict goes on its first line: the one address its readings name, or
 *   no one when they name several ('ambiguous'). The lines up to its last
 *   remainder are the attacker's ('injected'); the rest start afresh.
 * - A message that reads whole, followed by one cut by a line break, is
 *   parked until its reach is over: a later remainder of its kind is one
 *   more reading of it.
 * - A line matching a tailregex (a message whose last field is the
 *   attacker's) counts at once, and makes the lines that come with it
 *   suspect; so does a message cut short with no remainder in reach. A line
 *   in such a window that names another address is 'suspect' (episodes.ts).
 * A line's label depends on nothing beyond the reach of the lines before it.
 */
export class InjectionAwareMatcher implements LineMatcher {
  private lineNo = 0;
  private pos = 0;
  private read = 0;
  private held: Held | null = null;
  private readonly queue: Line[] = [];
  private draining = false;
  /** Once the log has shown dated lines, a line without a date is the rest of some message, never a failure of its own. */
  private sawDate = false;
  private readonly episodes = new Episodes();
  /**
   * Messages that read whole but whose reach is not over yet: a later
   * remainder of their kind still joins their readings (see step()).
   */
  private parked: Parked[] = [];
  private readonly hit: DateHit = { time: null, start: 0, end: 0 };
  private readonly bulk: BulkScanner;
  private readonly reads: boolean;
  private readonly beforeLine: ((lineNo: number) => void) | null;
  private readonly everyLine: boolean;

  constructor(private readonly engine: LineEngine, private readonly hooks: MatcherHooks, opts: MatcherOptions = {}) {
    this.reads = opts.reads === true;
    this.beforeLine = opts.beforeLine ?? null;
    this.everyLine = opts.everyLine === true;
    if (opts.from) {
      this.lineNo = opts.from.lines;
      this.pos = opts.from.pos;
    }
    this.bulk = new BulkScanner(engine, {
      push: (line) => this.push(line),
      pushOne: (line, screened) => this.pushOne(line, screened),
      skip: (lines, bytes) => this.skip(lines, bytes),
      wants: () => this.wants(),
    });
  }

  /**
   * Which dated lines without the screen's literals the bulk scan must
   * still hand over one by one (see BulkTarget.wants). Such a line can
   * neither match nor open anything, so only a held message could want
   * it, as its remainder behind a forged date, and only a cut one
   * (completes()), whose remainder matches its closeregex: a line without
   * that regex's literal cannot. With every line's label asked for
   * (`everyLine`), the lines a message holds are each named as they are.
   */
  private wants(): 'none' | 'all' | string {
    const h = this.held;
    if (h === null) return 'none';
    if (this.everyLine) return 'all';
    if (!h.cut) return 'none';
    return this.engine.parts.pairs[h.op.pair]!.close?.literal ?? 'all';
  }

  /** Whether a message is held back waiting for the rest of it. */
  get holding(): boolean {
    return this.held !== null;
  }

  /** Lines taken in so far (skipped ones included), counting those before `from`. */
  get lines(): number {
    return this.lineNo;
  }

  /**
   * All that the labels of this and later lines depend on, other than the
   * lines themselves: the message held and the lines held with it, those
   * parked with their readings, the suspect windows that still reach a line
   * not yet decided, whether a date was seen. Lines go by their numbers, so
   * two runs over the same file whose matchers give the same key before the
   * same line label every line from there on alike, whatever came before.
   */
  stateKey(): string {
    const parts = [this.sawDate ? 'dated' : 'undated'];
    let oldest = this.pos;
    const h = this.held;
    if (h !== null) {
      parts.push(`held ${h.head.no} ${h.op.pair} ${h.cut} ${h.lastClose} ${h.joined.map(verdictKey).join(',')} ${h.inner.map((e) => `${e.no}+${e.gap}`).join(',')}`);
      oldest = Math.min(oldest, h.head.pos);
    }
    for (const p of this.parked) {
      parts.push(`parked ${p.head.no} ${p.pair} ${p.readings.map(verdictKey).join(',')}`);
      oldest = Math.min(oldest, p.head.pos);
    }
    parts.push(this.episodes.key(oldest));
    return parts.join('|');
  }

  push(input: string): void {
    this.pushOne(input, true);
  }

  private pushOne(input: string, screen: boolean): void {
    let line = input.length > MAX_LINE_CHARS ? input.slice(0, MAX_LINE_CHARS) : input;
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    this.beforeLine?.(this.lineNo + 1);
    const cr = line.indexOf('\r');
    const head = cr < 0 ? line : line.slice(0, cr);
    const dated = this.engine.date(head, this.hit);
    const { time, start, end } = this.hit;
    const entry: Line = {
      no: ++this.lineNo,
      line,
      time,
      dated,
      content: this.engine.content(head, start, end, screen),
      dateEnd: end,
      tail: cr < 0 ? null : line.slice(line.lastIndexOf('\r') + 1),
      pos: this.pos,
      end: this.pos + input.length + 1,
      read: this.read,
      gap: 0,
    };
    this.pos = entry.end;
    this.feed(entry);
  }

  /** Many '\n'-separated lines at once (bulk.ts screens out those that cannot matter). */
  pushLines(text: string): void {
    this.bulk.pushLines(text);
  }

  /** `lines` lines (`bytes` long) the caller screened out: dated, and unable to match, open or complete anything. */
  skip(lines: number, bytes: number): void {
    if (lines <= 0) return;
    const entry: Line = { no: this.lineNo + 1, line: '', time: null, dated: true, content: null, dateEnd: 0, tail: null, pos: this.pos, end: this.pos + bytes, read: this.read, gap: lines };
    this.lineNo += lines;
    this.pos = entry.end;
    this.feed(entry);
  }

  /** End of a read (or of the input): the held message has all its lines. */
  flush(): void {
    while (this.held !== null) {
      this.resolve();
      this.drain();
    }
    this.unpark();
    this.read++;
  }

  private feed(entry: Line): void {
    this.queue.push(entry);
    this.drain();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) this.step(this.queue.shift()!);
    } finally {
      this.draining = false;
    }
  }

  private step(l: Line): void {
    if (l.dated && l.gap === 0) this.sawDate = true;
    if (this.parked.length > 0) this.feedParked(l);
    const h = this.held;
    if (h === null) {
      this.judge(l);
      return;
    }
    if (l.pos - h.head.end >= REACH_CHARS || l.read !== h.head.read) {
      // Beyond what the attacker's field can reach (or a read later): the held message is over.
      this.queue.unshift(l);
      this.resolve();
      return;
    }
    if ((!h.cut || h.joined.length > 0) && this.opensCut(l)) {
      // A message that reads whole (as it stands, or with its remainder),
      // then one cut by a line break: the remainders to come are the second
      // one's. Unless the first one's whole look was the attacker's fake end
      // and the second is forged: so the first is parked until its reach is
      // over, and a remainder of its kind that comes meanwhile is one more
      // way to read it.
      this.queue.unshift(l);
      this.resolve(true);
      return;
    }
    h.inner.push(l);
    if (!this.completes(h, l)) return;
    h.lastClose = h.inner.length - 1;
    h.joined.push(this.engine.verdict(joinText(h.head, l.tail ?? l.line)));
  }

  /** Whether a dated line opens a message that its own line does not complete. */
  private opensCut(l: Line): boolean {
    if (!l.dated || l.gap > 0) return false;
    const op = this.openingOf(l);
    if (op === null || this.engine.parts.pairs[op.pair]!.tail) return false;
    return l.tail !== null || this.engine.closing(op.pair, l.content ?? '') === null;
  }

  /** Parked messages past their reach are decided; a remainder of their kind within it is one more reading. */
  private feedParked(l: Line): void {
    const keep: Parked[] = [];
    for (const p of this.parked) {
      if (l.pos - p.head.end >= REACH_CHARS || l.read !== p.head.read) {
        this.decideReadings(p.head, p.readings);
        continue;
      }
      if (!l.dated && l.gap === 0 && this.engine.closing(p.pair, l.line) !== null) p.readings.push(this.engine.verdict(joinText(p.head, l.tail ?? l.line)));
      keep.push(p);
    }
    this.parked = keep;
  }

  private unpark(): void {
    const all = this.parked;
    this.parked = [];
    for (const p of all) this.decideReadings(p.head, p.readings);
  }

  /** A message's verdict from its readings: one address counts, several count no one. Returns the address counted. */
  private decideReadings(head: Line, readings: Verdict[]): string | null {
    const candidates = distinct(readings.flatMap(ownIps));
    if (candidates.length === 1) {
      const ip = candidates[0]!;
      const v = readings.find((r): r is Verdict & { outcome: 'matched' } => r.outcome === 'matched' && r.ip.text === ip.text)!;
      return this.decide(head, v) ? ip.text : null;
    }
    if (candidates.length > 1) this.ambiguous(head, candidates);
    else if (readings.some((r) => r.outcome === 'ignored')) this.label(head, 'ignored');
    // Asterisk's own line, not a failure in this filter's mode; one with a bare CR carries attacker text.
    else this.label(head, head.tail !== null ? 'injected' : 'missed');
    return null;
  }

  /** Whether a line is a remainder of the held message. */
  private completes(h: Held, l: Line): boolean {
    if (l.gap > 0) return false;
    // Inside a cut message, a dated line can be its remainder behind a date
    // (and even a source) the attacker wrote: when it is no message of
    // Asterisk's, or one that is neither a failure nor opens anything.
    if (l.dated && (!h.cut || (this.parses(l) && (this.ownOf(l).outcome !== 'missed' || this.openingOf(l) !== null)))) return false;
    return this.engine.closing(h.op.pair, l.line) !== null;
  }

  /** Whether a dated line starts the way Asterisk starts a message (any level, any source). */
  private parses(l: Line): boolean {
    return ASTERISK_PREFIX.test(l.line.slice(l.dateEnd, l.dateEnd + 200));
  }

  /** A line with nothing held before it. */
  private judge(l: Line): void {
    if (l.gap > 0) {
      this.hooks.onGap?.(l.gap, 'missed', l.no);
      return;
    }
    if (!l.dated) {
      const v = this.ownOf(l);
      // In a dated log, a line without a date is the rest of a message that carried line breaks.
      if ((v.outcome === 'matched' || v.outcome === 'ambiguous') && this.sawDate) this.label(l, 'injected', candidatesOf(v));
      else this.decide(l, v);
      return;
    }
    const op = this.openingOf(l);
    if (op === null) {
      if (l.tail !== null) this.label(l, 'injected', candidatesOf(this.ownOf(l)));
      else this.decide(l, this.ownOf(l));
      return;
    }
    if (this.engine.parts.pairs[op.pair]!.tail) {
      // The attacker's field ends the message: nothing to wait for, and the lines that come with it are suspect.
      const own = this.ownOf(l);
      const counted = this.decide(l, own);
      // Only a line that counted speaks for its sender: a suspect one (forged?) owns nothing.
      const sender = counted && own.outcome === 'matched' ? own.ip.text : null;
      this.episodes.open({ own: sender, end: l.end, reach: TAIL_REACH_CHARS, time: l.time, read: l.read });
      return;
    }
    const h: Held = { head: l, op, inner: [], lastClose: -1, joined: [], cut: false };
    // A bare CR inside the line is the attacker's line break: the line ends with the remainder.
    const selfClosed = l.tail !== null && this.engine.closing(op.pair, l.line) !== null;
    if (selfClosed) h.joined.push(this.engine.verdict(joinText(l, l.tail!)));
    // A bare CR means the line goes on past the text before it, so that text is never the whole message.
    h.cut = l.tail !== null || this.engine.closing(op.pair, l.content ?? '') === null;
    this.held = h;
  }

  /**
   * The held message is over: its first line carries the verdict on the
   * message put together (its own text when it needed no remainder); the
   * lines up to its last remainder are the attacker's; the rest start afresh.
   * `defer`: its verdict waits for the end of its reach (see step()).
   */
  private resolve(defer = false): void {
    const h = this.held;
    if (h === null) return;
    this.held = null;
    const { head } = h;
    const own = this.ownOf(head);
    // Every reading of the message: the first line as it stands (unless cut), and with each remainder.
    const readings = h.cut ? h.joined : [own, ...h.joined];
    let counted: string | null = null;
    if (defer) this.parked.push({ head, pair: h.op.pair, readings });
    else counted = this.decideReadings(head, readings);
    for (let k = 0; k <= h.lastClose && k < h.inner.length; k++) {
      const e = h.inner[k]!;
      if (e.gap > 0) this.hooks.onGap?.(e.gap, 'injected', e.no);
      else this.label(e, 'injected', candidatesOf(this.ownOf(e)));
    }
    if (h.cut && h.joined.length === 0) {
      // Cut short, and no remainder in reach: the lines after it may still be the attacker's.
      this.episodes.open({ own: counted, end: head.end, reach: REACH_CHARS, time: head.time, read: head.read });
    }
    const rest = h.lastClose + 1 < h.inner.length ? h.inner.slice(h.lastClose + 1) : [];
    if (rest.length > 0) this.queue.unshift(...rest);
  }

  /** A line's own verdict, counted or not; 'suspect' when a window it lies in belongs to another address. Returns whether it counted. */
  private decide(l: Line, v: Verdict, suspect = false): boolean {
    if (v.outcome === 'ambiguous') {
      this.ambiguous(l, v.ips);
      return false;
    }
    if (v.outcome !== 'matched') {
      this.label(l, v.outcome);
      return false;
    }
    const m = toMatch(v, l.time, l.line, l.no);
    if (suspect || this.episodes.suspects(l, v.ip.text, this.reads)) {
      m.suspect = true;
      this.hooks.onSuspect?.(m);
      this.hooks.onLine?.(l.no, l.line, 'suspect', m);
      return false;
    }
    this.hooks.onMatch(m);
    this.hooks.onLine?.(l.no, l.line, 'matched', m);
    return true;
  }

  private ambiguous(l: Line, ips: Address[]): void {
    const texts = ips.map((a) => a.text);
    this.label(l, 'ambiguous', texts);
    this.hooks.onAmbiguous?.(l.no, l.line, texts);
  }

  private label(l: Line, outcome: LineOutcome, candidates?: string[]): void {
    this.hooks.onLine?.(l.no, l.line, outcome, undefined, candidates);
  }

  private openingOf(l: Line): Opening | null {
    if (l.op === undefined) l.op = this.engine.opening(l.content);
    return l.op;
  }

  private ownOf(l: Line): Verdict {
    if (l.own === undefined) l.own = this.engine.verdict(l.content);
    return l.own;
  }
}

function verdictKey(v: Verdict): string {
  if (v.outcome === 'matched') return `${v.ip.text}/${v.regex}`;
  if (v.outcome === 'ambiguous') return v.ips.map((a) => a.text).join('/');
  return v.outcome;
}
