import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, parseRequest, RequestError } from '../../src/control/protocol.js';

function splitter(max: number): { s: LineSplitter; lines: string[]; overflows: () => number } {
  const lines: string[] = [];
  let overflows = 0;
  const s = new LineSplitter(max, (l) => lines.push(l), () => { overflows++; });
  return { s, lines, overflows: () => overflows };
}

describe('LineSplitter', () => {
  it('joins lines split across chunks and splits several lines in one chunk', () => {
    const { s, lines } = splitter(100);
    s.push(Buffer.from('{"a":'));
    s.push(Buffer.from('1}\n{"b":2}\r\n\n{"c"'));
    s.push(Buffer.from(':3}\n'));
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
    assert.equal(s.buffered, 0);
  });

  it('keeps multi-byte characters whole when a chunk ends inside one', () => {
    const { s, lines } = splitter(100);
    const bytes = Buffer.from('héllo\n');
    s.push(bytes.subarray(0, 2));
    s.push(bytes.subarray(2));
    assert.deepEqual(lines, ['héllo']);
  });

  it('never holds more than the limit of a 10 MB line and reports it once', () => {
    const { s, lines, overflows } = splitter(64 * 1024);
    const chunk = Buffer.alloc(16 * 1024, 0x41);
    let peak = 0;
    for (let sent = 0; sent < 10 * 1024 * 1024; sent += chunk.length) {
      s.push(chunk);
      peak = Math.max(peak, s.buffered);
    }
    s.push(Buffer.from('\n{"after":1}\n'));
    assert.ok(peak <= 64 * 1024, `peak ${peak}`);
    assert.equal(overflows(), 1);
    assert.deepEqual(lines, [], 'nothing after an overflow is parsed');
  });

  it('accepts a line of exactly the limit', () => {
    const { s, lines, overflows } = splitter(8);
    s.push(Buffer.from('12345678\n123456789\n'));
    assert.deepEqual(lines, ['12345678']);
    assert.equal(overflows(), 1);
  });
});

describe('parseRequest', () => {
  const table: Array<[string, string, { id: unknown; cmd: string; args: unknown } | { error: RegExp; id?: unknown }]> = [
    ['full', '{"id":1,"cmd":"ban","args":{"jail":"a"}}', { id: 1, cmd: 'ban', args: { jail: 'a' } }],
    ['no id, no args', '{"cmd":"list"}', { id: null, cmd: 'list', args: {} }],
    ['string id', '{"id":"x","cmd":"list","args":null}', { id: 'x', cmd: 'list', args: {} }],
    ['not JSON', 'ban 1.2.3.4', { error: /not JSON/ }],
    ['null', 'null', { error: /JSON object/ }],
    ['float id', '{"id":1.5,"cmd":"list"}', { error: /id/ }],
    ['long cmd', `{"id":7,"cmd":"${'x'.repeat(100)}"}`, { error: /cmd/, id: 7 }],
    ['args string', '{"id":8,"cmd":"list","args":"x"}', { error: /args/, id: 8 }],
  ];
  for (const [name, line, want] of table) {
    it(name, () => {
      if ('error' in want) {
        assert.throws(() => parseRequest(line), (err) => err instanceof RequestError && err.code === 'E_REQUEST' && want.error.test(err.message) && err.id === (want.id ?? null));
      } else {
        assert.deepEqual(parseRequest(line), want);
      }
    });
  }
});
