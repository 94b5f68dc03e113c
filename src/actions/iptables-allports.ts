import { iptablesRulesFactory } from './iptables-rules.js';

/** fail2ban's iptables-allports: every port (and with protocol = all, every protocol) of a banned address is closed. */
export const iptablesAllports = iptablesRulesFactory('iptables-allports', true);
