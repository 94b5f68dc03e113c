import { firewallSuite } from './firewall-suite.js';

firewallSuite({
  action: 'iptables-multiport',
  params: { protocol: 'all', port: '"sip,5061,10000:20000"' },
  tools: ['iptables-restore', 'ip6tables-restore', 'conntrack'],
  portsOnly: true,
  sabotage: [
    { commands: [['iptables', '-F', 'asban-ASTERISK'], ['ip6tables', '-F', 'asban-ASTERISK']], opens: true },
    { commands: [['iptables', '-D', 'INPUT', '-p', 'udp', '-m', 'multiport', '--dports', '5060,5061,10000:20000', '-j', 'asban-ASTERISK']], opens: true },
  ],
});
