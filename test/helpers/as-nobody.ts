import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export const NOBODY = 65534;

/**
 * Why a test cannot run a child as `nobody` here, or false when it can: it
 * needs root, and a checkout that others may read (a clone inside a 0700
 * directory such as mktemp -d's is not).
 */
export function cannotRunAsNobody(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to run a child as nobody';
  const probe = spawnSync(process.execPath, ['-e', 'for (const p of process.argv.slice(1)) require("fs").accessSync(p)', join(repoRoot, 'package.json'), join(repoRoot, 'node_modules', 'tsx', 'package.json')], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: 'ignore',
  });
  return probe.status === 0 ? false : `user nobody cannot read the checkout at ${repoRoot} (its directory is not open to others)`;
}
