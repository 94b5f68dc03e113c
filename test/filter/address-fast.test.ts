import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipNumAddress, parseAddress } from '../../src/core/address.js';
import { prng } from '../bench/gen-asterisk-log.js';

/** What parseAddress returned before its hand-written fast path: ip-num alone. */
function reference(input: string): { text: string; family: number; value: bigint } | null {
  let raw = input;
  if (raw.startsWith('[') && raw.endsWith(']')) raw = raw.slice(1, -1);
  if (raw.includes('%')) return null;
  try {
    return ipNumAddress(raw);
  } catch {
    return null;
  }
}

const FIXED = [
  '1.2.3.4', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3.04', '1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ',
  '00.1.2.3', '1.2.3.-4', '1.2.3.4a', '999.1.1.1', '10.0.0.1',
  '::', '::1', '1::', '::ffff:1.2.3.4', '::ffff:102:304', '::ffff:0:0', '0:0:0:0:0:ffff:a:b', '::1.2.3.4', '2001:db8::1', '2001:DB8::A',
  '2001:0db8:0000:0000:0000:0000:0000:0001', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '1:2:3::5:6:7:8', '1:0:0:2:0:0:0:3', '1:0:0:2:0:0:3:4',
  '0:0:1:0:0:0:0:0', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', ':::', '1:::2', '1::2::3', '12345::',
  'g::1', '2001:db8::1%eth0', '[2001:db8::1]', '[1.2.3.4]', 'fe80::1:2', '::0:0:1', '0::0', '00000::1', '2001:db8:0:1:0:0:0:1',
];

function randomCandidates(n: number): string[] {
  const rnd = prng(7);
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.4) {
      const parts = Array.from({ length: rnd() < 0.9 ? 4 : 3 + Math.floor(rnd() * 3) }, () => pick(['0', '1', '01', '255', '256', '10', '199', String(Math.floor(rnd() * 300))]));
      out.push(parts.join('.'));
    } else {
      const groups = Array.from({ length: 8 }, () => (rnd() < 0.5 ? '0' : pick(['1', 'ffff', 'FFFF', '0db8', '00', 'abc', '10000', Math.floor(rnd() * 65536).toString(16)])));
      let text = groups.slice(0, 2 + Math.floor(rnd() * 7)).join(':');
      if (rnd() < 0.6) {
        const at = Math.floor(rnd() * (text.length + 1));
        const head = text.slice(0, at).replace(/:$/, '');
        const tail = text.slice(at).replace(/^[^:]*:?/, '');
        text = `${head}::${tail}`;
      }
      if (rnd() < 0.1) text = `::ffff:${text.split(':').slice(-2).join(':')}`;
      out.push(text);
    }
  }
  return out;
}

test('parseAddress (fast path for plain forms) gives exactly what ip-num gives', () => {
  for (const input of [...FIXED, ...randomCandidates(20_000)]) {
    const got = parseAddress(input);
    const want = reference(input);
    assert.deepEqual(got === null ? null : { text: got.text, family: got.family, value: got.value }, want, input);
  }
});

test('the parse cache gives the same answers after it has turned over many times', () => {
  // 200,000 distinct addresses: past both generations of the cache, twice.
  const text = (i: number) => (i % 7 === 0 ? `2001:db8:${(i >> 16).toString(16)}::${(i & 0xffff).toString(16)}` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 200_000; i += 1) {
      const a = parseAddress(text(i));
      if (i % 997 === 0) assert.deepEqual(a, ipNumAddress(text(i)), text(i));
    }
  }
  // A bracketed form and junk are not confused with cached entries.
  assert.equal(parseAddress('[2001:db8::7]')?.text, '2001:db8::7');
  assert.equal(parseAddress('10.0.0.256'), null);
});
