import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileFilter } from '../../src/filter/index.js';
import { loadFilterFile } from '../../src/settings/filter-file.js';
import { repoRoot } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'ab-common-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// A filter written the way fail2ban's stock ones are: its prefix comes from common.conf.
const FILTER = `[INCLUDES]
before = common.conf

[Definition]
_daemon = asterisk
prefregex = ^%(__prefix_line)s(?:NOTICE|WARNING)%(__pid_re)s:? [^:]+: <F-CONTENT>.+</F-CONTENT>$
failregex = ^Registration from '[^']*' failed for '<HOST>(?::\\d+)?' - Wrong password$
`;

test("the shipped common.conf gives a stock-style filter its __prefix_line: Asterisk's own file and syslog", () => {
  const dir = join(tmp, 'with');
  mkdirSync(dir);
  writeFileSync(join(dir, 'mine.conf'), FILTER);
  copyFileSync(join(repoRoot, 'config', 'filter.d', 'common.conf'), join(dir, 'common.conf'));
  const f = compileFilter(loadFilterFile(join(dir, 'mine.conf'), {}), { timezone: 'UTC' });
  const hits: string[] = [];
  const m = f.matcher({ onMatch: (x) => hits.push(x.ip) });
  m.push("[2026-11-27 15:29:00] NOTICE[22350] chan_sip.c: Registration from '<sip:7001@192.0.2.1>' failed for '203.0.113.5:59599' - Wrong password");
  m.push("Nov 27 15:29:01 pbx asterisk[2350]: NOTICE[22350] chan_sip.c: Registration from '<sip:7001@192.0.2.1>' failed for '203.0.113.6:59599' - Wrong password");
  m.flush();
  assert.deepEqual(hits, ['203.0.113.5', '203.0.113.6']);
});
