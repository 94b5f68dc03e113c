import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildPayload, WEBHOOK_FORMATS } from '../../../src/actions/webhook/payload.js';
import type { WebhookEntry } from '../../../src/actions/webhook/entries.js';
import { alert, ban, failure, HOSTILE, nthAddress } from './support.js';

const ctx = { name: 'asterisk', host: 'pbx1.example.org' };
const banOf = (ip: string, account = '1001'): WebhookEntry => ({ event: 'ban', ban: ban(ip, { failures: [failure(ip, { account })] }) });
const hostileBan: WebhookEntry = {
  event: 'ban',
  ban: ban('203.0.113.9', { reason: HOSTILE, jail: 'asterisk', failures: [failure('203.0.113.9', { account: HOSTILE })] }),
};
const hostileAlert: WebhookEntry = { event: 'alert', alert: alert({ summary: HOSTILE, account: HOSTILE, facts: [['user agent', HOSTILE]] }) };

type Json = Record<string, unknown>;
const parse = (format: (typeof WEBHOOK_FORMATS)[number], entries: WebhookEntry[]): Json => JSON.parse(buildPayload(format, entries, ctx).body) as Json;

/** All strings anywhere in a parsed payload. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

describe('json', () => {
  it('carries ban and alert fields in arrival order', () => {
    const unban: WebhookEntry = { event: 'unban', ban: ban('2001:db8::/64', { family: 6, end: null, count: 3 }) };
    const p = parse('json', [banOf('203.0.113.5', '6001'), { event: 'alert', alert: alert() }, unban]);
    assert.deepEqual(p, {
      source: 'asterisk-ban',
      host: 'pbx1.example.org',
      name: 'asterisk',
      events: [
        {
          type: 'ban', jail: 'asterisk-iptables', address: '203.0.113.5', count: 1,
          start: '2026-11-27T12:00:00.000Z', end: '2026-11-27T13:00:00.000Z', reason: 'InvalidPassword', accounts: ['6001'],
        },
        {
          type: 'alert', rule: 'compromise', severity: 'high', jail: 'asterisk', time: '2026-11-27T12:00:05.000Z',
          summary: alert().summary, address: '203.0.113.5', account: '6001', facts: { failures: '37', window: '10m' },
        },
        {
          type: 'unban', jail: 'asterisk-iptables', address: '2001:db8::/64', count: 3,
          start: '2026-11-27T12:00:00.000Z', end: null, reason: 'InvalidPassword', accounts: ['1001'],
        },
      ],
    });
  });

  it('hostile text stays data: the body parses, fields are capped', () => {
    const long = 'A'.repeat(5_000);
    const p = parse('json', [hostileBan, { event: 'alert', alert: alert({ summary: long, facts: [['__proto__', long]] }) }]);
    const [b, a] = p.events as Json[];
    assert.deepEqual(b!.accounts, [HOSTILE]);
    assert.equal(b!.reason, HOSTILE);
    assert.equal((a!.summary as string).length, 201);
    assert.equal(((a!.facts as Json)['__proto__'] as string).length, 201);
  });

  it('a burst lists 200 events and counts the rest as dropped', () => {
    const p = parse('json', Array.from({ length: 999 }, (_, i) => banOf(nthAddress(i))));
    assert.equal((p.events as unknown[]).length, 200);
    assert.equal(p.dropped, 799);
  });

  it('an address that is not one never reaches the payload', () => {
    const p = parse('json', [{ event: 'ban', ban: ban('1.2.3.4\r\nX-Evil: 1') }]);
    assert.equal((p.events as Json[])[0]!.address, 'an unparsable address');
  });
});

describe('slack', () => {
  it('is text plus mrkdwn section blocks', () => {
    const p = parse('slack', [banOf('203.0.113.5')]);
    assert.equal(p.text, 'asterisk-ban asterisk: banned 203.0.113.5');
    const blocks = p.blocks as Json[];
    assert.deepEqual(blocks[0], { type: 'section', text: { type: 'mrkdwn', text: '*asterisk-ban asterisk: banned 203.0.113.5*' } });
    assert.match((blocks[1]!.text as Json).text as string, /^• \*banned\* `203\.0\.113\.5` in jail asterisk-iptables, ban #1 until 2026-11-27T13:00:00\.000Z: InvalidPassword; accounts `1001`$/);
    assert.equal(blocks.at(-1)!.type, 'context');
  });

  it('attacker text cannot break the JSON, add a line, format, link or mention', () => {
    const raw = buildPayload('slack', [hostileBan, hostileAlert], ctx).body;
    const p = JSON.parse(raw) as Json;
    assert.equal(Object.keys(p).sort().join(','), 'blocks,text', 'no key injected');
    for (const s of strings(p)) {
      assert.equal(/[\r\n]x/.test(s), false, 'no line break from attacker text');
      // Slack never reads < > as markup once they are entities, inside code spans or out.
      for (const bad of ['<!channel>', '<b>', '<http', '@here']) assert.equal(s.includes(bad), false, `${bad} in ${s}`);
      // Outside inline code, no formatting character survives.
      const prose = s.replace(/`[^`\n]*`/g, '');
      assert.equal(/[*_~`]\w/.test(prose.replace(/^• \*[a-z ,]+\*/gm, '').replace(/^\*.*\*$/, '')), false, prose);
    }
    const lines = ((p.blocks as Json[])[1]!.text as Json).text as string;
    // The account is one inline code span: shown as written but for its backticks; & < > are entities.
    assert.ok(lines.includes('accounts `x\\x0d\\x0a*bold* _it_ ~st~ &lt;!channel&gt; ＠here \'code\' "}],"x":{"y":"z [l](http://e.example) &amp; &lt;b&gt;`'), lines);
    // In prose, formatting characters are look-alikes.
    assert.ok(lines.includes(': x\\x0d\\x0a∗bold∗ ˍitˍ ∼st∼ &lt;!channel&gt; ＠here ˋcodeˋ'), lines);
  });

  it('a flood lists 50 entries, then says how many more; every section stays under 3,000 characters', () => {
    const p = parse('slack', Array.from({ length: 1_000 }, (_, i) => banOf(nthAddress(i))));
    assert.match(p.text as string, /1000 banned/);
    const sections = (p.blocks as Json[]).filter((b) => b.type === 'section').map((b) => (b.text as Json).text as string);
    const all = sections.join('\n');
    assert.equal((all.match(/^• /gm) ?? []).length, 50);
    assert.match(all, /… and 950 more$/);
    for (const s of sections) assert.ok(s.length <= 3_000);
    assert.ok((p.blocks as Json[]).length <= 50);
  });

  it('an alert line with over-long facts is cut inside its own section', () => {
    const facts: [string, string][] = Array.from({ length: 30 }, (_, i) => [`k${i}`, '&'.repeat(1_000)]);
    const p = parse('slack', [{ event: 'alert', alert: alert({ summary: '<'.repeat(1_000), facts }) }, banOf('203.0.113.5')]);
    const sections = (p.blocks as Json[]).filter((b) => b.type === 'section').map((b) => (b.text as Json).text as string);
    for (const s of sections) assert.ok(s.length <= 3_000, String(s.length));
  });
});

describe('mattermost', () => {
  it('is one markdown text; hostile text is backslash-escaped and mentions disarmed', () => {
    const p = parse('mattermost', [hostileBan, hostileAlert]);
    assert.deepEqual(Object.keys(p), ['text']);
    const text = p.text as string;
    assert.match(text, /^\*\*asterisk-ban asterisk: 1 banned, 1 alert \(1 high\)\*\*\n\n- \*\*banned\*\* "203\.0\.113\.9"/);
    assert.ok(text.includes('x\\\\x0d\\\\x0a\\*bold\\* \\_it\\_ \\~st\\~ \\<!channel\\> ＠here \\`code\\` "}\\],"x":{"y":"z \\[l\\](http://e.example) \\& \\<b\\>'), text);
    for (const bad of ['<!channel>', '@here', ' *bold*', '[l](', '<b>']) assert.equal(text.includes(bad), false, bad);
    assert.equal(text.split('\n').length, 6, 'headline, blank, two entries, blank, footer');
  });
});

describe('teams', () => {
  it('is a Workflows message holding one Adaptive Card 1.4; alert facts become a FactSet', () => {
    const p = parse('teams', [banOf('203.0.113.5'), { event: 'alert', alert: alert() }]);
    assert.equal(p.type, 'message');
    const [att] = p.attachments as Json[];
    assert.equal(att!.contentType, 'application/vnd.microsoft.card.adaptive');
    const card = att!.content as Json;
    assert.equal(card.$schema, 'http://adaptivecards.io/schemas/adaptive-card.json');
    assert.equal(card.type, 'AdaptiveCard');
    assert.equal(card.version, '1.4');
    const body = card.body as Json[];
    assert.deepEqual(body.map((b) => b.type), ['TextBlock', 'TextBlock', 'TextBlock', 'FactSet', 'TextBlock']);
    assert.equal(body[0]!.text, 'asterisk-ban asterisk: 1 banned, 1 alert (1 high)');
    assert.deepEqual(body[3]!.facts, [{ title: 'failures', value: '37' }, { title: 'window', value: '10m' }]);
  });

  it('hostile text cannot format or link', () => {
    const p = parse('teams', [hostileBan, hostileAlert]);
    for (const s of strings(p)) for (const bad of ['*bold*', '_it_', '[l](', '<b>', '\r', '\n']) assert.equal(s.includes(bad), false, `${JSON.stringify(bad)} in ${s}`);
  });
});

describe('ntfy', () => {
  it('is plain text with Title, Priority and Tags headers', () => {
    const r = buildPayload('ntfy', [banOf('203.0.113.5'), { event: 'alert', alert: alert() }], ctx);
    assert.equal(r.contentType, 'text/plain; charset=utf-8');
    assert.deepEqual(r.headers, { Title: 'asterisk-ban asterisk: 1 banned, 1 alert (1 high)', Priority: '5', Tags: 'no_entry,rotating_light' });
    assert.equal(
      r.body,
      [
        'banned "203.0.113.5" in jail asterisk-iptables, ban #1 until 2026-11-27T13:00:00.000Z: InvalidPassword; accounts "1001"',
        `high alert, compromise ["203.0.113.5"]: ${alert().summary} (failures "37", window "10m")`,
        'asterisk-ban on pbx1.example.org',
      ].join('\n'),
    );
  });

  it('priority 3 without a high alert; the title is ASCII whatever the name', () => {
    const r = buildPayload('ntfy', [{ event: 'alert', alert: alert({ severity: 'warning', rule: 'wave' }) }], { name: 'Zürich\r\n☎', host: 'h' });
    assert.equal(r.headers.Priority, '3');
    assert.equal(r.headers.Tags, 'warning');
    assert.match(r.headers.Title!, /^[\x20-\x7e]+$/);
    assert.equal(r.headers.Title, 'asterisk-ban Z?rich\\x0d\\x0a?: warning alert, wave');
  });

  it('the body stays under 4,096 bytes in a flood, hostile text on one line each', () => {
    const r = buildPayload('ntfy', [hostileBan, ...Array.from({ length: 999 }, (_, i) => banOf(nthAddress(i), '☎'.repeat(300)))], ctx);
    assert.ok(Buffer.byteLength(r.body) <= 3_800, String(Buffer.byteLength(r.body)));
    const lines = r.body.split('\n');
    assert.match(lines[0]!, /^banned "203\.0\.113\.9"/);
    assert.match(lines.at(-2)!, /^… and \d+ more$/);
  });
});
