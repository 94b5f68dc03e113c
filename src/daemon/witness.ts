import type { Logger } from '../core/logger.js';
import { ConntrackVerifier } from '../jail/verify.js';
import { StreamedWitness, type ConntrackEvents } from '../jail/conntrack-events.js';
import type { VerifyMode } from '../settings/types.js';
import type { PacketWitness } from './ban-gate.js';

/**
 * The conntrack witness for a jail's `verify` mode: `off` → none; `auto` →
 * conntrack when this namespace has it (said once when it has not);
 * `conntrack` → required, so a jail that asked for it never bans unverified.
 * With `events`, answers come from conntrack's event stream where it can.
 */
export async function witnessFor(mode: VerifyMode, logger: Logger, events?: () => ConntrackEvents): Promise<PacketWitness | null> {
  if (mode === 'off') return null;
  const verifier = await ConntrackVerifier.detect({ logger });
  if (verifier) {
    logger.info(`ban verification on: a ban needs conntrack entries from the address (verify = ${mode})`);
    if (!events) return verifier;
    // New flows are followed as they open; only an address the stream missed costs a query.
    const stream = events();
    stream.start();
    return new StreamedWitness(stream, verifier);
  }
  if (mode === 'auto') {
    logger.warn('ban verification unavailable (no connection tracking in this network namespace): banning unverified (verify = auto)');
    return null;
  }
  logger.error('verify = conntrack but connection tracking is unavailable: every ban will be refused until it is');
  return { seen: async () => new Set<string>() };
}
