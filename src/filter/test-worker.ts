import { parentPort, workerData } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { runFilterTest } from './test-run.js';
import type { TestFilterOptions } from './test-run.js';
import { runFilterPart } from './test-part.js';
import type { PartSpec } from './test-part.js';

/** Worker entry for test-filter: a whole run, or one part of a split one; output goes back to the parent as messages. */
type Job = { log: string; filter: string; opts: TestFilterOptions; part?: undefined } | { part: PartSpec; size: number };

const port = parentPort!;
const sink = (stream: 'out' | 'err'): Writable =>
  new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      port.postMessage({ stream, text: String(chunk) });
      cb();
    },
  });

function run(job: Job): void {
  const done = job.part === undefined
    ? runFilterTest(job.log, job.filter, job.opts, sink('out'), sink('err')).then((code) => ({ code }))
    : runFilterPart(job.part, job.size, sink('err')).then((part) => ({ part, code: part.ok ? 0 : 1 }));
  done.then(
    (m) => port.postMessage(m),
    (e: unknown) => port.postMessage({ stream: 'err', text: `test-filter: ${(e as Error).message}\n`, code: 1 }),
  );
}

// A worker started ahead of its job (src/cli/test-filter-worker.ts) gets it as a message.
if (workerData === null) port.once('message', (job: Job) => run(job));
else run(workerData as Job);
