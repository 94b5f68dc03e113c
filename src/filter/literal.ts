/**
 * Derives a literal that every text matched by a (JavaScript) regex must
 * contain, so most log lines can be rejected with one substring search
 * before any regex runs. Conservative: only literal runs at the top level
 * of the pattern count (never inside a group, a class or an alternative, and
 * never a character a quantifier makes optional); a top-level `|` means no
 * literal at all.
 */
export function requiredLiteral(source: string, min = 3): string | null {
  let best = '';
  let run = '';
  let depth = 0;
  let inClass = false;
  const end = (): void => {
    if (run.length > best.length) best = run;
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
  return best.length >= min ? best : null;
}

/** Whether the atom ending before `i` is made optional or repeated by a quantifier. */
function quantified(source: string, i: number): boolean {
  const q = source[i];
  return q === '?' || q === '*' || q === '{' || q === '+';
}
