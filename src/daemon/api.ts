import { AsteriskBanError } from '../core/errors.js';
import type { Ban } from '../core/types.js';
import type { BanView, DaemonApi, JailStatus } from '../control/api.js';
import { packageVersion } from '../control/version.js';
import type { Daemon } from './daemon.js';

export function banView(b: Ban): BanView {
  return {
    jail: b.jail,
    ip: b.ip,
    since: new Date(b.start).toISOString(),
    until: b.end === null ? null : new Date(b.end).toISOString(),
    count: b.count,
    source: b.source,
    reason: b.reason,
  };
}

/** What the control socket may ask of the running daemon. */
export function daemonApi(daemon: Daemon, now: () => number): DaemonApi {
  const runtime = (jail: string) => {
    const rt = daemon.runtimes.get(jail);
    if (!rt) throw new AsteriskBanError('E_UNKNOWN_JAIL', `no jail named ${jail}`, { hint: `jails: ${[...daemon.runtimes.keys()].join(', ') || 'none'}` });
    return rt;
  };
  return {
    async status(jail?: string): Promise<JailStatus[]> {
      if (jail !== undefined) return [runtime(jail).status()];
      return [...daemon.runtimes.values()].map((rt) => rt.status());
    },
    async list(): Promise<BanView[]> {
      return daemon.manager.active().sort((a, b) => a.start - b.start).map(banView);
    },
    async ban(jail, ip, opts): Promise<BanView> {
      const rt = runtime(jail);
      const ban = await daemon.manager.manualBan(jail, ip, opts);
      rt.jail.clearFailures(ban.ip);
      return banView(ban);
    },
    async unban(opts): Promise<BanView[]> {
      if (opts.jail !== undefined) runtime(opts.jail);
      return (await daemon.manager.unban(opts)).map(banView);
    },
    async reload(jail?: string) {
      return daemon.reload(jail);
    },
    async version() {
      return { version: packageVersion(), pid: process.pid, uptime: Math.round((now() - daemon.startedAt) / 1000) };
    },
  };
}
