import { firewallSuite } from './firewall-suite.js';

// Ports, service names, a range and DROP on the nftables path.
firewallSuite({
  action: 'nftables-multiport',
  params: { protocol: 'all', port: 'sip,5061,10000-20000', blocktype: 'DROP' },
  tools: ['nft', 'conntrack'],
  setBased: true,
  portsOnly: true,
  sabotage: [
    { commands: [['nft', 'flush', 'set', 'inet', 'asban-ASTERISK', 'addr-v4'], ['nft', 'flush', 'set', 'inet', 'asban-ASTERISK', 'addr-v6']], opens: true },
    { commands: [['nft', 'delete', 'table', 'inet', 'asban-ASTERISK']], opens: true },
  ],
});
