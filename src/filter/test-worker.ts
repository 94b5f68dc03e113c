import { parentPort, workerData } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { runFilterTest } from './test-run.js';
import type { TestFilterOptions } from './test-run.js';

/** Worker entry for test-filter: output goes back to the parent as messages. */
interface Job { log: string; filter: string; opts: TestFilterOptions }

const port = parentPort!;
const job = workerData as Job;
const sink = (stream: 'out' | 'err'): Writable =>
  new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      port.postMessage({ stream, text: String(chunk) });
      cb();
    },
  });

runFilterTest(job.log, job.filter, job.opts, sink('out'), sink('err')).then(
  (code) => port.postMessage({ code }),
  (e: unknown) => port.postMessage({ stream: 'err', text: `test-filter: ${(e as Error).message}\n`, code: 1 }),
);
