import { hostname } from 'node:os';
import type { Action, ActionDeps, ActionFactory } from './types.js';
import type { Invocation } from '../settings/types.js';
import { AsteriskBanError } from '../core/errors.js';
import { printable } from '../core/address.js';
import { FIREWALL_PARAMS, GENERIC_PARAMS, parseFirewallParams } from './params.js';
import { iptablesAllports } from './iptables-allports.js';
import { iptablesMultiport } from './iptables-multiport.js';
import { ipsetFactory } from './iptables-ipset.js';
import { nftablesFactory } from './nftables.js';
import { dryRunFactory } from './dry-run.js';
import { mailActions } from './mail/index.js';
import { webhookFactory, WEBHOOK_PARAMS } from './webhook/index.js';
import { closest } from '../core/similar.js';

interface Entry {
  factory: ActionFactory;
  params: readonly string[];
  /** Firewall parameter rules apply (port list needed unless allports). */
  firewall?: { allports: boolean; sets: boolean };
}

// fail2ban's nftables takes `type = allports | multiport`.
function nftables(name: string, allports: boolean): ActionFactory {
  return (spec, deps) => nftablesFactory(name, allports || /^["']?allports["']?$/i.test(spec.params.type ?? ''))(spec, deps);
}

const FIREWALLS: Record<string, Entry> = {
  'iptables-allports': { factory: iptablesAllports, params: FIREWALL_PARAMS, firewall: { allports: true, sets: false } },
  'iptables-multiport': { factory: iptablesMultiport, params: FIREWALL_PARAMS, firewall: { allports: false, sets: false } },
  // fail2ban's plain `iptables` closes one port; a one-port multiport rule does the same.
  iptables: { factory: iptablesMultiport, params: FIREWALL_PARAMS, firewall: { allports: false, sets: false } },
  'iptables-ipset': { factory: ipsetFactory('iptables-ipset', false), params: FIREWALL_PARAMS, firewall: { allports: false, sets: true } },
  'iptables-ipset-proto4': { factory: ipsetFactory('iptables-ipset', false), params: FIREWALL_PARAMS, firewall: { allports: false, sets: true } },
  'iptables-ipset-proto6': { factory: ipsetFactory('iptables-ipset', false), params: FIREWALL_PARAMS, firewall: { allports: false, sets: true } },
  'iptables-ipset-allports': { factory: ipsetFactory('iptables-ipset-allports', true), params: FIREWALL_PARAMS, firewall: { allports: true, sets: true } },
  'iptables-ipset-proto6-allports': { factory: ipsetFactory('iptables-ipset-allports', true), params: FIREWALL_PARAMS, firewall: { allports: true, sets: true } },
  nftables: { factory: nftables('nftables', false), params: FIREWALL_PARAMS, firewall: { allports: false, sets: true } },
  'nftables-multiport': { factory: nftables('nftables', false), params: FIREWALL_PARAMS, firewall: { allports: false, sets: true } },
  'nftables-allports': { factory: nftables('nftables-allports', true), params: FIREWALL_PARAMS, firewall: { allports: true, sets: true } },
  'dry-run': { factory: dryRunFactory, params: GENERIC_PARAMS },
  dummy: { factory: dryRunFactory, params: GENERIC_PARAMS },
};

const REGISTRY: Record<string, Entry> = { ...FIREWALLS, ...mailActions, webhook: { factory: webhookFactory, params: WEBHOOK_PARAMS } };

export function actionNames(): string[] {
  return Object.keys(REGISTRY).sort();
}

function lookup(spec: Invocation): Entry | undefined {
  return Object.hasOwn(REGISTRY, spec.name) ? REGISTRY[spec.name] : undefined;
}

/** The parameters a built-in action takes, or null when there is no such action. */
export function actionParams(name: string): readonly string[] | null {
  return Object.hasOwn(REGISTRY, name) ? REGISTRY[name]!.params : null;
}

/** Every problem with an `action = name[...]` line, each naming spec.file:spec.line. */
export function validateInvocation(spec: Invocation): AsteriskBanError[] {
  const location = { file: spec.file, line: spec.line };
  const entry = lookup(spec);
  if (!entry) {
    const guess = closest(spec.name, actionNames());
    return [
      new AsteriskBanError('E_ACTION_UNKNOWN', `unknown action "${printable(spec.name)}"`, {
        location,
        hint: guess ? `did you mean "${guess}"?` : `known actions: ${actionNames().join(', ')}`,
      }),
    ];
  }
  const errors: AsteriskBanError[] = [];
  for (const key of Object.keys(spec.params)) {
    if (entry.params.includes(key)) continue;
    const guess = closest(key, entry.params);
    errors.push(
      new AsteriskBanError('E_CONFIG', `action ${spec.name}: unknown parameter "${printable(key)}"`, {
        location,
        hint: guess ? `did you mean "${guess}"?` : `${spec.name} takes: ${[...entry.params].sort().join(', ')}`,
      }),
    );
  }
  if (entry.firewall && errors.length === 0) {
    try {
      const p = parseFirewallParams(spec, { allports: entry.firewall.allports });
      if (p.keep && !entry.firewall.sets) {
        errors.push(new AsteriskBanError('E_CONFIG', `action ${spec.name}: keep = yes needs a set back end`, {
          location,
          hint: 'iptables rules have no timeouts; use iptables-ipset or nftables to keep bans across a stop',
        }));
      }
    } catch (e) {
      errors.push(e instanceof AsteriskBanError ? e : new AsteriskBanError('E_CONFIG', String(e), { location }));
    }
  }
  return errors;
}

/** Builds the action; throws the first validation error (the settings loader reports them all up front). */
export function createAction(given: Invocation, deps: ActionDeps): Action {
  const spec = withHostnameTags(given);
  const errors = validateInvocation(spec);
  if (errors.length > 0) throw errors[0]!;
  return lookup(spec)!.factory(spec, deps);
}

/**
 * fail2ban's standard tags for this host, anywhere in a parameter (its stock
 * jail.conf has sender = root@<fq-hostname>): the host name as the system
 * has it, and its first label.
 */
export function withHostnameTags(spec: Invocation, host = hostname()): Invocation {
  const short = host.split('.')[0] ?? host;
  const fill = (v: string): string => v.replaceAll('<fq-hostname>', host).replaceAll('<sh-hostname>', short);
  if (!Object.values(spec.params).some((v) => v.includes('-hostname>'))) return spec;
  return { ...spec, params: Object.fromEntries(Object.entries(spec.params).map(([k, v]) => [k, fill(v)])) };
}
