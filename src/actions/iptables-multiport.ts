import { iptablesRulesFactory } from './iptables-rules.js';

/**
 * fail2ban's iptables-multiport: only the listed ports (`5060,5061,4569`,
 * ranges `10000:20000`, /etc/services names) are closed; protocol = all
 * means both tcp and udp, the two that carry ports.
 */
export const iptablesMultiport = iptablesRulesFactory('iptables-multiport', false);
