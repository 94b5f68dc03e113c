import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import type { TestFilterOptions } from '../filter/test-run.js';
import type { PartResult, PartSpec } from '../filter/test-part.js';
import { mergeParts, report } from '../filter/test-tally.js';
import { SEAM_BYTES } from '../filter/limits.js';
import { LIMITS, PART_LIMITS, workerFor } from './test-filter-worker.js';

export type { TestFilterOptions } from '../filter/test-run.js';

/** Smaller files are read in one pass: starting a thread costs more than it saves. */
const MIN_PART_BYTES = 4 * 1024 * 1024;
const MAX_PARTS = 4;

interface Message { stream?: 'out' | 'err'; text?: string; code?: number; part?: PartResult }

function inWorker(job: unknown, out: (s: string) => void, err: (s: string) => void, limits = LIMITS): Promise<Message> {
  return new Promise((resolve, reject) => {
    let last: Message | undefined;
    const worker = workerFor(job, limits);
    worker.on('message', (m: Message) => {
      if (m.text !== undefined) (m.stream === 'err' ? err : out)(m.text);
      if (m.code !== undefined) last = m;
    });
    worker.once('error', reject);
    worker.once('exit', (exit) => (last !== undefined ? resolve(last) : reject(new Error(`test-filter worker stopped (exit ${exit})`))));
  });
}

/**
 * How many parts to cut the log into: --jobs, or one per two CPUs (at most
 * MAX_PARTS), each at least minPartBytes. One pass already keeps two CPUs
 * busy: the scan on one, V8's garbage collector and compiler on the other.
 * On two CPUs a second part made a 300,000-line log (40 MB) 2-7 % faster
 * and a 1,000,000-line one (132 MB) 1.3 times faster, for ~20 MB more RSS
 * (test/bench/filter-bench.ts --jobs 2).
 */
function partsFor(log: string, opts: TestFilterOptions): { n: number; size: number } {
  // The per-line listings stream in line order from one pass.
  if (opts.json === true || opts.printAllMatched === true || opts.printAllMissed === true) return { n: 1, size: 0 };
  let size: number;
  try {
    const st = statSync(log);
    if (!st.isFile()) return { n: 1, size: 0 };
    size = st.size;
  } catch {
    return { n: 1, size: 0 };
  }
  const jobs = opts.jobs ?? Math.min(Math.floor(availableParallelism() / 2), MAX_PARTS);
  return { n: Math.max(1, Math.min(jobs, Math.floor(size / Math.max(2 * SEAM_BYTES, opts.minPartBytes ?? MIN_PART_BYTES)))), size };
}

/** A split run: the report, or null when it must run in one pass after all (a cut where the neighbours never agree). */
async function inParts(log: string, filter: string, opts: TestFilterOptions, n: number, size: number, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number | null> {
  const specs: PartSpec[] = Array.from({ length: n }, (_x, i) => ({
    log, filter, opts, start: Math.floor((size * i) / n), end: Math.floor((size * (i + 1)) / n), first: i === 0, last: i === n - 1,
  }));
  const errors = specs.map(() => [] as string[]);
  const done = await Promise.all(specs.map((part, i) => inWorker({ part, size }, () => undefined, (s) => errors[i]!.push(s), PART_LIMITS)));
  const parts: Extract<PartResult, { ok: true }>[] = [];
  for (const [i, m] of done.entries()) {
    if (m.part?.ok !== true) {
      // Every part fails alike for a filter that does not compile: say it once.
      err.write(errors[i]!.join('') || errors.flat().join(''));
      return 1;
    }
    parts.push(m.part);
  }
  const total = mergeParts(parts);
  if (total === null) return null;
  const text: string[] = [];
  report(total, parts[0]!.face, (s) => text.push(s));
  out.write(text.join(''));
  return 0;
}

/**
 * `asterisk-ban test-filter LOG FILTER`: runs a filter over a log file the
 * way the daemon would and reports what matched; returns the exit code.
 * FILTER is a filter file, a name in <config>/filter.d (name[mode=gaps]
 * works), or a single failregex. A big log's summary is worked out in
 * parts on several threads (src/filter/test-part.ts).
 */
export async function testFilterCommand(
  log: string,
  filter: string,
  opts: TestFilterOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  try {
    const { n, size } = partsFor(log, opts);
    if (n > 1) {
      const code = await inParts(log, filter, opts, n, size, out, err);
      if (code !== null) return code;
    }
    const m = await inWorker({ log, filter, opts }, (s) => out.write(s), (s) => err.write(s));
    return m.code ?? 1;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
      err.write('test-filter: out of memory\n');
      return 1;
    }
    // No worker (an unusual runtime): same work on this thread. Imported
    // only here, so the main thread does not load the filter code twice.
    const { runFilterTest } = await import('../filter/test-run.js');
    return runFilterTest(log, filter, opts, out, err);
  }
}
