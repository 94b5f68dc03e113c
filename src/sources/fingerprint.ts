import { createHash } from 'node:crypto';
import type { JailSettings } from '../settings/types.js';
import { locatedValues } from '../settings/values.js';

/**
 * Everything a jail's source is built from, as one string. A reload keeps a
 * source whose fingerprint did not change, so that changing findtime or an
 * action does not close the AMI session (losing the events sent while it
 * logs in again) or reopen the log files.
 */
export function sourceFingerprint(s: JailSettings): string {
  const { secret, ...ami } = s.ami;
  // The AMI secret is compared by digest, never kept as text.
  const secretDigest = createHash('sha256').update(secret ?? '').digest('hex');
  const log =
    s.backend === 'ami'
      ? null
      : {
          paths: s.logpath.map((p) => p.value),
          filter: s.filterDef,
          gapFilter: s.gapFilterDef,
          readback: s.readback ? s.findtime : false,
        };
  return JSON.stringify({ jail: s.name, backend: s.backend, ami: s.backend === 'log' ? null : { ...ami, secretDigest }, log }, locatedValues);
}
