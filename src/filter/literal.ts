/**
 * Derives a literal that every text matched by a (JavaScript) regex must
 * contain, so most log lines can be rejected with one substring search
 * before any regex runs. Conservative: only literal runs at the top level
 * of the pattern count (never inside a group, a class or an alternative, and
 * never a character a quantifier makes optional); a top-level `|` means no
 * literal at all.
 */
export function requiredLiteral(source: string, min = 3): string | null {
  return longestRun(requiredRuns(source, min));
}

/** The longest of requiredRuns()' runs (the first of equals); null when there is none. */
export function longestRun(runs: string[] | null): string | null {
  if (runs === null || runs.length === 0) return null;
  return runs.reduce((a, b) => (b.length > a.length ? b : a));
}

/** `s` as a regex source matching exactly it. */
export function escapeLiteral(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The literal a regex's matches must start with (right after a leading `^`), or null. */
export function anchoredPrefix(source: string, min = 3): string | null {
  if (!source.startsWith('^')) return null;
  const runs = requiredRuns(source, 1);
  const first = runs?.[0];
  if (first === undefined || first.length < min) return null;
  // The first run must begin right after '^': re-render it and compare.
  let i = 1;
  let out = '';
  while (i < source.length && out.length < first.length) {
    const c = source[i]!;
    if (c === '\\' && /[^A-Za-z0-9]/.test(source[i + 1] ?? 'a')) { out += source[i + 1]; i += 2; continue; }
    if (/[\\^$.*+?()[\]{}|]/.test(c)) break;
    out += c;
    i++;
  }
  return out === first ? first : null;
}

/** Every literal run at the top level of a regex that all its matches contain; null when it has a top-level `|`. */
export function requiredRuns(source: string, min = 3): string[] | null {
  const runs: string[] = [];
  let run = '';
  let depth = 0;
  let inClass = false;
  const end = (): void => {
    if (run.length >= min) runs.push(run);
    run = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (inClass) {
      if (c === '\\') i++;
      else if (c === ']') inClass = false;
      continue;
    }
    if (c === '\\') {
      const n = source[i + 1] ?? '';
      i++;
      // Escaped punctuation is a literal character; \d, \s, \b, \1 and friends are not.
      const literal = /[^A-Za-z0-9]/.test(n) ? n : null;
      if (depth === 0 && literal !== null && !quantified(source, i + 1)) run += literal;
      else if (depth === 0) {
        end();
      }
      continue;
    }
    if (c === '[') { inClass = true; if (depth === 0) end(); continue; }
    if (c === '(') { depth++; if (depth === 1) end(); continue; }
    if (c === ')') { depth--; continue; }
    if (depth > 0) {
      continue;
    }
    if (c === '|') return null;
    if ('^$.*+?{}'.includes(c)) { end(); continue; }
    if (quantified(source, i + 1)) { end(); continue; }
    run += c;
  }
  end();
  return runs;
}

const MIN_COVER = 4;
const MAX_COVER = 16;

/**
 * A few literals such that every regex's matches contain at least one of
 * them: a greedy set cover over substrings of the regexes' literal runs,
 * preferring the most regexes covered times length: a substring shared by
 * many regexes, and a longer one. Null when some regex has no literal run.
 */
export function coverLiterals(runsPerRegex: (string[] | null)[]): string[] | null {
  if (runsPerRegex.some((r) => r === null || r.length === 0)) return null;
  const sets = runsPerRegex as string[][];
  // Which regexes hold each candidate: every substring of MIN_COVER..MAX_COVER
  // characters of a run (one pass over each regex's substrings, not a search
  // of every run per candidate), and each run too short for that whole.
  const covers = new Map<string, number[]>();
  sets.forEach((runs, i) => {
    for (const run of runs) {
      for (let len = MIN_COVER; len <= Math.min(MAX_COVER, run.length); len++) {
        for (let k = 0; k + len <= run.length; k++) {
          const sub = run.slice(k, k + len);
          const list = covers.get(sub);
          if (list === undefined) covers.set(sub, [i]);
          else if (list[list.length - 1] !== i) list.push(i);
        }
      }
    }
  });
  for (const runs of sets) {
    for (const c of runs) {
      if (c.length < MIN_COVER && !covers.has(c)) covers.set(c, sets.flatMap((rs, i) => (rs.some((run) => run.includes(c)) ? [i] : [])));
    }
  }
  const uncovered = new Set(sets.keys());
  const chosen: string[] = [];
  while (uncovered.size > 0) {
    let best = '';
    let bestCount = 0;
    for (const [c, list] of covers) {
      let count = 0;
      for (const i of list) if (uncovered.has(i)) count++;
      // Regexes covered times length: a short word shared by many regexes
      // (" to ") also turns up in many lines no regex matches, and each
      // such line costs far more than a longer alternative in the screen.
      const score = count * c.length;
      const bestScore = bestCount * best.length;
      if (count > 0 && (score > bestScore || (score === bestScore && c.length > best.length))) {
        best = c;
        bestCount = count;
      }
    }
    if (bestCount === 0) return null;
    chosen.push(best);
    for (const i of covers.get(best)!) uncovered.delete(i);
  }
  return chosen;
}

/** Whether the atom ending before `i` is made optional or repeated by a quantifier. */
function quantified(source: string, i: number): boolean {
  const q = source[i];
  return q === '?' || q === '*' || q === '{' || q === '+';
}
