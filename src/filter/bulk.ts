import type { LineEngine } from './engine.js';
import { MAX_HELD_LINES, MAX_LINE_CHARS } from './limits.js';

/** Dated lines after a line that guarantee it is released before any closing fragment (the line bound, plus margin). */
const SAFE_LINES = MAX_HELD_LINES + 2;
/** Ring size for line and candidate starts (more than SAFE_LINES + 1; a power of two, so `& RING_MASK` replaces a division per line). */
const RING = 2048;
const RING_MASK = RING - 1;

/** What the bulk scan needs from the matcher it feeds. */
export interface BulkTarget {
  /** One line (cut, without its newline) through the holding path; `screened`: it holds no literal. */
  pushOne(line: string, screened: boolean): void;
  /** A run of screened-out lines through the holding path. */
  skip(lines: number, bytes: number): void;
  /** Decide every held line. */
  flush(): void;
  /** A run of screened-out lines while nothing is held. */
  gapNow(lines: number): void;
  /** A line that can never be held (nothing held, no dateless line within reach). */
  decideNow(line: string): void;
  /** One line, unscreened (filters without a screen). */
  push(line: string): void;
}

/** Each '\n'-separated line of `text` (a final line without '\n' counts as a line), without its newline. */
export function pushEachLine(text: string, push: (line: string) => void): void {
  let pos = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', pos)) {
    push(text.slice(pos, nl));
    pos = nl + 1;
  }
  if (pos < text.length) push(text.slice(pos));
}

/**
 * InjectionAwareMatcher.pushLines(): many '\n'-separated lines at once (a
 * final line without '\n' counts as a line). Lines that carry a date and
 * none of the literals the filter's regexes need are only counted, never
 * cut out of the text: this is the fast path test-filter and log read-back
 * use.
 */
export class BulkScanner {
  /** Starts of the lines scanFrom() walked (the last RING of them). */
  private readonly starts = new Int32Array(RING);
  /** Walk indices and starts of candidate lines not yet decided (at most SAFE_LINES + 1). */
  private readonly cands = new Int32Array(RING);
  private readonly candStarts = new Int32Array(RING);

  constructor(private readonly engine: LineEngine, private readonly to: BulkTarget) {}

  pushLines(text: string): void {
    const screen = this.engine.parts.chunkScreen;
    if (screen === null || !this.engine.parts.anchoredDates) {
      pushEachLine(text, (line) => this.to.push(line));
      return;
    }
    const n = text.length;
    let pos = 0;
    while (pos < n) pos = this.scanFrom(text, pos, screen);
  }

  /**
   * Holding only matters when a dateless line may follow within the hold
   * bound: a line with SAFE_LINES certainly dated lines after it is
   * released before any closing fragment can arrive, so it is decided at
   * once. This walks the certainly dated lines from `pos` (one indexOf
   * each; the screen jumps to the lines holding a literal) and decides
   * candidates SAFE_LINES lines behind the walk; the lines between them
   * are only counted. The last SAFE_LINES lines before a line that may be
   * dateless (or the end of the text) go through scanHeld(). Returns where
   * to continue.
   */
  private scanFrom(text: string, pos: number, screen: RegExp): number {
    const n = text.length;
    const starts = this.starts;
    const cands = this.cands;
    const candStarts = this.candStarts;
    let p = pos;
    let count = 0;
    let hit = -1;
    let decided = 0;
    let head = 0;
    let tail = 0;
    while (p < n && this.engine.certainAt(text, p)) {
      starts[count & RING_MASK] = p;
      const nl = text.indexOf('\n', p);
      const le = nl < 0 ? n : nl;
      if (hit < p) {
        screen.lastIndex = p;
        hit = screen.test(text) ? screen.lastIndex : n + 1;
      }
      // A literal holds no newline: the hit lies in this line iff it ends by le.
      if (hit <= le) {
        cands[tail & RING_MASK] = count;
        candStarts[tail++ & RING_MASK] = p;
      }
      count++;
      p = nl < 0 ? n : nl + 1;
      if (count <= SAFE_LINES) continue;
      if (count === SAFE_LINES + 1) this.to.flush();
      const safe = count - 1 - SAFE_LINES;
      while (head < tail && cands[head & RING_MASK]! <= safe) {
        const idx = cands[head & RING_MASK]!;
        const start = candStarts[head++ & RING_MASK]!;
        if (idx > decided) this.to.gapNow(idx - decided);
        const end = text.indexOf('\n', start);
        this.to.decideNow(text.slice(start, Math.min(end < 0 ? n : end, start + MAX_LINE_CHARS)));
        decided = idx + 1;
      }
    }
    let from = pos;
    if (count > SAFE_LINES) {
      if (count - SAFE_LINES > decided) this.to.gapNow(count - SAFE_LINES - decided);
      from = starts[(count - SAFE_LINES) & RING_MASK]!;
    }
    let to = n;
    if (p < n) {
      const le = text.indexOf('\n', p);
      to = le < 0 ? n : le + 1;
    }
    this.scanHeld(text, from, to, screen);
    return to;
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
        if (gapLines > 0) this.to.skip(gapLines, gapBytes);
        gapLines = 0;
        gapBytes = 0;
        this.to.pushOne(text.slice(pos, le), next > le);
      } else {
        // Counted as push() would count it: cut length plus the newline.
        gapLines++;
        gapBytes += Math.min(le - pos, MAX_LINE_CHARS) + 1;
      }
      pos = le + 1;
    }
    if (gapLines > 0) this.to.skip(gapLines, gapBytes);
  }
}
