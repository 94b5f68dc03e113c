import { readAlertSettings } from './alert-settings.js';
import type { FleetMode } from './types.js';
import { withActionOverrides } from './action-overrides.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_V6_PREFIX, MIN_V6_PREFIX, printable } from '../core/address.js';
import { DAEMON_OPTIONS } from './daemon-settings.js';
import { DEFAULT_AMI, DEFAULT_BANTIME, DEFAULT_IPV6_PREFIX, DEFAULT_FINDTIME, DEFAULT_INCREMENT, DEFAULT_MAXRETRY, DEFAULT_MAXTRACKED, defaultJailSettings } from './defaults.js';
import { checkHostTags, readFilterFor } from './filter-file.js';
import { interpolateLines, interpolateValue, type Scope } from './interpolate.js';
import { parseInvocationLines } from './invocation.js';
import { checkIgnoreEntry, isHelperOption, JAIL_OPTIONS, mapBackend, UNSUPPORTED } from './options.js';
import { didYouMean, isSecretName, mutedProblems, type Problems } from './problems.js';
import { latest, readStack, type ConfigStack } from './stack.js';
import type { AmiSettings, Backend, FilterDefinition, IncrementSettings, Invocation, JailSettings, Located, VerifyMode } from './types.js';
import { SectionReader, splitList } from './values.js';

const FLEET_MODES: readonly FleetMode[] = ['off', 'bans', 'counts'];


/** jail.conf, jail.d/*.conf, jail.local, jail.d/*.local: fail2ban's order. */
export function jailFiles(dir: string): string[] {
  const inJailD = (ext: string): string[] => {
    try {
      return readdirSync(join(dir, 'jail.d')).filter((f) => f.endsWith(ext)).sort().map((f) => join(dir, 'jail.d', f));
    } catch {
      return [];
    }
  };
  return [join(dir, 'jail.conf'), ...inJailD('.conf'), join(dir, 'jail.local'), ...inJailD('.local')];
}

const JAIL_NAME = /^[A-Za-z0-9_][\w.\-]{0,63}$/;
const VERIFY: readonly VerifyMode[] = ['auto', 'conntrack', 'off'];

export function readJails(dir: string, env: Record<string, string>, problems: Problems): JailSettings[] {
  if (!existsSync(join(dir, 'jail.conf')) && !existsSync(join(dir, 'jail.local'))) {
    problems.error(`no jail.conf or jail.local in ${dir}`, { file: join(dir, 'jail.conf') }, 'pass --config with the directory holding jail.conf', 'E_CONFIG_IO');
  }
  const stack = readStack(jailFiles(dir), problems);
  const jails: JailSettings[] = [];
  for (const sec of stack.sections.values()) {
    if (sec.name === 'DEFAULT') continue;
    if (sec.name.includes('?')) {
      problems.warn(`conditional section [${sec.name}] is ignored`, { file: sec.file, line: sec.line });
      continue;
    }
    jails.push(readJail(dir, stack, sec.name, env, problems));
  }
  return jails;
}

function invocationsOf(r: SectionReader, key: string, p: Problems): Invocation[] {
  const lines = r.lines(key);
  return lines ? parseInvocationLines(lines, p) : [];
}

function single(r: SectionReader, key: string, p: Problems): Invocation | null {
  const list = invocationsOf(r, key, p);
  if (list.length > 1) p.error(`${key} takes one filter, found ${list.length}`, r.at(key), 'write one name[params], without spaces outside the brackets');
  return list[0] ?? null;
}

function logpaths(r: SectionReader): Located[] {
  const out: Located[] = [];
  for (const l of r.lines('logpath') ?? []) {
    // fail2ban's trailing "tail"/"head" word says where to start reading: our follower decides that itself.
    for (const tok of l.value.split(/\s+/).filter(Boolean)) {
      if ((tok === 'tail' || tok === 'head') && out.length > 0) continue;
      out.push({ value: tok, file: l.file, line: l.line });
    }
  }
  return out;
}

function checkKeys(stack: ConfigStack, name: string, p: Problems): void {
  for (const [key, hist] of stack.sections.get(name)?.values ?? []) {
    const v = hist[hist.length - 1]!;
    const at = { file: v.file, line: v.line };
    const unsupported = UNSUPPORTED[key];
    if (unsupported) {
      if (unsupported.error) p.error(unsupported.message, at);
      else p.warn(unsupported.message, at);
      continue;
    }
    if (JAIL_OPTIONS.includes(key) || isHelperOption(key)) continue;
    const daemon = (DAEMON_OPTIONS as readonly string[]).includes(key);
    p.error(`unknown option "${key}" in jail [${name}]`, at,
      daemon ? `"${key}" is a daemon setting: put it in asterisk-ban.conf [Definition]` : didYouMean(key, JAIL_OPTIONS) ?? 'see config/jail.conf for the options a jail takes');
  }
}

function increment(r: SectionReader, p: Problems): IncrementSettings {
  const multipliers: number[] = [];
  for (const m of r.list('bantime.multipliers', [])) {
    const n = Number(m);
    if (!/^\d+(\.\d+)?$/.test(m) || n <= 0) p.error(`bantime.multipliers entry "${printable(m, 40)}" is not a positive number`, r.at('bantime.multipliers'), 'e.g. 1 2 4 8 16 32 64');
    else multipliers.push(n);
  }
  const formula = r.text('bantime.formula');
  return {
    enabled: r.bool('bantime.increment', DEFAULT_INCREMENT.enabled),
    factor: r.number('bantime.factor', DEFAULT_INCREMENT.factor, 0),
    formula: formula ? formula : null,
    multipliers,
    maxtime: r.duration('bantime.maxtime', DEFAULT_INCREMENT.maxtime, { permanent: true }),
    rndtime: r.duration('bantime.rndtime', DEFAULT_INCREMENT.rndtime, { zero: true }),
    overalljails: r.bool('bantime.overalljails', DEFAULT_INCREMENT.overalljails),
  };
}

/** Event and service names are plain words; anything else is a typo or a paste error. */
function names(r: SectionReader, key: string, def: string[], p: Problems): string[] {
  const list = r.list(key, def);
  const bad = list.filter((n) => !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(n));
  for (const n of bad) p.error(`${key} entry "${printable(n, 40)}" is not a name`, r.at(key), key === 'ami_events' ? 'e.g. InvalidPassword FailedACL' : 'e.g. PJSIP SIP IAX2 AMI');
  return list.filter((n) => !bad.includes(n));
}

function ami(r: SectionReader, env: Record<string, string>, p: Problems): AmiSettings {
  // The jail's option wins; the environment (.env) fills in what the jail leaves out.
  const pick = (key: string, envName: string): { text: string; at?: { file: string; line?: number } } | undefined => {
    const t = r.text(key);
    if (t) return { text: t, at: r.at(key) };
    const e = env[envName];
    return e ? { text: e.trim(), at: { file: `environment variable ${envName}` } } : undefined;
  };
  const port = pick('ami_port', 'AMI_PORT');
  let portNo = DEFAULT_AMI.port;
  if (port) {
    const n = /^\d{1,5}$/.test(port.text) ? Number(port.text) : NaN;
    if (n >= 1 && n <= 65535) portNo = n;
    else p.error(`bad value "${printable(port.text, 40)}" for ami_port: expected a port from 1 to 65535`, port.at);
  }
  return {
    host: pick('ami_host', 'AMI_HOST')?.text ?? DEFAULT_AMI.host,
    port: portNo,
    username: pick('ami_username', 'AMI_USERNAME')?.text ?? DEFAULT_AMI.username,
    secret: pick('ami_secret', 'AMI_SECRET')?.text ?? DEFAULT_AMI.secret,
    events: names(r, 'ami_events', DEFAULT_AMI.events, p),
    services: names(r, 'ami_services', DEFAULT_AMI.services, p).map((s) => s.toUpperCase()),
    successClears: r.bool('ami_success_clears', DEFAULT_AMI.successClears),
    challengeWindow: r.duration('ami_challenge_window', DEFAULT_AMI.challengeWindow, { zero: true }),
    pingInterval: r.duration('ami_ping_interval', DEFAULT_AMI.pingInterval),
    pingTimeout: r.duration('ami_ping_timeout', DEFAULT_AMI.pingTimeout),
  };
}

function ignoreips(r: SectionReader, p: Problems): string[] {
  const out: string[] = [];
  for (const l of r.lines('ignoreip') ?? []) {
    for (const entry of splitList(l.value)) {
      const ok = checkIgnoreEntry(entry);
      if (ok) out.push(ok);
      else p.error(`ignoreip entry "${printable(entry, 60)}" is not an IP address, a CIDR range or a host name`, { file: l.file, line: l.line },
        'e.g. ignoreip = 127.0.0.1/8 ::1 192.168.1.0/24 pbx.example.org');
    }
  }
  return out;
}

/** Regex options set in the jail itself replace the filter's, as in fail2ban. */
function applyOverrides(stack: ConfigStack, name: string, scope: Scope, def: FilterDefinition, p: Problems): FilterDefinition {
  const own = (key: string): Located[] | null => {
    const v = latest(stack.sections.get(name), key);
    return v ? (interpolateLines(v, scope) ?? []).filter((l) => l.value !== '') : null;
  };
  const out = { ...def };
  const fail = own('failregex');
  if (fail) {
    checkHostTags(fail, def.vars, p);
    out.failregex = fail;
  }
  out.ignoreregex = own('ignoreregex') ?? def.ignoreregex;
  out.prefregex = own('prefregex')?.[0] ?? def.prefregex;
  out.datepattern = own('datepattern')?.[0] ?? def.datepattern;
  return out;
}

function options(stack: ConfigStack, scope: Scope): Record<string, string> {
  const quiet: Scope = { ...scope, problems: mutedProblems() };
  const out: Record<string, string> = {};
  for (const sec of ['DEFAULT', scope.chain[0]!]) {
    for (const [key, hist] of stack.sections.get(sec)?.values ?? []) {
      if (isSecretName(key)) continue;
      const value = interpolateValue(hist[hist.length - 1]!, quiet);
      if (value !== null) out[key] = value;
      else delete out[key];
    }
  }
  return out;
}

function readJail(dir: string, stack: ConfigStack, name: string, env: Record<string, string>, problems: Problems): JailSettings {
  const sec = stack.sections.get(name)!;
  const base: Scope = { stack, vars: { __name__: name }, chain: [name, 'DEFAULT'], problems };
  const enabled = new SectionReader(base, problems).bool('enabled', false);
  // A disabled jail is read as far as it goes; its problems do not matter.
  const p = enabled ? problems : mutedProblems();
  const scope: Scope = { ...base, problems: p };
  const r = new SectionReader(scope, p);
  const at = { file: sec.file, line: sec.line };
  if (enabled) {
    checkKeys(stack, name, p);
    if (!JAIL_NAME.test(name)) p.error(`jail name [${printable(name, 64)}] is not usable`, at, 'use letters, digits, "_", "-" and "." (at most 64)');
  }

  const filter = single(r, 'filter', p);
  const gapfilter = single(r, 'gapfilter', p);
  let filterDef = enabled && filter ? readFilterFor(dir, filter, p) : null;
  if (filterDef) filterDef = applyOverrides(stack, name, scope, filterDef, p);
  const gapFilterDef = enabled && gapfilter ? readFilterFor(dir, gapfilter, p) : null;
  const amiSettings = ami(r, env, p);

  let backend: Backend = amiSettings.username ? 'auto' : 'log';
  const backendText = r.text('backend');
  if (backendText) {
    const m = mapBackend(backendText);
    if ('error' in m) p.error(m.error, r.at('backend'), m.hint);
    else {
      backend = m.backend;
      if (m.note) p.warn(m.note, r.at('backend'));
    }
  }
  const logpath = logpaths(r);
  if (enabled && backend === 'auto' && (!amiSettings.username || !amiSettings.secret)) {
    // auto degrades to what it can do: the log alone, said out loud.
    p.warn(`jail [${name}] has backend = auto but no AMI user name or secret: reading the log only (set AMI_USERNAME and AMI_SECRET in .env)`, r.at('backend') ?? at);
    backend = 'log';
  }
  if (enabled && backend === 'ami') {
    if (!amiSettings.username) p.error(`jail [${name}] uses AMI (backend = ami) but has no AMI user name`, r.at('backend') ?? at, 'set AMI_USERNAME in .env or ami_username in the jail, or use backend = log');
    if (!amiSettings.secret) p.error(`jail [${name}] uses AMI (backend = ami) but has no AMI secret`, r.at('backend') ?? at, 'set AMI_SECRET in .env (or ami_secret in the jail)');
  }
  if (enabled && backend !== 'ami') {
    const why = backend === 'auto' ? 'backend = auto falls back to the log' : 'backend = log reads the log';
    if (!filter) p.error(`jail [${name}] has no filter`, at, `${why}: set filter = asterisk, or use backend = ami`);
    if (logpath.length === 0) p.error(`jail [${name}] has no logpath`, at, `${why}: set logpath = /var/log/asterisk/messages, or use backend = ami`);
  }

  const usedns = r.text('usedns');
  if (usedns && !['no', 'raw'].includes(usedns.toLowerCase())) {
    p.warn(`usedns = ${printable(usedns, 20)}: only addresses are used, host names in log lines are never resolved`, r.at('usedns'));
  }
  r.int('maxmatches', 0, 0);
  r.int('maxlines', 1, 1, 1000);
  const actions = invocationsOf(r, 'action', p).map((a) => withActionOverrides(dir, a, p));
  if (enabled && actions.length === 0) p.warn(`jail [${name}] has no action: it counts failures but bans nothing`, at);

  const defaults = defaultJailSettings(name);
  const maxretry = r.int('maxretry', DEFAULT_MAXRETRY, 1);
  return {
    name,
    file: sec.file,
    line: sec.line,
    enabled,
    filter,
    filterDef,
    gapfilter,
    gapFilterDef,
    logpath,
    backend,
    maxretry,
    findtime: r.duration('findtime', DEFAULT_FINDTIME),
    bantime: r.duration('bantime', DEFAULT_BANTIME, { permanent: true }),
    increment: increment(r, p),
    ignoreip: ignoreips(r, p),
    ignoreself: r.bool('ignoreself', true),
    ignoreAsteriskPeers: r.bool('ignore_asterisk_peers', true),
    ignoreRecentSuccess: r.duration('ignore_recent_success', 0, { zero: true }),
    ipv6Prefix: r.int('ipv6_prefix', DEFAULT_IPV6_PREFIX, MIN_V6_PREFIX, MAX_V6_PREFIX),
    alerts: readAlertSettings(r, p),
    fleet: r.choice('fleet', 'off', FLEET_MODES),
    fleetMaxretry: r.int('fleet_maxretry', maxretry, 1),
    actions,
    destemail: r.str('destemail', defaults.destemail),
    sender: r.str('sender', defaults.sender),
    verify: r.choice('verify', 'auto', VERIFY),
    ami: amiSettings,
    maxtracked: r.int('maxtracked', DEFAULT_MAXTRACKED, 1),
    readback: r.bool('readback', false),
    options: options(stack, scope),
  };
}
