// Measures log mode on the real Asterisk 20.20.1 captures (test/fixtures/logs)
// with the shipped filter, as test-filter and as the daemon label them:
// share of real failures counted, forged victims taken, lines set aside per
// injection. `npm run bench -- injection-bench [capture.log ...]`.
//
// Ground truth comes from the captures themselves: every attack came from
// 127.0.0.1, ::1, 198.51.100.2, 198.51.100.200 or 2001:db8:51::2 (any other
// address a line names is a forged victim), and every forged line carries
// the thread id 1 or 1234 (the engine never looks at thread ids; this
// script uses them only to tell Asterisk's lines from forged ones).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFilter } from '../../src/filter/index.js';
import type { LineOutcome } from '../../src/filter/index.js';
import { loadFilterFile } from '../../src/settings/filter-file.js';
import { fixture, repoRoot } from '../helpers/paths.js';

const REAL = new Set(['127.0.0.1', '::1', '198.51.100.2', '198.51.100.200', '2001:db8:51::2']);
const FORGED_THREAD = /^\[[^\]]+\] [A-Z]+\[(?:1|1234)\]/;
// The first line of every failure message Asterisk writes (after "file.c: ").
const FAILURE_HEAD = new RegExp([
  String.raw`: Registration from '`,
  String.raw`: Request '[^']*' from '`,
  String.raw`: Call from '`,
  String.raw`:  ?\S+: Call \(`,
  String.raw`: No registration for peer '`,
  String.raw`: Peer '.*' is not dynamic`,
  String.raw`: Host \S+ (?:failed|did not provide|denied)`,
  String.raw`: \S+ (?:tried to authenticate with nonexistent user|failed to authenticate as|failed to pass IP ACL as) '`,
  String.raw`: Incoming SIP message from \S+ did not pass ACL test`,
  String.raw`: Rejected (?:connect|dial) attempt from`,
  String.raw`: SecurityEvent="(?:InvalidAccountID|InvalidPassword|ChallengeResponseFailed|FailedACL)"`,
].join('|'));

interface Label { outcome: LineOutcome; ip?: string }

/** Labels every line of a capture; `reads` cuts the file into writes (one per dated real line) as the daemon reads them. */
function label(text: string, reads: boolean): Label[] {
  const filter = compileFilter(loadFilterFile(join(repoRoot, 'config', 'filter.d', 'asterisk.conf'), {}), { timezone: 'UTC' });
  const out: Label[] = [];
  const m = filter.matcher({
    onMatch: () => {},
    onLine: (no, _l, outcome, x, c) => { out[no - 1] = { outcome, ...(x ? { ip: x.ip } : c?.length ? { ip: c.join(',') } : {}) }; },
    onGap: () => {},
  }, { reads });
  for (const line of text.replace(/\n$/, '').split('\n')) {
    // A dated line from Asterisk's own thread starts a new write; forged and dateless lines belong to the one before.
    if (reads && /^\[\d{4}-/.test(line) && !FORGED_THREAD.test(line)) m.flush();
    m.push(line);
  }
  m.flush();
  return out;
}

interface Row {
  capture: string;
  mode: string;
  real: number;
  counted: number;
  suspect: number;
  ambiguous: number;
  lost: number;
  victims: number;
  injections: number;
  asideReal: number;
  asideAll: number;
}

function measure(name: string, path: string, reads: boolean): Row {
  const text = readFileSync(path, 'latin1');
  const lines = text.replace(/\n$/, '').split('\n');
  const labels = label(text, reads);
  const row: Row = { capture: name, mode: reads ? 'daemon (reads)' : 'test-filter', real: 0, counted: 0, suspect: 0, ambiguous: 0, lost: 0, victims: 0, injections: 0, asideReal: 0, asideAll: 0 };
  lines.forEach((line, i) => {
    const l = labels[i] ?? { outcome: 'missed' as LineOutcome };
    const dated = /^\[\d{4}-/.test(line);
    const real = dated && !FORGED_THREAD.test(line) && FAILURE_HEAD.test(line);
    if (l.outcome === 'matched' && l.ip !== undefined && !REAL.has(l.ip)) row.victims++;
    // An injection: a real message followed by a line without a date, or carrying a bare CR.
    if (dated && !FORGED_THREAD.test(line) && (line.includes('\r') || (i + 1 < lines.length && !/^\[\d{4}-/.test(lines[i + 1]!) && lines[i + 1] !== ''))) row.injections++;
    const aside = l.outcome === 'suspect' || l.outcome === 'ambiguous' || l.outcome === 'injected';
    if (aside) row.asideAll++;
    if (!real) return;
    row.real++;
    if (l.outcome === 'matched' && l.ip !== undefined && REAL.has(l.ip)) row.counted++;
    else if (l.outcome === 'suspect') row.suspect++;
    else if (l.outcome === 'ambiguous') row.ambiguous++;
    else row.lost++;
    if (aside) row.asideReal++;
  });
  return row;
}

const captures = process.argv.slice(2);
const files = captures.length > 0
  ? captures.map((p) => [p.split('/').at(-1)!, p] as const)
  : ['messages-20.20.1.log', 'security-20.20.1.log', 'adversarial-messages-20.20.1.log', 'adversarial-security-20.20.1.log'].map((n) => [n, fixture('logs', n)] as const);

const rows: Row[] = [];
for (const [name, path] of files) for (const reads of [false, true]) rows.push(measure(name, path, reads));

const pct = (a: number, b: number): string => (b === 0 ? '—' : `${((100 * a) / b).toFixed(1)} %`);
const head = ['capture', 'labelled as', 'real failures', 'counted', 'share', 'suspect', 'ambiguous', 'not counted', 'victims taken', 'injections', 'set aside', 'per injection', 'real set aside'];
const table = rows.map((r) => [
  r.capture, r.mode, String(r.real), String(r.counted), pct(r.counted, r.real), String(r.suspect), String(r.ambiguous), String(r.lost), String(r.victims),
  String(r.injections), String(r.asideAll), r.injections === 0 ? '—' : (r.asideAll / r.injections).toFixed(2), String(r.asideReal),
]);
const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
const fmt = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(fmt(head));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const t of table) console.log(fmt(t));
console.log('\nreal failures: dated failure messages Asterisk wrote; counted: matched with a real source; suspect: counted by the daemon only if verify confirms;');
console.log('set aside: lines labelled suspect, ambiguous or injected (forged lines included); real set aside: real failure lines among them.');
console.log('targets: all real failures counted in the normal captures, >= 95 % in the adversarial ones; victims taken 0; set aside <= 2 per injection.');
