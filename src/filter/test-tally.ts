import type { FilterMatch, LineOutcome } from './types.js';
import { LINE_OUTCOMES } from './types.js';

/**
 * What test-filter's summary report is made of, gathered line by line.
 * Kept apart from the filter code so that the thread that merges the parts
 * of a split run (src/cli/test-filter.ts) need not load the filter.
 */
export interface TallyData {
  lines: number;
  outcomes: Record<LineOutcome, number>;
  hits: number[];
  hosts: Map<string, { n: number; times: (number | null)[] }>;
  /** Lines set aside (suspect, ambiguous, injected), shown in the human report. */
  asides: { no: number; text: string }[];
  /** Comment and blank lines. */
  skipped: number;
}

/** The filter's face in the report. */
export interface FilterFace {
  failregex: readonly string[];
  reasons: readonly string[];
}

export const TIMES_SHOWN = 3;
/** Set-aside lines listed in the human report (all of them are in --json). */
export const ASIDES_SHOWN = 50;
const HOSTS_SHOWN = 200;

export function emptyTally(): TallyData {
  return { lines: 0, outcomes: { matched: 0, suspect: 0, ambiguous: 0, injected: 0, ignored: 0, missed: 0 }, hits: [], hosts: new Map(), asides: [], skipped: 0 };
}

/** As fail2ban-regex does: comment and blank lines are not failures missed. */
export function isSkipped(line: string, outcome: LineOutcome): boolean {
  return outcome === 'missed' && (line.trim() === '' || line.startsWith('#'));
}

/** One line's verdict into the tally (`asideText` only for set-aside lines). */
export function countLine(t: TallyData, no: number, outcome: LineOutcome, skipped: boolean, m: Pick<FilterMatch, 'regex' | 'ip' | 'time'> | undefined, asideText: string | null): void {
  t.lines++;
  if (skipped) {
    t.skipped++;
    return;
  }
  t.outcomes[outcome]++;
  if (outcome === 'matched' && m) {
    t.hits[m.regex] = (t.hits[m.regex] ?? 0) + 1;
    const h = t.hosts.get(m.ip);
    if (h === undefined) t.hosts.set(m.ip, { n: 1, times: [m.time] });
    else if (++h.n <= TIMES_SHOWN) h.times.push(m.time);
  }
  if (asideText !== null && t.asides.length < ASIDES_SHOWN) t.asides.push({ no, text: asideText });
}

export function countGap(t: TallyData, lines: number, outcome: LineOutcome): void {
  t.lines += lines;
  t.outcomes[outcome] += lines;
}

/** `b`, the tally of later lines, added to `a`. */
export function mergeTally(a: TallyData, b: TallyData): void {
  a.lines += b.lines;
  a.skipped += b.skipped;
  for (const k of LINE_OUTCOMES) a.outcomes[k] += b.outcomes[k];
  b.hits.forEach((n, i) => {
    a.hits[i] = (a.hits[i] ?? 0) + (n ?? 0);
  });
  for (const [ip, h] of b.hosts) {
    const mine = a.hosts.get(ip);
    if (mine === undefined) a.hosts.set(ip, { n: h.n, times: [...h.times] });
    else {
      mine.n += h.n;
      mine.times = [...mine.times, ...h.times].slice(0, TIMES_SHOWN);
    }
  }
  a.asides = [...a.asides, ...b.asides].sort((x, y) => x.no - y.no).slice(0, ASIDES_SHOWN);
}

/** One line's label (or a run of screened-out lines'), kept near a cut. */
export type SeamRecord =
  | { no: number; outcome: LineOutcome; skipped: boolean; m?: Pick<FilterMatch, 'regex' | 'ip' | 'time'>; aside: string | null }
  | { no: number; gap: number; outcome: LineOutcome };

export interface Seam {
  records: SeamRecord[];
  /** Each line taken in one by one, ascending, with the matcher's state before it. */
  states: [number, string][];
}

/** The first line before which both runs' matchers were in the same state, or null. */
function firstAgreement(a: Seam['states'], b: Seam['states']): number | null {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [x, kx] = a[i]!;
    const [y, ky] = b[j]!;
    if (x === y && kx === ky) return x;
    if (x <= y) i++;
    else j++;
  }
  return null;
}

function countRecord(t: TallyData, r: SeamRecord): void {
  if ('gap' in r) countGap(t, r.gap, r.outcome);
  else countLine(t, r.no, r.outcome, r.skipped, r.m, r.aside);
}

/**
 * The parts of a split run (src/filter/test-part.ts), in file order, as
 * one tally. Around each cut, the earlier part's labels hold before the
 * first line before which both neighbours' matchers agree, the later
 * part's from it on. Null when some cut has no such line: the caller runs
 * in one pass.
 */
export function mergeParts(parts: readonly { main: TallyData; head: Seam; tail: Seam }[]): TallyData | null {
  const total = emptyTally();
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k]!;
    if (k > 0) {
      const before = parts[k - 1]!.tail;
      const at = firstAgreement(before.states, p.head.states);
      if (at === null) return null;
      const seam = emptyTally();
      for (const r of before.records) if (r.no < at) countRecord(seam, r);
      for (const r of p.head.records) if (r.no >= at) countRecord(seam, r);
      mergeTally(total, seam);
    }
    mergeTally(total, p.main);
  }
  return total;
}

export const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** The human report of a whole run. */
export function report(t: TallyData, filter: FilterFace, write: (s: string) => void): void {
  const o = t.outcomes;
  write(`Lines: ${t.lines} lines, ${LINE_OUTCOMES.map((k) => `${o[k]} ${k}`).join(', ')}${t.skipped ? `, ${t.skipped} comment or blank` : ''}\n\n`);
  write(`Failregex: ${o.matched} total\n|  #) [# of hits] regular expression\n`);
  filter.failregex.forEach((r, i) => write(`|  ${String(i).padStart(2)}) [${t.hits[i] ?? 0}] ${filter.reasons[i]}: ${r}\n`));
  const hosts = [...t.hosts.entries()].sort((a, b) => b[1].n - a[1].n);
  write(`\nHosts: ${hosts.length}\n`);
  for (const [ip, h] of hosts.slice(0, HOSTS_SHOWN)) {
    const shown = h.times.map((x) => iso(x) ?? 'no date').join(', ');
    write(`  ${ip.padEnd(39)} ${String(h.n).padStart(7)}  ${shown}${h.n > h.times.length ? ', ...' : ''}\n`);
  }
  if (hosts.length > HOSTS_SHOWN) write(`  ... and ${hosts.length - HOSTS_SHOWN} more (use --json for all)\n`);
  const aside = o.suspect + o.ambiguous + o.injected;
  if (aside > 0) {
    write(`\nSet aside: ${o.suspect} suspect (counted by the daemon only when verify confirms the address), ${o.ambiguous} ambiguous (several candidates: counted for none), ${o.injected} injected (attacker text inside another message)\n`);
    // A message's first line is decided after some lines that follow it: back in line order.
    for (const a of [...t.asides].sort((x, y) => x.no - y.no)) write(`  ${a.text}\n`);
    if (aside > t.asides.length) write(`  ... and ${aside - t.asides.length} more (use --json for all)\n`);
  }
}

/** The summary object that ends --json output. */
export function summaryObject(t: TallyData, regexes: number): Record<string, unknown> {
  const o = t.outcomes;
  return { summary: true, lines: t.lines, matched: o.matched, suspect: o.suspect, ambiguous: o.ambiguous, injected: o.injected, ignored: o.ignored, missed: o.missed, skipped: t.skipped, hits: Array.from({ length: regexes }, (_r, i) => t.hits[i] ?? 0), hosts: t.hosts.size };
}
