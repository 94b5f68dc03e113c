import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { BanRequest, Failure } from '../../../src/core/types.js';
import { compileFilter } from '../../../src/filter/index.js';
import { loadFilterDefinition } from '../../../src/filter/load.js';
import { Jail } from '../../../src/jail/jail.js';
import { defaultJailSettings } from '../../../src/settings/defaults.js';
import { LogSource } from '../../../src/sources/logfile/source.js';
import { metrics } from '../../../src/control/metrics.js';
import { fixture, repoRoot } from '../../helpers/paths.js';
import { localStamp, tempDir, waitFor } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

describe('LogSource with the shipped asterisk filter and a Jail', () => {
  it('bans the address that failed maxretry times, not the one an attacker wrote into the From header', async () => {
    const filter = compileFilter(await loadFilterDefinition(join(repoRoot, 'config', 'filter.d', 'asterisk.conf')));
    const p = join(tmp.dir, 'messages');
    writeFileSync(p, '');
    const bans: BanRequest[] = [];
    const failures: Failure[] = [];
    const jail = new Jail(defaultJailSettings('asterisk', { maxretry: 3 }), { clock: systemClock, logger: silentLogger(), onBan: (r) => bans.push(r) });
    const source = new LogSource({
      jail: 'asterisk',
      paths: [p],
      filter,
      clock: systemClock,
      logger: silentLogger(),
      pollMs: 50,
      events: {
        failure: (f) => {
          failures.push(f);
          jail.addFailure(f);
        },
      },
    });
    await source.start();
    const now = Date.now();
    const stamp = `[${localStamp(now)}]`;
    const attack = (ip: string, from: string) => `${stamp} NOTICE[3125] chan_sip.c: Registration from '${from}' failed for '${ip}:5060' - Wrong password\n`;
    for (let i = 0; i < 3; i++) appendFileSync(p, attack('203.0.113.66', `"x" <sip:x@pbx>' failed for '198.51.100.200:5060' - Wrong password`));
    appendFileSync(p, `${stamp} VERBOSE[100] pbx.c: Executing [100@internal:1] Dial("SIP/100-1", "SIP/200") in new stack\n`);
    await waitFor(() => bans.length >= 1, 'ban from the log');
    await source.stop();
    jail.stop();
    assert.deepEqual(bans.map((b) => b.ip), ['203.0.113.66']);
    assert.ok(failures.every((f) => f.ip === '203.0.113.66' && f.source === 'log' && f.reason === 'sip_register'));
    assert.equal(failures[0]!.time, Math.floor(now / 1000) * 1000);
  });

  it('keeps the filter injection-aware through the follower: forged lines never count, idle between bursts', async () => {
    const filter = compileFilter(await loadFilterDefinition(join(repoRoot, 'config', 'filter.d', 'asterisk.conf')));
    // The filter's own fixture: a blank line marks where the follower goes idle.
    const text = readFileSync(fixture('filter', 'asterisk-injection.log'), 'utf8');
    const bursts: string[][] = [[]];
    const expected: string[] = [];
    for (const raw of text.split('\n')) {
      const want = /^# expect: (.*)$/.exec(raw);
      if (want) {
        const e = JSON.parse(want[1]!) as { host?: string; suspect?: string } | null;
        if (e?.host) expected.push(e.host);
        if (e?.suspect) expected.push(`suspect ${e.suspect}`);
      } else if (raw.trim() === '') {
        if (bursts.at(-1)!.length > 0) bursts.push([]);
      } else if (!raw.startsWith('#')) {
        bursts.at(-1)!.push(raw);
      }
    }
    const p = join(tmp.dir, 'injected.log');
    writeFileSync(p, '');
    const failures: Failure[] = [];
    const source = new LogSource({ jail: 'inject', paths: [p], filter, clock: systemClock, logger: silentLogger(), pollMs: 50, events: { failure: (f) => failures.push(f) } });
    await source.start();
    for (const burst of bursts) {
      if (burst.length === 0) continue;
      appendFileSync(p, `${burst.join('\n')}\n`);
      await source.check();
    }
    await source.stop();
    // Suspect lines reach the jail marked, for the daemon to verify (src/daemon/suspect-gate.ts).
    assert.deepEqual(failures.map((f) => (f.suspect ? `suspect ${f.ip}` : f.ip)).sort(), expected.sort());
    const injected = (await metrics.logInjected.get()).values.find((v) => v.labels.jail === 'inject')?.value ?? 0;
    assert.ok(injected >= 1, 'injected lines are counted in the metric');
  });
});
