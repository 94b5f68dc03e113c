import type { Action, ActionDeps } from '../types.js';
import type { Invocation } from '../../settings/types.js';

export interface MailVariant {
  whois: boolean;
  lines: boolean;
}

export const MAIL_PARAMS: readonly string[] = [
  'name', 'dest', 'destemail', 'sender', 'sendername', 'transport', 'sendmail_path',
  'whois', 'whois_server', 'whois_port', 'whois_timeout', 'lines', 'digest', 'notify_start', 'notify_unban',
];

export function createMailAction(spec: Invocation, deps: ActionDeps, variant: MailVariant): Action {
  void deps;
  void variant;
  const id = `${spec.name}[${spec.params.name ?? ''}]`;
  return {
    id,
    kind: 'notify',
    start: async () => {},
    check: async () => false,
    ban: async () => {},
    unban: async () => {},
    flush: async () => {},
    stop: async () => {},
  };
}
