import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAsteriskBanError } from '../core/errors.js';
import { compileFilter, definitionFromRegex } from './index.js';
import type { CompiledFilter, FilterMatch, LineOutcome, MatcherHooks } from './index.js';
import { ASIDES_SHOWN, countGap, countLine, emptyTally, isSkipped, iso, report, summaryObject } from './test-tally.js';
import { loadFilterDefinition } from './load.js';
import { readLineChunks } from './chunks.js';
import { pushEachLine } from './bulk.js';
import { MAX_LINE_CHARS } from './limits.js';

export interface TestFilterOptions {
  json?: boolean;
  printAllMissed?: boolean;
  printAllMatched?: boolean;
  /** Configuration directory whose filter.d/ holds named filters (default ./config). */
  config?: string;
  /** Time zone for dates that carry none: 'UTC', 'local' (default) or '+0100'. */
  timezone?: string;
  /** Threads a big log's summary is worked out on (default: one per two CPUs, at most 4). */
  jobs?: number;
  /** The smallest part worth a thread of its own (tests cut small files). */
  minPartBytes?: number;
}

export const FAST_CHUNK_BYTES = 2 * 1024 * 1024;

/** FILTER is a file, a name in <config>/filter.d (optionally name[key=value, ...]), or one regex. */
async function resolveFilter(spec: string, configDir: string, timezone?: string): Promise<CompiledFilter> {
  const named = /^([\w.-]+)(?:\[(.*)\])?$/.exec(spec);
  if (existsSync(spec) && statSync(spec).isFile()) return compileFilter(await loadFilterDefinition(spec), { timezone });
  if (named) {
    const params: Record<string, string> = {};
    for (const kv of (named[2] ?? '').split(',')) {
      const eq = kv.indexOf('=');
      if (eq > 0) params[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    }
    // NAME.conf with NAME.local laid over it, as the daemon reads it; a .local alone is a filter too.
    for (const ext of ['.conf', '.local']) {
      const file = join(configDir, 'filter.d', `${named[1]}${ext}`);
      if (existsSync(file)) return compileFilter(await loadFilterDefinition(file, params), { timezone });
    }
  }
  return compileFilter(definitionFromRegex(spec), { timezone });
}

/**
 * One --json object per line: `verdict` always; `host` only on lines that
 * count (matched), so a script reading `host` sees only what counts; the
 * address an uncounted line named is its `candidate` (`candidates` when
 * there are several).
 */
function lineObject(no: number, verdict: LineOutcome, m: FilterMatch | undefined, candidates: string[] | undefined, reasons: readonly string[]): Record<string, unknown> | null {
  if (verdict === 'matched' && m) return { line: no, verdict, host: m.ip, time: iso(m.time), regex: m.regex, reason: reasons[m.regex] };
  if (verdict === 'suspect' && m) return { line: no, verdict, candidate: m.ip, time: iso(m.time), regex: m.regex, reason: reasons[m.regex] };
  const obj: Record<string, unknown> = { line: no, verdict };
  if (candidates && candidates.length > 0) {
    obj.candidate = candidates[0];
    if (candidates.length > 1) obj.candidates = candidates;
  }
  return obj;
}

function named(m: FilterMatch | undefined, candidates: string[] | undefined): string {
  const list = m ? [m.ip] : candidates ?? [];
  return list.length > 0 ? ` (${list.join(', ')})` : '';
}

/** How the human report lists a line set aside; null for other lines. */
export function asideText(no: number, line: string, outcome: LineOutcome, m: FilterMatch | undefined, candidates: string[] | undefined): string | null {
  if (outcome !== 'suspect' && outcome !== 'ambiguous' && outcome !== 'injected') return null;
  return `${no}: ${outcome}${named(m, candidates)}: ${line.slice(0, 160)}`;
}

/** The filter FILTER names, or null once the reason it cannot be had is written to `err`. */
export async function compileOrSay(filter: string, opts: TestFilterOptions, err: NodeJS.WritableStream): Promise<CompiledFilter | null> {
  try {
    return await resolveFilter(filter, opts.config ?? './config', opts.timezone);
  } catch (e) {
    err.write(`test-filter: ${isAsteriskBanError(e) ? `${e.describe()} [${e.code}]` : (e as Error).message}\n`);
    return null;
  }
}

/**
 * The matcher decides a message's first line once its reach is over, after
 * some lines that follow it: objects are put back in line order here. A
 * decision comes at most a few KiB late, so this keeps a bounded window.
 */
class InLineOrder {
  private pending: { no: number; text: string }[] = [];
  private highest = 0;
  constructor(private readonly sink: Sink) {}
  push(no: number, text: string): void {
    this.pending.push({ no, text });
    if (no > this.highest) this.highest = no;
    if (this.pending.length >= 2 * ORDER_WINDOW) this.emit(this.highest - ORDER_WINDOW);
  }
  end(): void {
    this.emit(Infinity);
  }
  private emit(below: number): void {
    this.pending.sort((a, b) => a.no - b.no);
    let k = 0;
    while (k < this.pending.length && this.pending[k]!.no < below) this.sink.write(this.pending[k++]!.text);
    this.pending = this.pending.slice(k);
  }
}

/** Lines a late decision can trail by (2 KiB of reach, at one character a line, with room to spare). */
const ORDER_WINDOW = 8192;

/** Buffered writes, so a million JSON lines cost a few hundred write calls. */
class Sink {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.parts.length > 0) this.out.write(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

/**
 * The body of `asterisk-ban test-filter LOG FILTER`: runs a filter over a
 * log file the way the daemon would, and reports what matched. Returns the
 * exit code. src/cli/test-filter.ts runs it in a worker with a small heap.
 */
export async function runFilterTest(
  log: string,
  filter: string,
  opts: TestFilterOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const compiled = await compileOrSay(filter, opts, err);
  if (compiled === null) return 1;
  const sink = new Sink(out);
  const ordered = new InLineOrder(sink);
  const t = emptyTally();
  const perLine = opts.printAllMatched === true || opts.printAllMissed === true;
  const hooks: MatcherHooks = {
    onMatch() {
      // Counted with its line (onLine 'matched' follows).
    },
    onLine(no, line, outcome, m, candidates) {
      const skipped = isSkipped(line, outcome);
      // Only the first few set-aside lines are shown: the text of the others is never made.
      countLine(t, no, outcome, skipped, m, opts.json || t.asides.length >= ASIDES_SHOWN ? null : asideText(no, line, outcome, m, candidates));
      if (skipped) {
        if (opts.json && opts.printAllMissed) ordered.push(no, `${JSON.stringify({ line: no, verdict: 'missed', skipped: true })}\n`);
        return;
      }
      if (opts.json) {
        const obj = lineObject(no, outcome, m, candidates, compiled.reasons);
        if (obj !== null && (outcome !== 'missed' && outcome !== 'ignored' || opts.printAllMissed)) ordered.push(no, `${JSON.stringify(obj)}\n`);
        return;
      }
      if ((outcome === 'missed' && opts.printAllMissed) || (outcome === 'matched' && opts.printAllMatched)) sink.write(`${no}: ${line.slice(0, MAX_LINE_CHARS)}\n`);
    },
    onGap(lines, outcome) {
      countGap(t, lines, outcome);
    },
  };
  // --json names every line set aside, those a held message swallows included.
  const matcher = compiled.matcher(hooks, { everyLine: opts.json === true });
  const fast = !perLine && typeof matcher.pushLines === 'function';
  try {
    // As fail2ban-regex does: a LOG that is no file but reads like a log line is that line.
    if (!existsSync(log) && /\s/.test(log)) pushEachLine(log, (line) => matcher.push(line));
    else await readLineChunks(log, (text) => (fast ? matcher.pushLines!(text) : pushEachLine(text, (line) => matcher.push(line))), fast ? 'latin1' : 'utf8', fast ? FAST_CHUNK_BYTES : undefined);
  } catch (e) {
    sink.flush();
    err.write(`test-filter: cannot read ${log}: ${(e as Error).message}\n`);
    return 1;
  }
  matcher.flush();
  ordered.end();
  if (opts.json) sink.write(`${JSON.stringify(summaryObject(t, compiled.failregex.length))}\n`);
  else {
    if (perLine) sink.write('\n');
    report(t, compiled, (x) => sink.write(x));
  }
  sink.flush();
  return 0;
}
