// Property-based fuzzing of everything that reads untrusted bytes: AMI
// framing and event mapping, the log filter with its dates and held
// messages, the INI reader, the action parser and the control protocol.
// Inputs are the recorded sessions and captures, bytes flipped, cut and
// repeated, with NUL, invalid UTF-8, huge fields and every address form.
// Fixed seed; FUZZ_RUNS (npm run fuzz) makes a longer run, FUZZ_SEED another one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseAddress } from '../../src/core/address.js';
import { AsteriskBanError } from '../../src/core/errors.js';
import { FrameSplitter, defaultFramingLimits } from '../../src/sources/ami/framing.js';
import { compileFilter, LINE_OUTCOMES, type LineOutcome } from '../../src/filter/index.js';
import { loadFilterFile } from '../../src/settings/filter-file.js';
import { parseIni } from '../../src/settings/ini.js';
import { mutedProblems } from '../../src/settings/problems.js';
import { parseInvocations } from '../../src/settings/invocation.js';
import { LineSplitter, parseRequest, RequestError } from '../../src/control/protocol.js';
import { recordedEvents, securityEvent } from '../helpers/fake-ami-server.js';
import { fixture, repoRoot } from '../helpers/paths.js';
import { interpret } from '../sources/ami/util.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true };

/** The ways a byte stream gets damaged: flipped, cut, repeated, NUL, invalid UTF-8, huge. */
function damaged(source: string, huge = 1 << 20): fc.Arbitrary<string> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 400 }) }),
    fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 400 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom('\u0000', '\r', '\n', '\r\n', '\r\n\r\n', '\ufffd', '\u00ff\u00fe', '\u2028', ':', '/') }),
    fc.record({ kind: fc.constant('huge' as const), at: fc.nat(), len: fc.constantFrom(70_000, huge) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let s = source;
    for (const e of edits) {
      const at = s.length === 0 ? 0 : e.at % s.length;
      if (e.kind === 'flip') s = s.slice(0, at) + String.fromCharCode(e.byte) + s.slice(at + 1);
      else if (e.kind === 'cut') s = s.slice(0, at) + s.slice(at + e.len);
      else if (e.kind === 'repeat') s = s.slice(0, at + e.len) + s.slice(at, at + e.len) + s.slice(at + e.len);
      else if (e.kind === 'insert') s = s.slice(0, at) + e.text + s.slice(at);
      else s = s.slice(0, at) + 'A'.repeat(e.len) + s.slice(at);
    }
    return s;
  });
}

/** Every address form an attacker or a broken peer may write. */
const addressText = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((a) => `::ffff:${a}`),
  fc.ipV6().map((a) => `${a}%eth0`),
  fc.ipV6().map((a) => `[${a}]`),
  fc.constantFrom('999.1.1.1', '1.2.3', '::g', '0x7f.1', '01.02.03.04', '1.2.3.4.5', '', ' ', 'localhost', '1.2.3.4; reboot', '10.99.99.99\r\nRemoteAddress: IPV4/UDP/10.99.99.98/5060'),
);

function parses(ip: string): boolean {
  const a = parseAddress(ip);
  return a !== null && a.text === ip;
}

describe('fuzz: AMI framing and event mapping', () => {
  const sessions = ['asterisk-20.20.1-read-all.txt', 'asterisk-20.20.1-read-security.txt', 'asterisk-20.20.1-adversarial.txt'].map((f) => recordedEvents(fixture('ami', f)));

  it('damaged recordings: nothing thrown out, the buffer bounded, every counted address canonical', () => {
    fc.assert(
      // Reads of at least 512 bytes, as a socket delivers them: a frame dripped a byte
      // at a time costs the splitter time quadratic in its size (a known limit).
      fc.property(fc.constantFrom(...sessions).chain(damaged), fc.integer({ min: 512, max: 65536 }), (text, chunk) => {
        const splitter = new FrameSplitter({ banner: () => undefined, frame: () => undefined, oversized: () => undefined });
        try {
          splitter.push('Asterisk Call Manager/9.0.0\r\n');
          for (let i = 0; i < text.length; i += chunk) {
            splitter.push(text.slice(i, i + chunk));
            assert.ok(splitter.buffered <= defaultFramingLimits.maxBuffer + chunk);
          }
        } catch (err) {
          // An overflow or a peer not speaking AMI ends the connection: said, not thrown further.
          assert.ok(err instanceof AsteriskBanError, String(err));
        }
        const { failures } = interpret(text);
        for (const f of failures) assert.ok(parses(f.ip), `counted "${f.ip}"`);
      }),
      params,
    );
  });

  const VICTIMS = /10\.99\.99\.\d+|2001:db8:dead::/;
  const attackerText = fc.array(fc.oneof(addressText, fc.constantFrom('\r\n', '\r', '\n', '\r\n\r\n', 'RemoteAddress: IPV4/UDP/10.99.99.99/5060', 'Event: InvalidPassword', '\u0000', '"', ',')), { maxLength: 8 }).map((parts) => parts.join(''));

  // Asterisk 20.20.1 passes line breaks in these fields through to AMI (see the adversarial recording).
  it('attacker-written fields with one injected blank line never decide the counted address', () => {
    fc.assert(
      fc.property(fc.ipV4(), attackerText, attackerText, (ip, account, session) => {
        fc.pre(!VICTIMS.test(ip));
        const text = securityEvent({ ip, account, session }) + securityEvent({ ip: '203.0.113.9' });
        // Two frame ends are Asterisk's; one more is the attacker's. Several: see the next property.
        fc.pre(text.split('\r\n\r\n').length - 1 <= 3);
        const { failures } = interpret(text);
        for (const f of failures) {
          assert.ok(parses(f.ip));
          assert.ok(!VICTIMS.test(f.ip), `counted a victim from an attacker's field: ${f.ip}`);
        }
      }),
      params,
    );
  });

  // Pieces that each carry a RemoteAddress cannot be told from Asterisk's own
  // tail: such an event is counted for no one rather than for a victim.
  it('several injected blank lines never decide the counted address', () => {
    fc.assert(
      fc.property(fc.ipV4(), attackerText, attackerText, (ip, account, session) => {
        fc.pre(!VICTIMS.test(ip));
        const { failures } = interpret(securityEvent({ ip, account, session }) + securityEvent({ ip: '203.0.113.9' }));
        for (const f of failures) assert.ok(!VICTIMS.test(f.ip), `counted a victim from an attacker's field: ${f.ip}`);
      }),
      params,
    );
  });
});

describe('fuzz: the log filter', () => {
  const def = loadFilterFile(join(repoRoot, 'config', 'filter.d', 'asterisk.conf'), {});
  const captures = ['messages-20.20.1.log', 'security-20.20.1.log', 'adversarial-messages-20.20.1.log', 'adversarial-security-20.20.1.log']
    .map((f) => readFileSync(fixture('logs', f), 'latin1'));

  function verdicts(text: string, reads: boolean): string[] {
    const filter = compileFilter(def, { timezone: 'UTC' });
    const out: string[] = [];
    const m = filter.matcher({
      onMatch: () => {},
      onLine: (no, _l, outcome: LineOutcome, x) => {
        assert.ok((LINE_OUTCOMES as readonly string[]).includes(outcome), outcome);
        if (x) assert.ok(parses(x.ip), `matched "${x.ip}"`);
        out[no - 1] = `${outcome}${x ? ` ${x.ip}` : ''}`;
      },
      onGap: () => {},
    }, { reads });
    for (const line of text.split('\n')) m.push(line);
    m.flush();
    return out;
  }

  it('damaged captures: every verdict a known one, every address canonical, the same verdicts twice', () => {
    fc.assert(
      fc.property(fc.constantFrom(...captures).map((t) => t.slice(0, 6000)).chain((t) => damaged(t, 200_000)), (text) => {
        assert.deepEqual(verdicts(text, false), verdicts(text, false));
        verdicts(text, true);
      }),
      { ...params, numRuns: Math.max(10, Math.round(RUNS / 3)) },
    );
  });
});

describe('fuzz: configuration readers', () => {
  const jailConf = readFileSync(join(repoRoot, 'config', 'jail.conf'), 'utf8');

  it('the INI reader: never throws; every problem names the file and a line in it', () => {
    fc.assert(
      fc.property(fc.oneof(damaged(jailConf), fc.string({ maxLength: 2000 })), (text) => {
        const problems = mutedProblems();
        parseIni(text, '/etc/asterisk-ban/jail.local', problems);
        const lines = text.split('\n').length;
        for (const e of problems.errors) {
          assert.equal(e.location?.file, '/etc/asterisk-ban/jail.local');
          const line = e.location?.line ?? 0;
          assert.ok(line >= 1 && line <= lines, `line ${line} of ${lines}`);
        }
      }),
      params,
    );
  });

  it('the action parser: invocations with plain names, or a configuration error', () => {
    const seed = 'iptables-allports[name=asterisk, protocol=all]\n   sendmail-whois[name=asterisk, dest="root", sender=asterisk-ban@example.org]\n';
    fc.assert(
      fc.property(fc.oneof(damaged(seed), fc.string({ maxLength: 400 })), (text) => {
        try {
          for (const i of parseInvocations(text, 'jail.local', 10)) {
            assert.match(i.name, /^[A-Za-z0-9_.-]+$/);
            assert.ok(i.line >= 10 && i.line < 10 + text.split('\n').length);
          }
        } catch (err) {
          assert.ok(err instanceof AsteriskBanError, String(err));
        }
      }),
      params,
    );
  });
});

describe('fuzz: the control protocol', () => {
  it('parseRequest: a request or E_REQUEST, whatever the line', () => {
    const json = fc.jsonValue().map((v) => JSON.stringify(v));
    const request = fc.record({ id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.double()), cmd: fc.string({ maxLength: 80 }), args: fc.jsonValue() }).map((r) => JSON.stringify(r));
    fc.assert(
      fc.property(fc.oneof(json, request, fc.string(), request.chain(damaged)), (line) => {
        try {
          const r = parseRequest(line);
          assert.equal(typeof r.cmd, 'string');
          assert.ok(typeof r.args === 'object' && r.args !== null && !Array.isArray(r.args));
        } catch (err) {
          assert.ok(err instanceof RequestError && err.code === 'E_REQUEST', String(err));
        }
      }),
      params,
    );
  });

  it('the line splitter never holds more than its limit, however the bytes arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 20 }), fc.integer({ min: 1, max: 2048 }), (chunks, limit) => {
        const s = new LineSplitter(limit, () => undefined, () => undefined);
        for (const c of chunks) {
          s.push(Buffer.from(c));
          assert.ok(s.buffered <= limit, `holds ${s.buffered} bytes, limit ${limit}`);
        }
      }),
      params,
    );
  });
});
