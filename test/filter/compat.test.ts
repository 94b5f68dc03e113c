// fail2ban users bring their own filters: the tag forms fail2ban's stock
// filters use must resolve, and (when fail2ban is installed) its own
// asterisk filter must match what fail2ban-regex matches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFilterFile } from '../../src/settings/index.js';
import { compileFilter } from '../../src/filter/index.js';

function matches(path: string, lines: string[]): string[] {
  const f = compileFilter(loadFilterFile(path));
  const ips: string[] = [];
  const m = f.matcher({ onMatch: (x) => ips.push(x.ip) });
  for (const l of lines) m.push(l);
  m.flush();
  return ips;
}

test('nested section tags such as <lt_<logtype>/__prefix_line> resolve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'asb-compat-'));
  try {
    const file = join(dir, 'nested.conf');
    writeFileSync(file, [
      '[Definition]',
      'prefregex = ^<lt_<logtype>/__prefix>NOTICE\\[\\d+\\] [\\w.]+: <F-CONTENT>.+</F-CONTENT>$',
      'failregex = ^Host <HOST> failed to authenticate as \'[^\']*\'$',
      '[lt_file]',
      '__prefix = \\s*',
      '[lt_journal]',
      '__prefix = JOURNAL ',
      '',
    ].join('\n'));
    assert.deepEqual(matches(file, ["[2026-11-27 10:00:00] NOTICE[1] chan_iax2.c: Host 192.0.2.8 failed to authenticate as 'x'"]), ['192.0.2.8']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const stock = '/etc/fail2ban/filter.d/asterisk.conf';
test("fail2ban's own asterisk filter, unchanged, matches Asterisk's lines", { skip: existsSync(stock) ? false : 'fail2ban not installed' }, () => {
  const lines = [
    "[2026-11-27 10:00:00] NOTICE[1638] chan_sip.c: Registration from '<sip:301@example.com>' failed for '192.0.2.11' - Wrong password",
    "[2026-11-27 10:00:01] NOTICE[17103] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '\"x\" <sip:x@192.0.2.1>' failed for '192.0.2.12:5678' (callid: a1) - No matching endpoint found",
    "[2026-11-27 10:00:02] NOTICE[1638] chan_iax2.c: Host 192.0.2.13 failed MD5 authentication for 'u' (1 != 2)",
    "[2026-11-27 10:00:03] NOTICE[22382] manager.c: 192.0.2.14 failed to authenticate as 'admin'",
    "Nov 27 10:00:04 pbx asterisk[2350]: NOTICE[1638] chan_sip.c: Registration from '<sip:1@x>' failed for '192.0.2.15:5060' - Wrong password",
  ];
  assert.deepEqual(matches(stock, lines), ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14', '192.0.2.15']);
});
