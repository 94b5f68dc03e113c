export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Fraction of the delay added at random, 0..1. */
  jitter: number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 500, maxMs: 30_000, jitter: 0.2 };

/**
 * Capped exponential backoff with jitter, as a pure function of the attempt
 * number (1 for the first retry) so it is table-testable.
 */
export function retryDelay(attempt: number, opts: BackoffOptions = defaultBackoff, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(n - 1, 30));
  return Math.round(Math.min(opts.maxMs, exp + exp * opts.jitter * random()));
}
