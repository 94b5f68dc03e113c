import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The checkout's root, whether tests run from test/ through tsx or from dist/test/. */
function findRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
}

export const repoRoot = findRoot();

export function fixture(...parts: string[]): string {
  return join(repoRoot, 'test', 'fixtures', ...parts);
}
