import { AsteriskBanError } from '../core/errors.js';
import { mustParseBanTarget } from '../core/address.js';
import { MAX_DURATION_SECONDS } from '../core/duration.js';
import type { DaemonApi } from './api.js';

/**
 * The one table from command names to handlers. Each handler checks its own
 * arguments (types, unknown keys, address syntax) before the daemon sees them,
 * so the DaemonApi implementation receives only well-formed, normalised input.
 */
export type CommandName = 'status' | 'list' | 'ban' | 'unban' | 'reload' | 'version' | 'ping' | 'get' | 'set' | 'alerts' | 'fleet';

export type Handler = (api: DaemonApi, args: Record<string, unknown>) => Promise<unknown>;

const MAX_JAIL_TEXT = 128;
const MAX_ALERTS = 10_000;

function bad(message: string): AsteriskBanError {
  return new AsteriskBanError('E_REQUEST', message);
}

function onlyKeys(args: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(args)) {
    if (!allowed.includes(key)) {
      throw bad(allowed.length ? `unknown argument "${key.slice(0, 32)}" (expected ${allowed.join(', ')})` : `this command takes no arguments`);
    }
  }
}

function jailArg(args: Record<string, unknown>, required: boolean): string | undefined {
  const v = args.jail;
  if (v === undefined || v === null) {
    if (required) throw bad('"jail" is required');
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_JAIL_TEXT) throw bad('"jail" must be a non-empty string');
  return v;
}

function boolArg(args: Record<string, unknown>, key: string): boolean | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(`"${key}" must be true or false`);
  return v;
}

function textArg(args: Record<string, unknown>, key: string): string {
  const v = args[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) throw bad(`"${key}" must be a short non-empty string`);
  return v;
}

/** Normalised address or IPv6 prefix text; E_ADDRESS when it does not parse. */
function ipArg(v: unknown): string {
  if (typeof v !== 'string') throw bad('"ip" must be a string');
  return mustParseBanTarget(v).text;
}

function secondsArg(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v === -1 || (v > 0 && v <= MAX_DURATION_SECONDS))) {
    throw bad('"seconds" must be a positive number up to 3650 days, or -1 for a permanent ban');
  }
  return v;
}

export const COMMANDS: Readonly<Record<CommandName, Handler>> = {
  ping: async (_api, args) => {
    onlyKeys(args, []);
    return { pong: true };
  },
  version: async (api, args) => {
    onlyKeys(args, []);
    return api.version();
  },
  status: async (api, args) => {
    onlyKeys(args, ['jail']);
    return api.status(jailArg(args, false));
  },
  list: async (api, args) => {
    onlyKeys(args, []);
    return api.list();
  },
  ban: async (api, args) => {
    onlyKeys(args, ['jail', 'ip', 'seconds', 'force']);
    const jail = jailArg(args, true) as string;
    const ip = ipArg(args.ip);
    const opts: { seconds?: number; force?: boolean } = {};
    const seconds = secondsArg(args.seconds);
    const force = boolArg(args, 'force');
    if (seconds !== undefined) opts.seconds = seconds;
    if (force !== undefined) opts.force = force;
    return api.ban(jail, ip, opts);
  },
  unban: async (api, args) => {
    onlyKeys(args, ['ip', 'jail', 'all', 'node']);
    if (args.node !== undefined) {
      if (args.ip !== undefined || args.all !== undefined || args.jail !== undefined) throw bad('"node" goes alone');
      const node = textArg(args, 'node');
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(node)) throw bad('"node" is not a node name');
      return api.unban({ node });
    }
    const all = boolArg(args, 'all') === true;
    const hasIp = args.ip !== undefined && args.ip !== null;
    if (all === hasIp) throw bad('unban needs either "ip" or "all": true');
    const jail = jailArg(args, false);
    const opts: { ip?: string; jail?: string; all?: boolean } = {};
    if (hasIp) opts.ip = ipArg(args.ip);
    if (all) opts.all = true;
    if (jail !== undefined) opts.jail = jail;
    return api.unban(opts);
  },
  get: async (api, args) => {
    onlyKeys(args, ['jail', 'option']);
    return api.get(jailArg(args, true) as string, textArg(args, 'option'));
  },
  set: async (api, args) => {
    onlyKeys(args, ['option', 'value']);
    return api.set(textArg(args, 'option'), textArg(args, 'value'));
  },
  reload: async (api, args) => {
    onlyKeys(args, ['jail']);
    return api.reload(jailArg(args, false));
  },
  fleet: async (api, args) => {
    onlyKeys(args, []);
    return api.fleet();
  },
  alerts: async (api, args) => {
    onlyKeys(args, ['since', 'limit']);
    const since = args.since ?? 0;
    const limit = args.limit ?? MAX_ALERTS;
    if (typeof since !== 'number' || !Number.isFinite(since) || since < 0) throw bad('"since" must be a time in ms since the epoch');
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_ALERTS) throw bad(`"limit" must be a whole number from 1 to ${MAX_ALERTS}`);
    return api.alerts(since, limit);
  },
};

export function findCommand(name: string): Handler | undefined {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name as CommandName] : undefined;
}
