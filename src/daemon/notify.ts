import { execFile } from 'node:child_process';
import type { Logger } from '../core/logger.js';

/**
 * Tells systemd (Type=notify) that the daemon is ready, or what it is doing.
 * Node cannot write to the notify socket (a unix datagram socket) itself, so
 * this runs systemd-notify, which the unit allows with NotifyAccess=all.
 * Without NOTIFY_SOCKET (not under systemd) it does nothing.
 */
export function notifySystemd(logger: Logger, state: { ready?: boolean; stopping?: boolean; status?: string }, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve();
  const args: string[] = [];
  if (state.ready) args.push('--ready');
  if (state.stopping) args.push('STOPPING=1');
  if (state.status !== undefined) args.push(`--status=${state.status.replace(/[\r\n]+/g, ' ').slice(0, 200)}`);
  args.push(`MAINPID=${process.pid}`);
  return new Promise((resolve) => {
    execFile('systemd-notify', args, { env, timeout: 5_000 }, (err) => {
      if (err) logger.warn(`cannot tell systemd the daemon's state (systemd-notify: ${err.message}); a Type=notify unit would time out`);
      resolve();
    });
  });
}
