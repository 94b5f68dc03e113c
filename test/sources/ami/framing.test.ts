import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FrameSplitter, parseFrame } from '../../../src/sources/ami/framing.js';
import { isAsteriskBanError } from '../../../src/core/errors.js';
import { fixture } from '../../helpers/paths.js';

function split(chunks: string[], limits = { maxBuffer: 1 << 20, maxFrame: 64 << 10 }) {
  const frames: string[] = [];
  const banners: string[] = [];
  const oversized: number[] = [];
  const s = new FrameSplitter({ banner: (b) => banners.push(b), frame: (f) => frames.push(f), oversized: (n) => oversized.push(n) }, limits);
  for (const c of chunks) s.push(c);
  return { frames, banners, oversized, splitter: s };
}

describe('FrameSplitter', () => {
  const recording = readFileSync(fixture('ami', 'asterisk-20.20.1-adversarial.txt'), 'utf8');
  it('gives the same frames whether the stream comes whole or byte by byte', () => {
    const whole = split([recording]);
    const bytes = split(recording.split(''));
    assert.equal(whole.banners[0], 'Asterisk Call Manager/9.0.0');
    assert.ok(whole.frames.length > 140);
    assert.deepEqual(bytes.frames, whole.frames);
  });
  it('keeps a bare LF or CR inside a value', () => {
    const { frames } = split(['Asterisk Call Manager/9.0.0\r\n', 'Event: A\r\nAccountID: x\nRemoteAddress: y\r\nB: z\rC\r\n\r\n']);
    assert.deepEqual(parseFrame(frames[0]!).headers, [['Event', 'A'], ['AccountID', 'x\nRemoteAddress: y'], ['B', 'z\rC']]);
  });
  it('skips stray blank lines between messages', () => {
    const { frames } = split(['Asterisk Call Manager/9.0.0\r\n\r\n\r\nEvent: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n']);
    assert.deepEqual(frames, ['Event: A', 'Event: B']);
  });
  it('refuses a peer whose lines end with a bare LF, naming it', () => {
    assert.throws(() => split(['Asterisk Call Manager/9.0.0\nResponse: Success\n\n']), (e) => isAsteriskBanError(e, 'E_AMI_CONNECT') && /bare LF/.test(e.message));
  });
  it('refuses a peer that is not AMI', () => {
    assert.throws(() => split(['SSH-2.0-OpenSSH_9.2\r\n']), (e) => isAsteriskBanError(e, 'E_AMI_CONNECT'));
  });
  it('gives up on more than maxBuffer bytes without a message end', () => {
    const r = split(['Asterisk Call Manager/9.0.0\r\n', 'Event: A\r\n']);
    assert.throws(() => r.splitter.push(`AccountID: ${'B'.repeat(1 << 20)}`), (e) => isAsteriskBanError(e, 'E_AMI_CONNECT'));
    assert.equal(r.splitter.buffered, 0);
  });
  it('drops an oversized message and goes on', () => {
    const { frames, oversized } = split(['Asterisk Call Manager/9.0.0\r\n', `Event: Big\r\nX: ${'a'.repeat(200)}\r\n\r\nEvent: Small\r\n\r\n`], { maxBuffer: 1 << 20, maxFrame: 100 });
    assert.deepEqual(frames, ['Event: Small']);
    assert.equal(oversized.length, 1);
  });
});

describe('parseFrame', () => {
  it('splits at the first colon, keeps empty values and colon-less lines', () => {
    assert.deepEqual(parseFrame('Event: X\r\nChallenge: \r\nRequestType: Action: Ping\r\ngarbage\r\nNoSpace:v').headers, [
      ['Event', 'X'], ['Challenge', ''], ['RequestType', 'Action: Ping'], ['garbage', ''], ['NoSpace', 'v'],
    ]);
  });
});
