#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by npm ci/npm install in a clone, and packed with the package).
// A reader that goes away (`asterisk-ban list | head`) ends the output, not the process with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
let main;
try {
  // test-filter's worker starts now, so that it loads while the CLI does.
  if (process.argv.slice(2).includes('test-filter')) (await import('../dist/src/cli/test-filter-worker.js')).prewarm();
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && /dist\/src\/cli\/(main|test-filter-worker)\.js/.test(String(err.message))) {
    process.stderr.write('asterisk-ban: not built yet: run `npm ci` (or `npm run build`) in the asterisk-ban directory first\n');
    process.exit(1);
  }
  throw err;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`asterisk-ban: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
