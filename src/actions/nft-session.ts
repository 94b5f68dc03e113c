import { printable } from '../core/address.js';
import { AsteriskBanError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { metrics } from '../control/metrics.js';
import { ToolSession, type SessionDialect, type SessionOptions } from './tool-session.js';

/**
 * `nft -i`: a line is one transaction, as `nft -f` makes of a file. The
 * marker lists a table that cannot exist; nft's error for it is three
 * lines: "Error: …", the command, the carets. Only an error fails the
 * batch: nft may print a warning for a change it made.
 */
const NFT: SessionDialect = {
  tool: 'nft',
  args: ['-i'],
  write: (lines, mark) => `${lines.join('; ')}\nlist table inet ${mark}\n`,
  marker(stderr, mark) {
    const echo = `list table inet ${mark}\n`;
    const at = stderr.indexOf(echo);
    const end = at < 0 ? -1 : stderr.indexOf('\n', at + echo.length);
    return end < 0 ? null : { own: Math.max(0, stderr.lastIndexOf('Error:', at)), end: end + 1 };
  },
  refusal: (own) => (own.includes('Error:') ? new AsteriskBanError('E_ACTION', `nft refused the batch: ${printable(own, 2_000)}`) : null),
  lost: metrics.nftSessionLost,
};

/** One `nft -i` kept running, fed a transaction per line. */
export class NftSession extends ToolSession {
  constructor(argv: readonly string[], logger: Logger, opts?: SessionOptions) {
    super(argv, NFT, logger, opts);
  }
}
