import type { Logger } from '../core/logger.js';
import { ConntrackVerifier } from '../jail/verify.js';
import type { VerifyMode } from '../settings/types.js';
import type { PacketWitness } from './ban-gate.js';

/**
 * The conntrack witness for a jail's `verify` mode: `off` → none; `auto` →
 * conntrack when this namespace has it (said once when it has not);
 * `conntrack` → required, so a jail that asked for it never bans unverified.
 */
export async function witnessFor(mode: VerifyMode, logger: Logger): Promise<PacketWitness | null> {
  if (mode === 'off') return null;
  const verifier = await ConntrackVerifier.detect({ logger });
  if (verifier) {
    logger.info(`ban verification on: a ban needs conntrack entries from the address (verify = ${mode})`);
    return verifier;
  }
  if (mode === 'auto') {
    logger.warn('ban verification unavailable (no connection tracking in this network namespace): banning unverified (verify = auto)');
    return null;
  }
  logger.error('verify = conntrack but connection tracking is unavailable: every ban will be refused until it is');
  return { seen: async () => new Set<string>() };
}
