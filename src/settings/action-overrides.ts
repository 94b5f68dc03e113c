import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { actionParams } from '../actions/registry.js';
import type { Problems } from './problems.js';
import { latest, readStack } from './stack.js';
import type { Invocation } from './types.js';
import { valueText } from './ini.js';

/**
 * The action.d/ files a fail2ban user overrides an action's defaults in,
 * most general first: fail2ban 1.0 keeps the iptables defaults in
 * iptables.conf, older releases in iptables-common.conf.
 */
function overrideFiles(name: string): string[] {
  const family = name.startsWith('iptables') ? ['iptables-common', 'iptables']
    : name.startsWith('nftables') ? ['nftables-common', 'nftables']
      : name.startsWith('sendmail') || name.startsWith('mail') ? ['sendmail-common', 'mail-whois-common']
        : [];
  return [...family, name];
}

/**
 * `action.d/NAME.local` overrides (their [Init] values) become the defaults
 * of a built-in action's parameters; the jail's own `name[key=value]` still
 * wins. The `.conf` files are fail2ban's shell commands, which asterisk-ban
 * does not run: only the user's `.local` files are read. A value for a
 * parameter the action does not take is a warning at its line.
 */
export function withActionOverrides(dir: string, inv: Invocation, problems: Problems): Invocation {
  const known = actionParams(inv.name);
  if (known === null) return inv;
  const defaults: Record<string, string> = {};
  for (const base of overrideFiles(inv.name)) {
    const file = join(dir, 'action.d', `${base}.local`);
    if (!existsSync(file)) continue;
    const init = readStack([file], problems).sections.get('Init');
    for (const key of init?.values.keys() ?? []) {
      const v = latest(init, key)!;
      if (known.includes(key)) defaults[key] = valueText(v).trim();
      else problems.warn(`[Init] ${key} is not a parameter of ${inv.name} (it takes ${[...known].sort().join(', ')}): ignored`, { file: v.file, line: v.line });
    }
  }
  if (Object.keys(defaults).length === 0) return inv;
  return { ...inv, params: { ...defaults, ...inv.params } };
}
