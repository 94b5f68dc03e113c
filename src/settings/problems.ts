import { AsteriskBanError, ConfigErrors, type ErrorCode, type Location } from '../core/errors.js';

/**
 * Collects every configuration problem instead of stopping at the first, so
 * an admin fixes them in one pass. The same problem reached twice (a
 * [DEFAULT] value interpolated by several jails) is reported once.
 */
export class Problems {
  readonly errors: AsteriskBanError[] = [];
  readonly warnings: string[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly mute = false) {}

  /** True for a sink that drops everything: callers can skip building messages. */
  get muted(): boolean {
    return this.mute;
  }

  error(message: string, location?: Location, hint?: string, code: ErrorCode = 'E_CONFIG'): void {
    if (this.mute) return;
    const key = `${location?.file}:${location?.line}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.errors.push(new AsteriskBanError(code, message, { location, hint }));
  }

  warn(message: string, location?: Location): void {
    if (this.mute) return;
    const text = location ? `${location.file}${location.line ? `:${location.line}` : ''}: ${message}` : message;
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.warnings.push(text);
  }

  /** Throws every error collected so far, if any. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw new ConfigErrors(this.errors);
  }
}

/** A sink for parts of the configuration whose problems do not matter (disabled jails). */
export function mutedProblems(): Problems {
  return new Problems(true);
}

/** Option names whose values are secrets: never shown in a message. */
export function isSecretName(name: string): boolean {
  return /secret|passw|token|apikey|api_key/i.test(name);
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest known name, when it is close enough to be a likely typo. */
export function closest(name: string, known: Iterable<string>): string | null {
  let best: string | null = null;
  let bestScore = Infinity;
  const lower = name.toLowerCase();
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestScore) {
      best = k;
      bestScore = d;
    }
  }
  if (best === null) return null;
  const limit = Math.max(1, Math.min(3, Math.floor(best.length / 3)));
  return bestScore <= limit ? best : null;
}

export function didYouMean(name: string, known: Iterable<string>): string | undefined {
  const c = closest(name, known);
  return c ? `did you mean "${c}"?` : undefined;
}
