#!/usr/bin/env node
// The compiled CLI lives in dist/ (npm run build; npm start and npm test build first).
let main;
try {
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    process.stderr.write('asterisk-ban: not built yet: run `npm run build` in the asterisk-ban directory first\n');
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
