import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * The threads test-filter works on. Kept apart from the command so that the
 * executable can start one before the command line is even parsed: a
 * worker's start and the loading of the filter code (~60 ms) then overlap
 * the loading of the CLI on the main thread.
 */

/**
 * The scan allocates briskly (one short-lived string per examined line);
 * V8 would grow its young generation to tens of MB for it. A worker with a
 * small young generation keeps peak RSS near 100 MB at no cost in speed.
 */
export const LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 1024 };
/** A part's worker: half the young generation, for the same speed (1M lines: 1.44 s either way, 126 MB against 148 in all). */
export const PART_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 1024 };

/** A worker waiting for its job, started by prewarm(). */
let waiting: Worker | null = null;

/** A worker for the job `data`; with null it waits for its job as a message (prewarm). */
function start(limits: ResourceLimits, data: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? '../filter/test-worker.ts' : '../filter/test-worker.js', import.meta.url);
  const options = { workerData: data, resourceLimits: limits };
  if (!fromSource) return new Worker(entry, options);
  // Run from TypeScript sources (tests, development), the worker needs tsx's loader registered first.
  return new Worker(`import('tsx/esm/api').then((t) => t.register()).then(() => import(${JSON.stringify(entry.href)}))`, { ...options, eval: true });
}

/**
 * Starts the single-pass worker ahead of time. It does not keep the process
 * alive: a command line that turns out not to run test-filter (--help, a
 * usage error) exits as if it had never been started.
 */
export function prewarm(): void {
  if (waiting !== null) return;
  waiting = start(LIMITS, null);
  waiting.unref();
  // A worker that failed to start is not taken: the job gets a fresh one.
  waiting.once('error', () => {
    waiting = null;
  });
}

/**
 * A worker for `job`: the prewarmed one when its limits are those asked
 * for, else a new one. A split run's parts want a smaller young generation
 * (as the first part the prewarmed worker took a 300,000-line log's two
 * parts to 121 MB at peak, against 113): it is stopped instead.
 */
export function workerFor(job: unknown, limits: ResourceLimits): Worker {
  const w = waiting;
  waiting = null;
  if (w !== null && limits === LIMITS) {
    w.ref();
    w.postMessage(job);
    return w;
  }
  void w?.terminate();
  return start(limits, job);
}
