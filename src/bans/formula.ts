import { AsteriskBanError, type Location } from '../core/errors.js';

/** The values a bantime.formula can read, under fail2ban's names. */
export interface FormulaVars {
  /** ban.Time: the jail's bantime in seconds. */
  time: number;
  /** ban.Count: how many earlier bans were found. */
  count: number;
  /** banFactor: bantime.factor. */
  factor: number;
}

export type Formula = (vars: FormulaVars) => number;

const MAX_FORMULA = 500;

/**
 * fail2ban evaluates bantime.formula as Python. We never evaluate code: this
 * is a small expression parser for the arithmetic such formulas use —
 * numbers, ban.Time, ban.Count, banFactor, + - * / // % ** << >>,
 * comparisons, `and`/`or`/`not`, `a if cond else b`, and min, max, abs,
 * int, float, round, math.exp, math.log, math.sqrt, math.pow. Anything else is
 * rejected at configuration time.
 */
export function compileFormula(text: string, where?: Location): Formula {
  const fail = (why: string): never => {
    throw new AsteriskBanError('E_CONFIG', `bantime.formula: ${why}`, {
      location: where,
      hint: 'use arithmetic over ban.Time, ban.Count and banFactor, e.g. ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor',
    });
  };
  if (text.length > MAX_FORMULA) fail(`longer than ${MAX_FORMULA} characters`);
  const tokens = tokenize(text, fail);
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const take = (t?: string): string => {
    const tok = tokens[pos];
    if (tok === undefined || (t !== undefined && tok !== t)) fail(`expected ${t ?? 'a value'} ${tok === undefined ? 'at the end' : `before "${tok}"`}`);
    pos++;
    return tok!;
  };

  type Node = (v: FormulaVars) => number;
  const binary = (next: () => Node, ops: Record<string, (a: number, b: number) => number>) => (): Node => {
    let left = next();
    while (peek() !== undefined && Object.hasOwn(ops, peek()!)) {
      const op = ops[take()]!;
      const l = left;
      const r = next();
      left = (v) => op(l(v), r(v));
    }
    return left;
  };

  const atom = (): Node => {
    const tok = take();
    if (/^\d/.test(tok)) {
      const n = Number(tok);
      return () => n;
    }
    if (tok === '(') {
      const e = conditional();
      take(')');
      return e;
    }
    if (tok === 'ban.Time') return (v) => v.time;
    if (tok === 'ban.Count') return (v) => v.count;
    if (tok === 'banFactor') return (v) => v.factor;
    const fn = FUNCTIONS[tok];
    if (!fn) return fail(`"${tok.slice(0, 40)}" is not supported`);
    take('(');
    const args: Node[] = [];
    if (peek() !== ')') {
      args.push(conditional());
      while (peek() === ',') {
        take(',');
        args.push(conditional());
      }
    }
    take(')');
    if (args.length < fn.min || args.length > fn.max) fail(`${tok}() takes ${fn.min === fn.max ? fn.min : `${fn.min} to ${fn.max}`} arguments`);
    return (v) => fn.call(args.map((a) => a(v)));
  };
  const power = (): Node => {
    const b = atom();
    if (peek() !== '**') return b;
    take('**');
    const e = unary();
    return (v) => b(v) ** e(v);
  };
  const unary = (): Node => {
    if (peek() === '-') {
      take();
      const e = unary();
      return (v) => -e(v);
    }
    if (peek() === '+') take();
    return power();
  };
  const mul = binary(unary, {
    '*': (a, b) => a * b,
    '/': (a, b) => a / b,
    '//': (a, b) => Math.floor(a / b),
    '%': (a, b) => a - b * Math.floor(a / b),
  });
  const add = binary(mul, { '+': (a, b) => a + b, '-': (a, b) => a - b });
  // Python shifts are on unbounded integers; JS's << wraps at 32 bits, so scale instead.
  const shift = binary(add, { '<<': (a, b) => Math.trunc(a) * 2 ** Math.trunc(b), '>>': (a, b) => Math.floor(Math.trunc(a) / 2 ** Math.trunc(b)) });
  const compare = binary(shift, {
    '<': (a, b) => +(a < b), '>': (a, b) => +(a > b), '<=': (a, b) => +(a <= b), '>=': (a, b) => +(a >= b), '==': (a, b) => +(a === b), '!=': (a, b) => +(a !== b),
  });
  const not = (): Node => {
    if (peek() !== 'not') return compare();
    take();
    const e = not();
    return (v) => +!e(v);
  };
  const and = binary(not, { and: (a, b) => (a ? b : a) });
  const or = binary(and, { or: (a, b) => (a ? a : b) });
  function conditional(): Node {
    const then = or();
    if (peek() !== 'if') return then;
    take('if');
    const cond = or();
    take('else');
    const otherwise = conditional();
    return (v) => (cond(v) ? then(v) : otherwise(v));
  }

  const root = conditional();
  if (pos < tokens.length) fail(`unexpected "${tokens[pos]!.slice(0, 40)}"`);
  for (const count of [0, 1, 5, 30]) {
    const r = root({ time: 600, count, factor: 1 });
    if (!Number.isFinite(r)) fail(`gives ${r} for ban.Time=600, ban.Count=${count}, banFactor=1`);
  }
  return root;
}

const FUNCTIONS: Record<string, { min: number; max: number; call: (a: number[]) => number }> = {
  min: { min: 1, max: 10, call: (a) => Math.min(...a) },
  max: { min: 1, max: 10, call: (a) => Math.max(...a) },
  abs: { min: 1, max: 1, call: (a) => Math.abs(a[0]!) },
  int: { min: 1, max: 1, call: (a) => Math.trunc(a[0]!) },
  float: { min: 1, max: 1, call: (a) => a[0]! },
  round: { min: 1, max: 1, call: (a) => Math.round(a[0]!) },
  'math.exp': { min: 1, max: 1, call: (a) => Math.exp(a[0]!) },
  'math.log': { min: 1, max: 2, call: (a) => (a.length === 2 ? Math.log(a[0]!) / Math.log(a[1]!) : Math.log(a[0]!)) },
  'math.sqrt': { min: 1, max: 1, call: (a) => Math.sqrt(a[0]!) },
  'math.pow': { min: 2, max: 2, call: (a) => a[0]! ** a[1]! },
};

const TOKEN = /\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)?|\*\*|\/\/|<<|>>|<=|>=|==|!=|[-+*/%()<>,])\s*/y;

function tokenize(text: string, fail: (why: string) => never): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (!m) fail(`cannot read "${text.slice(at, at + 20)}"`);
    out.push(m![1]!);
    at = TOKEN.lastIndex;
  }
  if (out.length === 0) fail('empty');
  return out;
}
