// `npm ci` / `npm install` in a clone (and `npm pack`) build dist/ from the
// TypeScript sources. A packed tarball already carries dist/, and a
// production install (`npm ci --omit=dev`) has no compiler: it keeps it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';

const require = createRequire(import.meta.url);
let tsc = null;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // No dev dependencies.
}
if (tsc === null) {
  if (existsSync(new URL('../dist/src/cli/main.js', import.meta.url))) process.exit(0);
  console.error('asterisk-ban: cannot build: TypeScript is missing (install with `npm ci`, dev dependencies included)');
  process.exit(1);
}
const res = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit', cwd: new URL('..', import.meta.url) });
process.exit(res.status ?? 1);
