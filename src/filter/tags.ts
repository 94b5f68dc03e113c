import { AsteriskBanError } from '../core/errors.js';
import type { Location } from '../core/errors.js';

// Shapes only: every captured address is validated by parseAddress afterwards,
// so these stay loose enough for all written forms and tight enough not to run away.
const V4 = '(?:\\d{1,3}\\.){3}\\d{1,3}';
const V6 = '(?:[0-9a-fA-F]{0,4}:){2,7}(?:[0-9a-fA-F]{1,4}|(?:\\d{1,3}\\.){3}\\d{1,3})?';

/** A regex with fail2ban's tags replaced, and the names of its address groups. */
export interface ExpandedTags {
  pattern: string;
  /** Named groups holding an address, in the order the tags were written. */
  hostGroups: string[];
  /** Named groups of <F-...> tags, as F_USER, F_ID... */
  fieldGroups: string[];
}

const MAX_DEPTH = 10;

/** Replaces `<name>` by a filter variable (fail2ban's recursive tag substitution), innermost first. */
export function substituteVars(text: string, vars: Record<string, string>, location?: Location): string {
  let current = text;
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    let changed = false;
    current = current.replace(/<([A-Za-z_][\w.\/-]*)>/g, (whole, name: string) => {
      if (BUILTIN.has(name) || name.startsWith('F-')) return whole;
      const v = Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : undefined;
      if (v === undefined) return whole;
      changed = true;
      return v;
    });
    if (!changed) return current;
  }
  throw new AsteriskBanError('E_FILTER', `tag substitution in "${text.slice(0, 80)}" does not terminate (a variable refers to itself)`, { location });
}

const BUILTIN = new Set(['HOST', 'ADDR', 'IP4', 'IP6', 'CIDR', 'SUBNET', 'SKIPLINES', 'DNS']);

/**
 * Expands the address tags and <F-NAME>...</F-NAME> field tags into named
 * groups. <HOST> accepts only literal addresses (never a hostname: a name
 * written by an attacker must not be resolved and banned), optionally
 * bracketed and optionally ::ffff:-mapped.
 */
export function expandTags(pattern: string, location?: Location): ExpandedTags {
  const hostGroups: string[] = [];
  const fieldGroups: string[] = [];
  let n = 0;
  const host = (body: string, brackets: boolean): string => {
    const a = `_h${n++}`;
    hostGroups.push(a);
    if (!brackets) return `(?<${a}>${body})`;
    const b = `_h${n++}`;
    hostGroups.push(b);
    // pjsip brackets IPv4 too ("TCP:[192.0.2.1]:5060").
    return `(?:\\[(?<${a}>${body})\\]|(?<${b}>${body}))`;
  };
  const out = pattern.replace(/<(\/?)(F-[A-Za-z0-9_-]+|HOST|ADDR|IP4|IP6|CIDR|SUBNET|SKIPLINES|DNS)>/g, (_w, close: string, tag: string) => {
    if (tag.startsWith('F-')) {
      if (close) return ')';
      const name = `F_${tag.slice(2).replace(/-/g, '_').toUpperCase()}`;
      if (fieldGroups.includes(name)) throw new AsteriskBanError('E_REGEX', `<${tag}> appears twice in one regex`, { location, hint: 'use <F-ALT_...> for the second alternative' });
      fieldGroups.push(name);
      return `(?<${name}>`;
    }
    if (close) throw new AsteriskBanError('E_REGEX', `</${tag}> is not a closing tag`, { location });
    switch (tag) {
      case 'HOST':
      case 'ADDR':
        return host(`${V6}|${V4}`, true);
      case 'IP4':
        return host(V4, false);
      case 'IP6':
        return host(V6, true);
      case 'CIDR':
        return '(?:\\d{1,3})';
      case 'SUBNET':
        return `${host(`${V6}|${V4}`, true)}(?:/\\d{1,3})?`;
      case 'DNS':
        throw new AsteriskBanError('E_REGEX', '<DNS> is not supported: a host name written by an attacker is never resolved and banned', { location, hint: 'use <HOST> (literal addresses only)' });
      default:
        throw new AsteriskBanError('E_REGEX', '<SKIPLINES> (multi-line matching) is not supported', {
          location,
          hint: 'match one line per failure; multi-line Asterisk messages are handled by openregex/closeregex',
        });
    }
  });
  return { pattern: out, hostGroups, fieldGroups };
}
