import { createHash } from 'node:crypto';
import type { Invocation, JailSettings } from '../settings/types.js';

// Jail options an action reads without naming them as a <tag> in its parameters.
const READ_FROM_JAIL = ['port', 'protocol', 'chain', 'blocktype', 'destemail', 'sender'];

/**
 * Everything an action instance is built from, as one string: two equal
 * fingerprints make the same rules. A reload keeps an action whose
 * fingerprint did not change, with its table, chain or set and the bans in
 * them, instead of tearing it down and building it again.
 */
export function actionFingerprint(spec: Invocation, jail: JailSettings, env: Record<string, string>): string {
  const keys = new Set(READ_FROM_JAIL);
  for (const v of Object.values(spec.params)) for (const m of v.matchAll(/<([^<>]{1,64})>/g)) keys.add(m[1]!);
  const fromJail: Record<string, string | undefined> = {};
  for (const k of [...keys].sort()) fromJail[k] = k === 'destemail' ? jail.destemail : k === 'sender' ? jail.sender : jail.options[k];
  // The environment carries SMTP settings and secrets: compared by digest, never kept as text.
  const envDigest = createHash('sha256').update(JSON.stringify(Object.entries(env).sort())).digest('hex');
  return JSON.stringify({ jail: jail.name, name: spec.name, params: Object.entries(spec.params).sort(), fromJail, envDigest });
}
