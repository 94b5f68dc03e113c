import { firewallSuite } from './firewall-suite.js';

firewallSuite({
  action: 'nftables-allports',
  params: { protocol: 'all' },
  tools: ['nft', 'conntrack'],
  setBased: true,
  sabotage: [
    { commands: [['nft', 'flush', 'set', 'inet', 'asban-ASTERISK', 'addr-v4'], ['nft', 'flush', 'set', 'inet', 'asban-ASTERISK', 'addr-v6']], opens: true },
    { commands: [['nft', 'flush', 'chain', 'inet', 'asban-ASTERISK', 'input']], opens: true },
    { commands: [['nft', 'delete', 'table', 'inet', 'asban-ASTERISK']], opens: true },
  ],
});
