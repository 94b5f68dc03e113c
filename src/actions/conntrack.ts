import type { Logger } from '../core/logger.js';
import type { CommandRunner } from './exec.js';
import { parseAddress } from '../core/address.js';

/**
 * Ends tracked flows of freshly banned addresses. Our rules already sit
 * before a typical `ESTABLISHED,RELATED -j ACCEPT` (first in INPUT, or an nft
 * base chain where a drop is final whatever another table accepts), so this
 * is the second line of defence for rulesets that later put an accept above
 * us. conntrack(8) has no batch mode for -D: two processes per address, so it
 * runs only for small batches (a flood's big batches rely on rule order) and
 * a few at a time.
 */
export const CONNTRACK_FLUSH_LIMIT = 32;
const PARALLEL = 4;

export class ConntrackFlusher {
  private missing = false;

  constructor(
    private readonly run: CommandRunner,
    private readonly binary: string,
    private readonly logger: Logger,
    private readonly limit = CONNTRACK_FLUSH_LIMIT,
  ) {}

  /** Never throws: the ban itself has already succeeded. */
  async forget(ips: readonly string[]): Promise<void> {
    if (this.missing || ips.length === 0) return;
    if (ips.length > this.limit) {
      this.logger.debug(`conntrack: ${ips.length} addresses banned at once; relying on rule order instead of deleting flows`);
      return;
    }
    const queue = ips.filter((ip) => parseAddress(ip)?.text === ip);
    const worker = async (): Promise<void> => {
      for (let ip = queue.shift(); ip !== undefined; ip = queue.shift()) {
        const family = ip.includes(':') ? 'ipv6' : 'ipv4';
        try {
          // Exit status 1 means "0 flow entries deleted". Flows the attacker opened go first; then
          // flows "opened" by our own replies: a reply sent for a packet that arrived just before the
          // first delete creates a pbx→attacker entry, and the attacker's packets would match it as
          // ESTABLISHED again.
          for (const side of ['-s', '-d']) {
            await this.run(this.binary, ['-D', '-f', family, side, ip], { okCodes: [1], timeoutMs: 5_000 });
          }
        } catch (e) {
          const msg = (e as Error).message;
          if (/cannot run|ENOENT/.test(msg)) {
            this.missing = true;
            this.logger.warn('conntrack: the conntrack tool is not installed; running flows of banned addresses end only by rule order');
            return;
          }
          this.logger.warn(`conntrack: could not delete flows of ${ip}: ${msg}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
  }
}
