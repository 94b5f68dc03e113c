import { Worker } from 'node:worker_threads';
import type { TestFilterOptions } from '../filter/test-run.js';

export type { TestFilterOptions } from '../filter/test-run.js';

/**
 * The scan allocates briskly (one short-lived string per examined line);
 * V8 would grow its young generation to tens of MB for it. A worker with a
 * small young generation keeps peak RSS near 100 MB at no cost in speed.
 */
const LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 1024 };

interface Message { stream?: 'out' | 'err'; text?: string; code?: number }

function inWorker(log: string, filter: string, opts: TestFilterOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? '../filter/test-worker.ts' : '../filter/test-worker.js', import.meta.url);
  // Run from TypeScript sources (tests, development), the worker needs tsx's loader registered first.
  const code0 = fromSource ? `import('tsx/esm/api').then((t) => t.register()).then(() => import(${JSON.stringify(entry.href)}))` : null;
  return new Promise((resolve, reject) => {
    let code: number | undefined;
    const options = { workerData: { log, filter, opts }, resourceLimits: LIMITS };
    const worker = code0 === null ? new Worker(entry, options) : new Worker(code0, { ...options, eval: true });
    worker.on('message', (m: Message) => {
      if (m.text !== undefined) (m.stream === 'err' ? err : out).write(m.text);
      if (m.code !== undefined) code = m.code;
    });
    worker.once('error', reject);
    worker.once('exit', (exit) => (code !== undefined ? resolve(code) : reject(new Error(`test-filter worker stopped (exit ${exit})`))));
  });
}

/**
 * `asterisk-ban test-filter LOG FILTER`: runs a filter over a log file the
 * way the daemon would and reports what matched; returns the exit code.
 * FILTER is a filter file, a name in <config>/filter.d (name[mode=gaps]
 * works), or a single failregex.
 */
export async function testFilterCommand(
  log: string,
  filter: string,
  opts: TestFilterOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  try {
    return await inWorker(log, filter, opts, out, err);
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
