import { MAX_V6_PREFIX, MIN_V6_PREFIX, networkCovers, parseBanTarget } from '../core/address.js';
import { isAsteriskBanError } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { request } from '../control/client.js';
import type { AlertView, BanView, JailStatus } from '../control/api.js';
import { packageVersion } from '../control/version.js';
import { EXIT, UsageError, type CliIo } from './io.js';
import { formatAlerts, formatFleet, jsonLine, formatBanned, formatBans, formatReload, formatStatus, formatUnbanned, formatVersion, alertJson, banJson, jailJson } from './format.js';

/** The commands that talk to a running daemon over its control socket. */
export interface ClientContext {
  socket: string;
  io: CliIo;
}

// A reload re-reads every file and may restart AMI sessions; give it longer.
const TIMEOUT_MS = 30_000;
const RELOAD_TIMEOUT_MS = 120_000;

function out(ctx: ClientContext, text: string): void {
  ctx.io.stdout.write(text);
}

function asArray<T>(v: unknown, what: string): T[] {
  if (!Array.isArray(v)) throw new Error(`the daemon answered ${what} with something that is not a list`);
  return v as T[];
}

function jailName(text: string): string {
  if (text.length === 0 || text.length > 128 || /[\s\u0000-\u001f]/.test(text)) throw new UsageError(`"${text.slice(0, 64)}" is not a jail name`);
  return text;
}

function address(text: string): string {
  const a = parseBanTarget(text);
  if (!a) {
    throw new UsageError(`"${text.slice(0, 64)}" is neither an IP address nor an IPv6 prefix`, `give one IPv4 or IPv6 address, e.g. 203.0.113.5 or 2001:db8::1, or an IPv6 prefix from /${MIN_V6_PREFIX} to /${MAX_V6_PREFIX}, e.g. 2001:db8:1:2::/64`);
  }
  return a.text;
}

export async function statusCommand(ctx: ClientContext, jail: string | undefined, opts: { json?: boolean }): Promise<number> {
  const args = jail === undefined ? {} : { jail: jailName(jail) };
  const jails = asArray<JailStatus>(await request(ctx.socket, 'status', args, { timeoutMs: TIMEOUT_MS }), 'status');
  out(ctx, opts.json ? jails.map(jailJson).join('') : formatStatus(jails));
  return EXIT.OK;
}

/** Recent alerts, oldest first; `--since 1h` (default 24h) or `--since all`. */
export async function alertsCommand(ctx: ClientContext, opts: { json?: boolean; since?: string }, now = Date.now()): Promise<number> {
  let since = now - 86_400_000;
  if (opts.since === 'all') since = 0;
  else if (opts.since !== undefined) {
    let seconds: number;
    try {
      seconds = parseDuration(opts.since);
    } catch {
      throw new UsageError(`--since "${opts.since.slice(0, 32)}" is not a duration`, 'use e.g. 10m, 1h, 3d, 1w, or all');
    }
    if (seconds <= 0) throw new UsageError('--since must be longer than 0 (or all)');
    since = Math.max(0, now - seconds * 1000);
  }
  const alerts = asArray<AlertView>(await request(ctx.socket, 'alerts', { since }, { timeoutMs: TIMEOUT_MS }), 'alerts');
  out(ctx, opts.json ? alerts.map(alertJson).join('') : formatAlerts(alerts));
  return EXIT.OK;
}

export async function listCommand(ctx: ClientContext, opts: { json?: boolean }): Promise<number> {
  const bans = asArray<BanView>(await request(ctx.socket, 'list', {}, { timeoutMs: TIMEOUT_MS }), 'list');
  out(ctx, opts.json ? bans.map(banJson).join('') : formatBans(bans));
  return EXIT.OK;
}

export async function banCommand(ctx: ClientContext, jail: string, ips: string[], opts: { time?: string; force?: boolean; json?: boolean }): Promise<number> {
  const addresses = ips.map(address);
  const args: Record<string, unknown> = { jail: jailName(jail) };
  if (opts.time !== undefined) {
    let seconds: number;
    try {
      seconds = parseDuration(opts.time);
    } catch (err) {
      throw new UsageError(isAsteriskBanError(err) ? err.message : `"${opts.time}" is not a duration`, 'use e.g. 600, 10m, 1h, 3d, 1w; -1 means permanent');
    }
    if (seconds === 0) throw new UsageError('--time must be longer than 0 (use -1 for a permanent ban)');
    args.seconds = seconds;
  }
  if (opts.force) args.force = true;
  for (const ip of addresses) {
    const ban = (await request(ctx.socket, 'ban', { ...args, ip }, { timeoutMs: TIMEOUT_MS })) as BanView;
    out(ctx, opts.json ? banJson(ban) : formatBanned(ban));
  }
  return EXIT.OK;
}

/** fail2ban-client banned: which jails ban each address, by itself or inside a prefix. */
export async function bannedCommand(ctx: ClientContext, ips: string[], opts: { json?: boolean }): Promise<number> {
  const targets = ips.map((ip) => parseBanTarget(address(ip))!);
  const bans = asArray<BanView>(await request(ctx.socket, 'list', {}, { timeoutMs: TIMEOUT_MS }), 'list');
  for (const t of targets) {
    const by = bans.filter((b) => {
      const held = parseBanTarget(b.ip);
      return held !== null && networkCovers(held, t);
    });
    const jails = by.map((b) => b.jail);
    const text = by.map((b) => (b.ip === t.text ? b.jail : `${b.jail} (${b.ip})`)).join(', ');
    out(ctx, opts.json ? `${JSON.stringify({ ip: t.text, jails, bans: by.map((b) => b.ip) })}\n` : `${t.text}: ${text || 'not banned'}\n`);
  }
  return EXIT.OK;
}

export async function getCommand(ctx: ClientContext, jail: string, option: string, opts: { json?: boolean }): Promise<number> {
  const value = await request(ctx.socket, 'get', { jail: jailName(jail), option }, { timeoutMs: TIMEOUT_MS });
  if (opts.json) out(ctx, `${JSON.stringify({ jail, option, value })}\n`);
  else out(ctx, Array.isArray(value) ? value.map((v) => `${String(v)}\n`).join('') : `${String(value)}\n`);
  return EXIT.OK;
}

export async function setCommand(ctx: ClientContext, option: string, value: string): Promise<number> {
  const r = (await request(ctx.socket, 'set', { option, value }, { timeoutMs: TIMEOUT_MS })) as { option: string; value: string };
  out(ctx, `${r.option} = ${r.value}\n`);
  return EXIT.OK;
}

export async function unbanCommand(ctx: ClientContext, ips: string[], opts: { jail?: string; all?: boolean; node?: string; json?: boolean }): Promise<number> {
  if (opts.node !== undefined) {
    if (opts.all || ips.length > 0 || opts.jail !== undefined) throw new UsageError('--node goes alone: it lifts every ban that came from that fleet node');
    const gone = asArray<BanView>(await request(ctx.socket, 'unban', { node: opts.node }, { timeoutMs: TIMEOUT_MS }), 'unban');
    out(ctx, opts.json ? gone.map(banJson).join('') : formatUnbanned(gone));
    return EXIT.OK;
  }
  if (opts.all && ips.length > 0) throw new UsageError('give either an ADDRESS or --all, not both');
  if (!opts.all && ips.length === 0) throw new UsageError('unban needs an ADDRESS, --all or --node NAME');
  const targets: Record<string, unknown>[] = opts.all ? [{ all: true }] : ips.map(address).map((ip) => ({ ip }));
  for (const args of targets) {
    if (opts.jail !== undefined) args.jail = jailName(opts.jail);
    const gone = asArray<BanView>(await request(ctx.socket, 'unban', args, { timeoutMs: TIMEOUT_MS }), 'unban');
    out(ctx, opts.json ? gone.map(banJson).join('') : formatUnbanned(gone));
  }
  return EXIT.OK;
}

export async function fleetStatusCommand(ctx: ClientContext, opts: { json?: boolean }): Promise<number> {
  const f = (await request(ctx.socket, 'fleet', {}, { timeoutMs: TIMEOUT_MS })) as Record<string, unknown>;
  out(ctx, opts.json ? jsonLine(f) : formatFleet(f));
  return EXIT.OK;
}

export async function reloadCommand(ctx: ClientContext, jail: string | undefined): Promise<number> {
  const args = jail === undefined ? {} : { jail: jailName(jail) };
  const result = (await request(ctx.socket, 'reload', args, { timeoutMs: RELOAD_TIMEOUT_MS })) as { reloaded: string[]; stopped: string[]; started: string[] };
  out(ctx, formatReload({ reloaded: result.reloaded ?? [], stopped: result.stopped ?? [], started: result.started ?? [] }));
  return EXIT.OK;
}

/** Our own version always; the daemon's too when one answers. */
export async function versionCommand(ctx: ClientContext): Promise<number> {
  let daemon: { version: string; pid: number; uptime: number } | null = null;
  try {
    daemon = (await request(ctx.socket, 'version', {}, { timeoutMs: 5_000 })) as typeof daemon;
  } catch (err) {
    if (!isAsteriskBanError(err, 'E_NOT_RUNNING')) throw err;
  }
  out(ctx, formatVersion(packageVersion(), daemon));
  return EXIT.OK;
}
