import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { banView } from '../../src/control/views.js';
import type { Ban } from '../../src/core/types.js';

describe('banView', () => {
  const ban: Ban = {
    jail: 'asterisk', ip: '203.0.113.5', family: 4, start: Date.UTC(2026, 10, 27, 12, 0, 0), end: Date.UTC(2026, 10, 27, 13, 0, 0),
    count: 3, source: 'ami', reason: 'InvalidPassword', failures: [],
  };

  it('converts times to ISO 8601 and drops the failures', () => {
    assert.deepEqual(banView(ban), {
      jail: 'asterisk', ip: '203.0.113.5', since: '2026-11-27T12:00:00.000Z', until: '2026-11-27T13:00:00.000Z', count: 3, source: 'ami', reason: 'InvalidPassword',
    });
  });

  it('shows a permanent ban with until null', () => {
    assert.equal(banView({ ...ban, end: null }).until, null);
  });
});
