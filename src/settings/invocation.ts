import { Problems } from './problems.js';
import type { Invocation, Located } from './types.js';

/**
 * `action =` / `filter =` lists: `name[key=value, key="a, b", key='x'][more=1]`,
 * several per line or one per line, parameters may span lines. Errors
 * point at the line where the bad bracket or quote is.
 */

const NAME = /^[A-Za-z0-9_][\w.\-]*$/;
const KEY = /[\w.\-]/;

class Stop extends Error {}

class Scanner {
  pos = 0;
  readonly text: string;
  private readonly starts: number[] = [];
  constructor(private readonly lines: Located[], private readonly problems: Problems) {
    let off = 0;
    for (const l of lines) {
      this.starts.push(off);
      off += l.value.length + 1;
    }
    this.text = lines.map((l) => l.value).join('\n');
  }

  lineAt(pos: number): Located {
    let i = 0;
    while (i + 1 < this.starts.length && this.starts[i + 1]! <= pos) i++;
    return this.lines[i] ?? { value: '', file: '<unknown>', line: 0 };
  }

  fail(message: string, at: number, hint?: string): never {
    const l = this.lineAt(at);
    this.problems.error(message, { file: l.file, line: l.line }, hint);
    throw new Stop();
  }

  c(): string | undefined {
    return this.text[this.pos];
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }
}

function parseParams(s: Scanner, into: Record<string, string>, name: string): void {
  const open = s.pos;
  s.pos++;
  for (;;) {
    s.skipSpace();
    if (s.c() === undefined) s.fail(`"[" after "${name}" is never closed`, open, 'add the missing "]"');
    if (s.c() === ']') {
      s.pos++;
      return;
    }
    const keyStart = s.pos;
    while (s.c() !== undefined && KEY.test(s.c() ?? "")) s.pos++;
    const key = s.text.slice(keyStart, s.pos);
    if (key === '') s.fail(`expected key=value in the parameters of "${name}"`, s.pos, 'parameters look like name[key=value, other="a, b"]');
    s.skipSpace();
    if (s.c() !== '=') s.fail(`parameter "${key}" of "${name}" has no "=value"`, keyStart);
    s.pos++;
    while (s.c() === ' ' || s.c() === '\t') s.pos++;
    let value: string;
    const q = s.c();
    if (q === '"' || q === "'") {
      const end = s.text.indexOf(q, s.pos + 1);
      if (end < 0) s.fail(`quote ${q} in parameter "${key}" of "${name}" is never closed`, s.pos, `add the closing ${q}`);
      value = s.text.slice(s.pos + 1, end);
      s.pos = end + 1;
    } else {
      const start = s.pos;
      while (s.c() !== undefined && s.c() !== ',' && s.c() !== ']') s.pos++;
      value = s.text.slice(start, s.pos).trim();
    }
    into[key] = value.trim();
    s.skipSpace();
    if (s.c() === ',') {
      s.pos++;
    } else if (s.c() !== ']' && s.c() !== undefined) {
      s.fail(`unexpected text after parameter "${key}" of "${name}"`, s.pos, 'separate parameters with commas; quote values with spaces or commas');
    }
  }
}

/** Parses the (already interpolated) lines of an `action =` or `filter =` value; reports into `problems`. */
export function parseInvocationLines(lines: Located[], problems: Problems): Invocation[] {
  const s = new Scanner(lines, problems);
  const out: Invocation[] = [];
  try {
    for (;;) {
      s.skipSpace();
      if (s.c() === undefined) break;
      const start = s.pos;
      if (s.c() === '[' || s.c() === ']' || s.c() === '"' || s.c() === "'" || s.c() === ',') {
        s.fail(`expected a name, found "${s.c()}"`, start, 'write name[key=value, ...]; a "[" needs a name right before it');
      }
      while (s.c() !== undefined && !/[\s\[\]"',]/.test(s.c() ?? "")) s.pos++;
      const name = s.text.slice(start, s.pos);
      if (!NAME.test(name)) s.fail(`"${name.slice(0, 60)}" is not a valid name`, start, 'names use letters, digits, "_", "-" and "."');
      const params: Record<string, string> = {};
      while (s.c() === '[') parseParams(s, params, name);
      if (s.c() !== undefined && !/\s/.test(s.c() ?? "")) {
        s.fail(`unexpected "${s.c()}" after "${name}"`, s.pos, s.c() === ']' ? 'this "]" has no matching "["' : 'separate entries with spaces or new lines');
      }
      const at = s.lineAt(start);
      out.push({ name, params, file: at.file, line: at.line });
    }
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  }
  return out;
}

/** `text` starts at `firstLine` of `file`; each "\n" is the next line. Throws ConfigErrors. */
export function parseInvocations(text: string, file: string, firstLine: number): Invocation[] {
  const problems = new Problems();
  const lines = text.split('\n').map((value, i) => ({ value, file, line: firstLine + i }));
  const out = parseInvocationLines(lines, problems);
  problems.throwIfAny();
  return out;
}
