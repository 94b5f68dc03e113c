import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { printable } from '../../core/address.js';

/** What to do when the daemon may not read a log: the unit's way, and the general one. */
export const READ_FIX = 'give asterisk-ban the file\'s group (SupplementaryGroups=asterisk in the systemd unit) or CAP_DAC_READ_SEARCH (deploy/asterisk-ban.service has it)';

function who(path: string): string {
  try {
    const st = statSync(path);
    return `${printable(path)} (owner ${st.uid}:${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  } catch {
    return printable(path);
  }
}

/**
 * Why this process cannot read the file at `path`, in words with owners and
 * modes, or null when it can (or when the file does not exist yet).
 */
export function unreadableBecause(path: string): string | null {
  try {
    accessSync(path, constants.R_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // A directory on the way we may not search looks like a missing file: say which.
      for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
        try {
          accessSync(dir, constants.X_OK);
          statSync(dir);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EACCES') return `permission denied: cannot search ${who(dir)}`;
        }
      }
      return null;
    }
    if (code !== 'EACCES' && code !== 'EPERM') return `${code ?? 'error'}: ${(err as Error).message}`;
    return `permission denied: ${who(path)} in ${who(dirname(path))}, read as uid ${process.getuid?.() ?? '?'}`;
  }
}
