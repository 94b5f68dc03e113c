// Bans in a loop until killed: prints "A <ip>" when an action is handed a ban
// and "C <ip>" when the manager reports it committed. The parent SIGKILLs us
// mid-stream and checks the database against what we printed.
import { writeSync } from 'node:fs';
import { BanManager } from '../../src/bans/manager.js';
import { Store } from '../../src/store/store.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Action } from '../../src/actions/types.js';
import type { Ban } from '../../src/core/types.js';
import { inc, req, v4 } from './fakes.js';

const out = (text: string): void => {
  writeSync(1, text);
};

const action: Action = {
  id: 'printer',
  kind: 'firewall',
  start: async () => {},
  check: async () => false,
  ban: async (bans: Ban[]) => {
    out(bans.map((b) => `A ${b.ip}\n`).join(''));
  },
  unban: async () => {},
  flush: async () => {},
  stop: async () => {},
};

const store = Store.open(process.argv[2]!);
const manager = new BanManager({ store, clock: systemClock, logger: silentLogger() });
await manager.setJail('asterisk', { bantime: 3600, increment: inc({ enabled: true }), actions: [action] });
await manager.start();
out('READY\n');
for (let i = 0; ; i += 50) {
  const bans = await Promise.all(Array.from({ length: 50 }, (_, k) => manager.request(req(v4(i + k), systemClock.now()))));
  // null: already banned by an earlier (killed) run, restored at start.
  out(bans.filter((b) => b !== null).map((b) => `C ${b.ip}\n`).join(''));
}
