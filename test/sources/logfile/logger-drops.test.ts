// Asterisk's logger says when it discards messages (main/logger.c, file
// channel format "[date] LEVEL[lwp] file: message"); those lines are
// recognised exactly and nothing that merely looks like them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loggerDrop, LoggerDrops } from '../../../src/sources/logfile/logger-drops.js';

const OVERFLOW = '[2026-12-03 16:30:00] WARNING[12345] logger: Log queue threshold (1000) exceeded.  Discarding new messages.';
const RESUMED = '[2026-12-03 16:30:02] WARNING[12345] logger: Logging resumed.  158329 messages discarded.';

test('the two lines Asterisk 20 writes, with or without a call id, and a single discarded message', () => {
  assert.deepEqual(loggerDrop(OVERFLOW), { kind: 'overflow', limit: 1000 });
  assert.deepEqual(loggerDrop(RESUMED), { kind: 'resumed', discarded: 158329 });
  assert.deepEqual(loggerDrop('[Dec  3 16:30:02] WARNING[7][C-0000002a] logger: Logging resumed.  1 message discarded.'), { kind: 'resumed', discarded: 1 });
  assert.deepEqual(loggerDrop('[2026-12-03 16:30:00.123] WARNING[9] logger: Log queue threshold (5000) exceeded.  Discarding new messages.'), { kind: 'overflow', limit: 5000 });
});

test('lookalikes are not taken: another level, another file, text around it, one space, a line too long', () => {
  for (const line of [
    OVERFLOW.replace('WARNING', 'NOTICE'),
    OVERFLOW.replace(' logger: ', ' chan_sip.c: '),
    `${OVERFLOW} from 203.0.113.9`,
    OVERFLOW.replace('exceeded.  Discarding', 'exceeded. Discarding'),
    `[2026-12-03 16:30:00] NOTICE[2211] chan_sip.c: Registration from '<sip:x@192.0.2.1>' failed for '203.0.113.9:5060' - Wrong password ${RESUMED}`,
    RESUMED.replace('158329', '1'.repeat(200)),
    RESUMED.replace('158329', '-5'),
  ]) {
    assert.equal(loggerDrop(line), null, line);
  }
});

test('a tracker counts what was discarded and knows when discarding is going on', () => {
  const d = new LoggerDrops();
  assert.equal(d.scan([OVERFLOW, 'noise'], 1_000).length, 1);
  assert.equal(d.discardingSince, 1_000);
  d.scan([OVERFLOW], 2_000);
  assert.equal(d.discardingSince, 1_000, 'since the first overflow');
  d.scan([RESUMED, RESUMED.replace('158329', '7')], 3_000);
  assert.deepEqual({ overflows: d.overflows, discarded: d.discarded, since: d.discardingSince }, { overflows: 2, discarded: 158336, since: null });
});
