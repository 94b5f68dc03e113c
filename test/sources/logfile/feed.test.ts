import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import type { FilterMatch } from '../../../src/filter/types.js';
import { LineFeed } from '../../../src/sources/logfile/feed.js';
import { localStamp } from './helpers.js';
import { stubFilter } from './stub-filter.js';

// Full filter: "failed" and "rejected"; gap filter: only "rejected" (what AMI would not report).
function setup(mode: 'full' | 'gaps' | 'off' = 'full', screened = false) {
  const clock = new ManualClock();
  const counted: FilterMatch[] = [];
  const feed = new LineFeed({
    filter: stubFilter(['failed', 'rejected'], 'full', screened),
    gapFilter: stubFilter(['rejected'], 'gaps', screened),
    clock,
    mode,
    count: (m) => counted.push(m),
  });
  const line = (at: number, word: string, ip: string) => `[${localStamp(at)}] NOTICE[1] chan_sip.c: Registration from '<sip:a@b>' ${word} for '${ip}'`;
  const ips = () => counted.map((m) => m.ip);
  return { clock, feed, counted, line, ips };
}

describe('LineFeed modes', () => {
  it('full counts every match; off counts nothing', () => {
    const { clock, feed, line, ips } = setup('full');
    const t = clock.now();
    feed.push([line(t, 'failed', '192.0.2.1'), 'noise', line(t, 'rejected', '192.0.2.2')]);
    feed.setMode('off');
    feed.push([line(t, 'failed', '192.0.2.3'), line(t, 'rejected', '192.0.2.4')]);
    feed.flush();
    assert.deepEqual(ips(), ['192.0.2.1', '192.0.2.2']);
  });

  it('gaps counts only what the gap filter matches', () => {
    const { clock, feed, line, ips } = setup('gaps');
    const t = clock.now();
    feed.push([line(t, 'failed', '192.0.2.1'), line(t, 'rejected', '192.0.2.2')]);
    assert.deepEqual(ips(), ['192.0.2.2']);
  });

  it('switching to full with sinceMs replays uncounted lines dated from sinceMs, each once', () => {
    const { clock, feed, line, ips } = setup('gaps');
    const t0 = clock.now();
    feed.push([line(t0, 'failed', '198.51.100.1')]); // AMI saw it: before the loss
    clock.advance(5_000);
    const lost = clock.now();
    clock.advance(2_000);
    feed.push([line(lost + 1_000, 'failed', '198.51.100.2'), line(lost + 1_500, 'rejected', '198.51.100.3')]);
    assert.deepEqual(ips(), ['198.51.100.3']);
    feed.setMode('full', lost);
    assert.deepEqual(ips(), ['198.51.100.3', '198.51.100.2']);
    feed.push([line(clock.now(), 'failed', '198.51.100.4')]);
    feed.setMode('full', lost); // a repeated switch replays nothing again
    assert.deepEqual(ips(), ['198.51.100.3', '198.51.100.2', '198.51.100.4']);
  });

  it('replays what was read in off mode too, and nothing without sinceMs', () => {
    const a = setup('off');
    const t = a.clock.now();
    a.feed.push([a.line(t, 'failed', '203.0.113.1')]);
    a.feed.setMode('full');
    assert.deepEqual(a.ips(), []);
    const b = setup('off');
    b.feed.push([b.line(t, 'failed', '203.0.113.1')]);
    b.feed.setMode('full', t);
    assert.deepEqual(b.ips(), ['203.0.113.1']);
  });

  it('a line dated in the same second as the loss counts (date resolution errs towards counting)', () => {
    const { clock, feed, line, ips } = setup('gaps');
    const lost = Math.floor(clock.now() / 1000) * 1000 + 700;
    feed.push([line(lost - 200, 'failed', '203.0.113.9'), line(lost - 1_700, 'failed', '203.0.113.8')]);
    feed.setMode('full', lost);
    assert.deepEqual(ips(), ['203.0.113.9']);
  });

  it('switching to gaps stops full counting at once; with sinceMs, lines dated before it still count via the full filter', () => {
    const { clock, feed, line, ips } = setup('full');
    const back = clock.now();
    feed.setMode('gaps', back);
    clock.advance(500);
    feed.push([
      line(back - 2_000, 'failed', '192.0.2.10'), // written before AMI was back, read late: AMI never saw it
      line(back + 1_000, 'failed', '192.0.2.11'), // AMI reports this one
      line(back + 1_000, 'rejected', '192.0.2.12'), // AMI does not: the gap filter counts it, once
      line(back - 2_000, 'rejected', '192.0.2.13'), // before: the full filter counts it, once
    ]);
    feed.flush();
    assert.deepEqual(ips().sort(), ['192.0.2.10', '192.0.2.12', '192.0.2.13']);
    clock.advance(60_000);
    feed.push([line(back - 2_000, 'failed', '192.0.2.14')]);
    feed.flush();
    assert.equal(ips().includes('192.0.2.14'), false, 'handover window over: full filter no longer counts');
  });

  it('without sinceMs, switching to gaps counts no full match from then on', () => {
    const { clock, feed, line, ips } = setup('full');
    feed.setMode('gaps');
    feed.push([line(clock.now() - 5_000, 'failed', '192.0.2.20')]);
    assert.deepEqual(ips(), []);
  });

  it('keeps gap line numbers aligned when the filter takes lines in a batch and screens some out', () => {
    const { clock, feed, line, ips, counted } = setup('gaps', true);
    const lost = clock.now();
    feed.push(['noise 1', line(lost, 'failed', '192.0.2.30'), 'noise 2', 'noise 3', line(lost, 'rejected', '192.0.2.31'), 'noise 4']);
    assert.deepEqual(ips(), ['192.0.2.31']);
    assert.equal(counted[0]!.lineNo, 5);
    feed.setMode('full', lost);
    assert.deepEqual(ips(), ['192.0.2.31', '192.0.2.30'], 'the gap-counted line is not replayed');
    feed.push(['noise 5', line(lost, 'failed', '192.0.2.32')]);
    assert.deepEqual(ips(), ['192.0.2.31', '192.0.2.30', '192.0.2.32']);
  });
});
