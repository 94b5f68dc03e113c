import { AsteriskBanError } from '../core/errors.js';
import type { Location } from '../core/errors.js';

/** A Python (fail2ban) regex rewritten for JavaScript's engine. */
export interface TranslatedRegex {
  source: string;
  flags: string;
}

const FLAG_MAP: Record<string, string> = { i: 'i', s: 's', m: 'm', u: '', a: '', L: '' };

function fail(message: string, location: Location | undefined, hint?: string): never {
  throw new AsteriskBanError('E_REGEX', message, { location, hint });
}

/**
 * Rewrites the Python constructs fail2ban filters use into their JavaScript
 * equivalents, and refuses clearly what JavaScript cannot express (atomic
 * groups, possessive quantifiers, inline flags in the middle, conditionals)
 * rather than silently matching something else.
 */
export function translatePythonRegex(pattern: string, location?: Location): TranslatedRegex {
  let out = '';
  let flags = '';
  let i = 0;
  let inClass = false;
  const n = pattern.length;
  // Leading inline flags apply to the whole pattern in Python: lift them to JS flags.
  const lead = /^\(\?([a-zA-Z]+)\)/;
  for (let m = lead.exec(pattern); m; m = lead.exec(pattern.slice(i))) {
    for (const f of m[1]!) {
      const js = FLAG_MAP[f];
      if (js === undefined) {
        fail(`inline flag (?${f}) has no JavaScript equivalent`, location, f === 'x' ? 'write the regex without verbose mode (no (?x))' : undefined);
      }
      if (js && !flags.includes(js)) flags += js;
    }
    i += m[0].length;
  }
  while (i < n) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) fail('regex ends with a lone backslash', location);
      if (!inClass && next === 'Z') out += '$';
      else if (!inClass && next === 'A') out += '^';
      else if (next === 'z' && !inClass) out += '$';
      else out += c + next;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      // A ']' right after '[' or '[^' is a literal in both dialects; JS needs it escaped.
      if (pattern[i] === '^') { out += '^'; i++; }
      if (pattern[i] === ']') { out += '\\]'; i++; }
      continue;
    }
    if ((c === '*' || c === '+' || c === '?' || c === '}') && pattern[i + 1] === '+') {
      fail(`possessive quantifier "${c}+" at offset ${i} is not supported`, location, 'use an ordinary quantifier with a tighter character class');
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2, i + 40);
      if (rest.startsWith('P<')) {
        out += '(?<';
        i += 4;
        continue;
      }
      if (rest.startsWith('P=')) {
        const end = pattern.indexOf(')', i);
        if (end < 0) fail('unterminated (?P=name) backreference', location);
        out += `\\k<${pattern.slice(i + 4, end)}>`;
        i = end + 1;
        continue;
      }
      if (rest.startsWith('#')) {
        const end = pattern.indexOf(')', i);
        if (end < 0) fail('unterminated (?#...) comment', location);
        i = end + 1;
        continue;
      }
      if (rest.startsWith('>')) fail(`atomic group "(?>" at offset ${i} is not supported`, location, 'use an ordinary group (?:...)');
      if (rest.startsWith('(')) fail(`conditional group "(?(" at offset ${i} is not supported`, location);
      if (/^[aiLmsux-]+[:)]/.test(rest)) {
        fail(`inline flags at offset ${i} are only supported at the very start of the regex`, location, 'move (?i) and similar to the beginning');
      }
      out += '(?';
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  if (inClass) fail('unterminated character class "["', location);
  // Python's "." matches everything but "\n", a bare "\r" included; JavaScript's stops at "\r" too.
  // Lines never hold "\n", so the dotAll flag gives Python's meaning.
  if (!flags.includes('s')) flags += 's';
  return { source: out, flags };
}

/** Compiles translated source, turning a syntax error into E_REGEX at the regex's location. */
export function compileJs(source: string, flags: string, original: string, location?: Location): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : String(e);
    fail(`regex "${original.length > 120 ? `${original.slice(0, 120)}…` : original}" does not compile: ${why}`, location);
  }
}
