import { AsteriskBanError } from '../core/errors.js';
import type { Ban } from '../core/types.js';
import type { AlertView, BanView, DaemonApi, JailStatus } from '../control/api.js';
import { packageVersion } from '../control/version.js';
import type { Daemon } from './daemon.js';
import { parseLogLevel } from '../core/logger.js';
import type { JailSettings } from '../settings/types.js';
import { shownParams } from '../settings/shown.js';

/** fail2ban-client's get JAIL OPTION, over the settings a jail runs with. */
function jailOption(s: JailSettings, option: string): unknown {
  const value = (() => {
    switch (option) {
      case 'maxretry': return s.maxretry;
      case 'findtime': return s.findtime;
      case 'bantime': return s.bantime;
      case 'backend': return s.backend;
      case 'verify': return s.verify;
      case 'enabled': return s.enabled;
      case 'ignoreself': return s.ignoreself;
      case 'ignoreip': return s.ignoreip;
      case 'ipv6_prefix': return s.ipv6Prefix;
      case 'alerts': return s.alerts.rules;
      case 'logpath': return s.logpath.map((l) => l.value);
      case 'filter': return s.filter ? invocationText(s.filter) : null;
      case 'action': case 'actions': return s.actions.map(invocationText);
      default: return undefined;
    }
  })();
  if (value === undefined) {
    throw new AsteriskBanError('E_REQUEST', `no option ${option.slice(0, 32)} to get`, { hint: 'maxretry, findtime, bantime, backend, verify, enabled, ignoreself, ignoreip, ipv6_prefix, alerts, logpath, filter, action' });
  }
  return value;
}

function invocationText(i: { name: string; params: Record<string, string> }): string {
  const params = Object.entries(shownParams(i.params));
  return params.length === 0 ? i.name : `${i.name}[${params.map(([k, v]) => `${k}=${v}`).join(', ')}]`;
}

export function banView(b: Ban, persisted = true): BanView {
  const view: BanView = {
    jail: b.jail,
    ip: b.ip,
    since: new Date(b.start).toISOString(),
    until: b.end === null ? null : new Date(b.end).toISOString(),
    count: b.count,
    source: b.source,
    reason: b.reason,
  };
  if (!persisted) view.persisted = false;
  if (b.node !== undefined) view.node = b.node;
  return view;
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
      return daemon.manager.active().sort((a, b) => a.start - b.start).map((b) => banView(b, daemon.manager.isPersisted(b)));
    },
    async ban(jail, ip, opts): Promise<BanView> {
      const rt = runtime(jail);
      // The ban in force may be a wider prefix than the one asked for.
      const before = new Set(daemon.manager.active(jail));
      const ban = await daemon.manager.manualBan(jail, ip, opts);
      rt.jail.clearFailures(ban.ip);
      const view = banView(ban, daemon.manager.isPersisted(ban));
      return before.has(ban) ? { ...view, existing: true } : view;
    },
    async unban(opts): Promise<BanView[]> {
      if (opts.node !== undefined) return (await daemon.manager.unbanNode(opts.node)).map((b) => banView(b));
      if (opts.jail !== undefined) runtime(opts.jail);
      return (await daemon.manager.unban(opts)).map((b) => banView(b));
    },
    async reload(jail?: string) {
      return daemon.reload(jail);
    },
    async get(jail, option) {
      return jailOption(runtime(jail).settings, option);
    },
    async set(option, value) {
      if (option !== 'loglevel') throw new AsteriskBanError('E_REQUEST', `cannot set ${option}`, { hint: 'settable: loglevel' });
      const level = parseLogLevel(value);
      if (level === null) throw new AsteriskBanError('E_REQUEST', `"${value.slice(0, 32)}" is not a log level`, { hint: 'CRITICAL, ERROR, WARNING, NOTICE, INFO or DEBUG' });
      daemon.setLogLevel(level);
      return { option, value: level };
    },
    async alerts(since, limit) {
      return daemon.alerts.list(since, limit).map((a) => {
        const view: AlertView = { id: a.id, time: new Date(a.time).toISOString(), jail: a.jail, rule: a.rule, severity: a.severity, summary: a.summary, facts: Object.fromEntries(a.facts) };
        if (a.address !== undefined) view.address = a.address;
        if (a.account !== undefined) view.account = a.account;
        return view;
      });
    },
    async fleet() {
      if (!daemon.fleet) throw new AsteriskBanError('E_REQUEST', 'fleet mode is off', { hint: 'add [Fleet] to asterisk-ban.local and fleet = bans (or counts) to a jail, then reload' });
      return daemon.fleet.status();
    },
    async version() {
      return { version: packageVersion(), pid: process.pid, uptime: Math.round((now() - daemon.startedAt) / 1000) };
    },
  };
}
