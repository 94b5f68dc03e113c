import { printable } from '../core/address.js';
import { AsteriskBanError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { metrics } from '../control/metrics.js';
import { ToolSession, type SessionDialect, type SessionOptions } from './tool-session.js';

/**
 * `ipset -exist -`: ipset's interactive mode, one command per line, each
 * applied as it comes (ipset has no transactions; `ipset restore` stops at
 * the first error, this goes on, and either way the batch fails). The
 * marker creates a set with a family that cannot exist: a syntax error,
 * on one line that names it, and nothing reaches the kernel. Only
 * "Warning:" lines let a batch pass.
 */
export const IPSET: SessionDialect = {
  tool: 'ipset',
  args: ['-exist', '-'],
  write: (lines, mark) => `${lines.join('\n')}\ncreate ${mark} hash:ip family ${mark}\n`,
  marker(stderr, mark) {
    // The mark, and not a longer one it begins (asban-sync-1-1 in asban-sync-1-10).
    let at = stderr.indexOf(mark);
    while (at >= 0 && /\d/.test(stderr.charAt(at + mark.length))) at = stderr.indexOf(mark, at + 1);
    const end = at < 0 ? -1 : stderr.indexOf('\n', at);
    return end < 0 ? null : { own: stderr.lastIndexOf('\n', at) + 1, end: end + 1 };
  },
  refusal(own) {
    const errors = own.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Warning:'));
    return errors.length > 0 ? new AsteriskBanError('E_ACTION', `ipset refused the batch: ${printable(errors.join('\n'), 2_000)}`) : null;
  },
  lost: metrics.ipsetSessionLost,
};

/** One `ipset -` kept running, fed a batch of commands at a time. */
export class IpsetSession extends ToolSession {
  constructor(argv: readonly string[], logger: Logger, opts?: SessionOptions) {
    super(argv, IPSET, logger, opts);
  }
}
