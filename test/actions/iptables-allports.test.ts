import { firewallSuite } from './firewall-suite.js';

firewallSuite({
  action: 'iptables-allports',
  params: { protocol: 'all' },
  tools: ['iptables-restore', 'ip6tables-restore', 'conntrack'],
  demoteJump: [['iptables', '-D', 'INPUT', '-j', 'asban-ASTERISK'], ['iptables', '-A', 'INPUT', '-j', 'asban-ASTERISK']],
  sabotage: [
    { commands: [['iptables', '-F', 'asban-ASTERISK'], ['ip6tables', '-F', 'asban-ASTERISK']], opens: true },
    { commands: [['iptables', '-D', 'INPUT', '-j', 'asban-ASTERISK']], opens: true },
    // An accept above our jump lets tracked flows through again: check() puts the jump back on top.
    {
      commands: [
        ['iptables', '-D', 'INPUT', '-j', 'asban-ASTERISK'],
        ['iptables', '-I', 'INPUT', '1', '-m', 'state', '--state', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
        ['iptables', '-A', 'INPUT', '-j', 'asban-ASTERISK'],
      ],
      opens: false,
      undo: [['iptables', '-D', 'INPUT', '-m', 'state', '--state', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']],
    },
  ],
});
