// `npm run bench -- NAME [args...]`: runs test/bench/NAME.ts (or NAME-bench.ts)
// through the tsx loader with GC exposed; without a name, lists them.
import { readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [name, ...args] = process.argv.slice(2);
const benches = readdirSync('test/bench').filter((f) => f.endsWith('.ts') && !f.startsWith('gen-')).map((f) => f.slice(0, -3));
if (!name) {
  console.log(`benchmarks (npm run bench -- NAME [args]):\n  ${benches.join('\n  ')}\nsee test/bench/README.md`);
  process.exit(0);
}
const file = [`test/bench/${name}.ts`, `test/bench/${name}-bench.ts`].find((f) => existsSync(f));
if (!file) {
  console.error(`no benchmark named ${name}; have: ${benches.join(', ')}`);
  process.exit(2);
}
const res = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file, ...args], { stdio: 'inherit' });
process.exit(res.status ?? 1);
