import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettings } from '../../src/settings/index.js';
import { configDir, STUB_FILTER } from './helpers.js';

const jail = (action: string): string => `[j]\nenabled = true\nfilter = stub\nlogpath = /x\naction = ${action}\n`;

test('action.d/iptables.local (fail2ban 1.0) and iptables-common.local (older) set defaults; the jail line wins', () => {
  const dir = configDir({
    'jail.conf': jail('iptables-allports\n         iptables-multiport[blocktype=REJECT]'),
    'filter.d/stub.conf': STUB_FILTER,
    'action.d/iptables-common.local': '[Init]\nblocktype = REJECT --reject-with tcp-reset\nchain = ASTERISK\n',
    'action.d/iptables.local': '[Init]\nblocktype = DROP\n',
  });
  const s = loadSettings(dir, { env: {} });
  const [allports, multiport] = s.jails[0]!.actions;
  assert.deepEqual([allports!.params.blocktype, allports!.params.chain], ['DROP', 'ASTERISK'], 'iptables.local is read after iptables-common.local');
  assert.equal(multiport!.params.blocktype, 'REJECT');
});

test('a value for a parameter the action does not take is a warning at its line', () => {
  const dir = configDir({
    'jail.conf': jail('nftables-allports'),
    'filter.d/stub.conf': STUB_FILTER,
    'action.d/nftables.local': '[Init]\n\nnftables_family = inet\nblocktype = drop\n',
  });
  const s = loadSettings(dir, { env: {} });
  assert.equal(s.jails[0]!.actions[0]!.params.blocktype, 'drop');
  assert.ok((s.warnings ?? []).some((w) => /action\.d\/nftables\.local:3: \[Init\] nftables_family is not a parameter of nftables-allports/.test(w)), (s.warnings ?? []).join('\n'));
});
