import { AsteriskBanError, ConfigErrors, type ErrorCode, type Location } from '../core/errors.js';
import { closest } from '../core/similar.js';

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
    if (this.errors.length > 0) throw new ConfigErrors(this.errors, this.warnings);
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

export function didYouMean(name: string, known: Iterable<string>): string | undefined {
  const c = closest(name, known);
  return c ? `did you mean "${c}"?` : undefined;
}
