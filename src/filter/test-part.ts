import { open, type FileHandle } from 'node:fs/promises';
import type { MatcherHooks } from './index.js';
import { readLineChunks } from './chunks.js';
import { SEAM_BYTES } from './limits.js';
import { asideText, compileOrSay } from './test-run.js';
import type { TestFilterOptions } from './test-run.js';
import { ASIDES_SHOWN, countGap, countLine, emptyTally, isSkipped } from './test-tally.js';
import type { FilterFace, Seam, TallyData } from './test-tally.js';

/**
 * One part of a test-filter run split across threads. The file is cut at
 * line starts; each part but the first starts SEAM_BYTES early, with a fresh
 * matcher whose labels there are thrown away, and each but the last reads
 * SEAM_BYTES past its end. Around each cut both neighbours keep every
 * line's label and their matcher's state before each line
 * (InjectionAwareMatcher.stateKey). From the first line before which both
 * states agree, both label alike, so the earlier part's labels hold before
 * it and the later part's from it on: together they label every line as
 * one pass would.
 */
export interface PartSpec {
  log: string;
  filter: string;
  opts: TestFilterOptions;
  /** Where the part starts and ends before alignment to line starts (0 and the file's size at the ends). */
  start: number;
  end: number;
  first: boolean;
  last: boolean;
}

export type PartResult =
  | { ok: true; face: FilterFace; main: TallyData; head: Seam; tail: Seam }
  | { ok: false };

/** Bytes a part reads at a time: half a single pass's, so that several parts stay near its memory. */
const PART_CHUNK_BYTES = 1024 * 1024;

/** The first line start at or after `offset` (a line start is 0 or just past a '\n'). */
async function lineStartAtOrAfter(fh: FileHandle, offset: number, size: number): Promise<number> {
  if (offset <= 0) return 0;
  if (offset >= size) return size;
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (let at = offset - 1; at < size; at += buf.length) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, at);
    if (bytesRead === 0) break;
    const nl = buf.indexOf(10);
    if (nl >= 0 && nl < bytesRead) return at + nl + 1;
  }
  return size;
}

/** The number of '\n' in the file's first `end` bytes. */
async function linesBefore(fh: FileHandle, end: number): Promise<number> {
  const buf = Buffer.allocUnsafe(PART_CHUNK_BYTES);
  let n = 0;
  for (let at = 0; at < end;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
    if (bytesRead === 0) break;
    for (let i = buf.indexOf(10); i >= 0 && i < bytesRead; i = buf.indexOf(10, i + 1)) n++;
    at += bytesRead;
  }
  return n;
}

/** Where a part's regions begin (line starts), and the lines before the first byte it reads. */
interface Layout { warm: number; start: number; headEnd: number; end: number; tailEnd: number; lines: number }

async function layout(spec: PartSpec, size: number): Promise<Layout> {
  const fh = await open(spec.log, 'r');
  try {
    const at = (offset: number): Promise<number> => lineStartAtOrAfter(fh, offset, size);
    const start = spec.first ? 0 : await at(spec.start);
    const end = spec.last ? size : await at(spec.end);
    const warm = spec.first ? 0 : await at(start - SEAM_BYTES);
    const headEnd = spec.first ? 0 : Math.min(end, await at(start + SEAM_BYTES));
    const tailEnd = spec.last ? size : await at(end + SEAM_BYTES);
    return { warm, start, headEnd, end, tailEnd, lines: await linesBefore(fh, warm) };
  } finally {
    await fh.close();
  }
}

/** Runs one part; the reason it failed (a filter that does not compile, an unreadable file) goes to `err`. */
export async function runFilterPart(spec: PartSpec, size: number, err: NodeJS.WritableStream): Promise<PartResult> {
  const compiled = await compileOrSay(spec.filter, spec.opts, err);
  if (compiled === null) return { ok: false };
  const { log } = spec;
  let place: Layout;
  try {
    place = await layout(spec, size);
  } catch (e) {
    err.write(`test-filter: cannot read ${log}: ${(e as Error).message}\n`);
    return { ok: false };
  }
  const { warm, start, headEnd, end, tailEnd, lines } = place;
  // Offsets, in order, where a region begins; lines before each, once the reader has passed it.
  const marks = [start, headEnd, end, tailEnd];
  const before = [Infinity, Infinity, Infinity, Infinity];
  const main = emptyTally();
  const head: Seam = { records: [], states: [] };
  const tail: Seam = { records: [], states: [] };
  /** Where line `no` belongs: dropped (warm-up, past the tail), a seam, or the part's own tally. */
  const region = (no: number): Seam | TallyData | null => {
    if (no <= before[0]!) return null;
    if (no <= before[1]!) return head;
    if (no <= before[2]!) return main;
    if (no <= before[3]!) return tail;
    return null;
  };
  const hooks: MatcherHooks = {
    onMatch() {
      // Counted with its line.
    },
    onLine(no, line, outcome, m, candidates) {
      const to = region(no);
      if (to === null) return;
      const skipped = isSkipped(line, outcome);
      // A seam keeps every line's text (the merge decides which part's counts); the main region only its first few.
      const aside = 'records' in to || to.asides.length < ASIDES_SHOWN ? asideText(no, line, outcome, m, candidates) : null;
      if ('records' in to) to.records.push({ no, outcome, skipped, m: m && { regex: m.regex, ip: m.ip, time: m.time }, aside });
      else countLine(to, no, outcome, skipped, m, aside);
    },
    onGap(lines, outcome, firstNo) {
      const to = region(firstNo);
      if (to === null) return;
      if ('records' in to) to.records.push({ no: firstNo, gap: lines, outcome });
      else countGap(to, lines, outcome);
    },
  };
  const matcher = compiled.matcher(hooks, {
    from: { lines, pos: warm },
    beforeLine(no) {
      const to = region(no);
      if (to !== null && 'records' in to) to.states.push([no, matcher.stateKey!()]);
    },
  });
  if (typeof matcher.pushLines !== 'function' || typeof matcher.stateKey !== 'function') throw new Error('test-filter: this matcher cannot be split');
  const pushLines = matcher.pushLines.bind(matcher);
  const lineCount = (): number => matcher.lines ?? 0;
  let next = 0;
  const passMarks = (at: number): void => {
    while (next < marks.length && marks[next]! <= at) before[next++] = lineCount();
  };
  try {
    await readLineChunks(log, (text, at) => {
      let from = 0;
      passMarks(at);
      // A mark inside the text: cut there, so the lines before it are counted first.
      while (next < marks.length && marks[next]! < at + text.length) {
        const cut = marks[next]! - at;
        pushLines(text.slice(from, cut));
        from = cut;
        passMarks(at + cut);
      }
      pushLines(from === 0 ? text : text.slice(from));
    }, 'latin1', PART_CHUNK_BYTES, { start: warm, end: tailEnd });
  } catch (e) {
    err.write(`test-filter: cannot read ${log}: ${(e as Error).message}\n`);
    return { ok: false };
  }
  passMarks(tailEnd);
  matcher.flush();
  return { ok: true, face: { failregex: compiled.failregex, reasons: compiled.reasons }, main, head, tail };
}
