import { firewallSuite } from './firewall-suite.js';

firewallSuite({
  action: 'iptables-ipset-proto6-allports',
  params: { protocol: 'all' },
  tools: ['iptables-restore', 'ip6tables-restore', 'ipset', 'conntrack'],
  setBased: true,
  demoteJump: [['iptables', '-D', 'INPUT', '-j', 'asban-ASTERISK'], ['iptables', '-A', 'INPUT', '-j', 'asban-ASTERISK']],
  sabotage: [
    { commands: [['ipset', 'flush', 'asban-ASTERISK-v4'], ['ipset', 'flush', 'asban-ASTERISK-v6']], opens: true },
    { commands: [['iptables', '-F', 'asban-ASTERISK'], ['ip6tables', '-F', 'asban-ASTERISK']], opens: true },
    { commands: [['iptables', '-D', 'INPUT', '-j', 'asban-ASTERISK']], opens: true },
  ],
});
