import type { LineEngine } from './engine.js';
import { MAX_LINE_CHARS } from './limits.js';

/** What the bulk scan needs from the matcher it feeds. */
export interface BulkTarget {
  /** One line (cut, without its newline) through the state machine; `screened`: it holds no literal. */
  pushOne(line: string, screened: boolean): void;
  /** A run of screened-out lines. */
  skip(lines: number, bytes: number): void;
  /** One line, unscreened (filters without a screen). */
  push(line: string): void;
  /**
   * Which of the lines the screen would skip (dated, without its literals)
   * must come one by one all the same: 'none'; 'all'; or those holding a
   * literal (a held message's remainder must have it).
   */
  wants(): 'none' | 'all' | string;
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
 * final line without '\n' counts as a line). A line that carries a date and
 * none of the literals the filter's regexes need can neither match, open nor
 * complete anything: it is only counted, never cut out of the text. Every
 * other line goes through the same state machine as push(), so the labels
 * are the same either way.
 */
export class BulkScanner {
  constructor(private readonly engine: LineEngine, private readonly to: BulkTarget) {}

  pushLines(text: string): void {
    const screen = this.engine.parts.chunkScreen;
    if (screen === null || !this.engine.parts.anchoredDates) {
      pushEachLine(text, (line) => this.to.push(line));
      return;
    }
    const to = text.length;
    let pos = 0;
    let next = -1;
    let gapLines = 0;
    let gapBytes = 0;
    // Where each literal asked for by wants() next occurs (searched once per stretch, not per line).
    const ahead = new Map<string, number>();
    const wanted = (le: number): boolean => {
      const w = this.to.wants();
      if (w === 'none' || w === 'all') return w === 'all';
      let at = ahead.get(w);
      if (at === undefined || (at >= 0 && at < pos)) {
        at = text.indexOf(w, pos);
        ahead.set(w, at);
      }
      return at >= 0 && at + w.length <= le;
    };
    while (pos < to) {
      let le = text.indexOf('\n', pos);
      if (le < 0) le = to;
      // `next` is where the next literal hit ENDS (test() allocates nothing);
      // a literal holds no newline, so the hit lies in this line iff it ends by le.
      if (next <= pos) {
        screen.lastIndex = pos;
        next = screen.test(text) ? screen.lastIndex : to + 1;
      }
      if (next <= le || !this.engine.datedAt(text, pos, le) || wanted(le)) {
        if (gapLines > 0) this.to.skip(gapLines, gapBytes);
        gapLines = 0;
        gapBytes = 0;
        this.to.pushOne(text.slice(pos, Math.min(le, pos + MAX_LINE_CHARS + 1)), next > le);
      } else {
        gapLines++;
        gapBytes += le - pos + 1;
      }
      pos = le + 1;
    }
    if (gapLines > 0) this.to.skip(gapLines, gapBytes);
  }
}
