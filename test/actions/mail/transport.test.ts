import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scrubSecret } from '../../../src/core/scrub.js';

const secret = 'p@ss w/rd';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

const cases: [string, string, string][] = [
  ['plain', `login failed for ${secret}`, 'login failed for [redacted]'],
  ['url-encoded', `smtp://u:${encodeURIComponent(secret)}@h`, 'smtp://u:[redacted]@h'],
  ['base64 (AUTH LOGIN)', `C: ${b64(secret)}`, 'C: [redacted]'],
  ['AUTH PLAIN token', `AUTH PLAIN ${b64(`\u0000mailer\u0000${secret}`)}`, 'AUTH PLAIN [redacted]'],
  ['nothing to scrub', '535 Invalid login', '535 Invalid login'],
];

for (const [name, input, expected] of cases) {
  test(`scrubSecret: ${name}`, () => {
    assert.equal(scrubSecret(input, secret, 'mailer'), expected);
  });
}

test('scrubSecret without a secret changes nothing', () => {
  assert.equal(scrubSecret('anything', null), 'anything');
  assert.equal(scrubSecret('anything', ''), 'anything');
});
