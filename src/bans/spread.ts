export interface SpreadOptions {
  /** Fraction of the ban time added at random to every ban; default 0.01. */
  fraction: number;
  /** Upper bound of that default spread, in seconds; default 60. */
  maxSeconds: number;
}

export const DEFAULT_SPREAD: SpreadOptions = { fraction: 0.01, maxSeconds: 60 };

/**
 * Extra milliseconds added to a ban's end, never subtracted (a ban is never
 * shorter than configured). Bans created together by a flood would otherwise
 * expire together: a mass unban that reopens the door to the whole botnet at
 * once, and one huge kernel batch. Two parts: fail2ban's bantime.rndtime
 * (0..rndtime s, also hides the exact unban time from the attacker), and a
 * default spread of up to 1% of the ban time, capped at 60 s.
 */
export function expiryJitterMs(seconds: number, rndtime: number, random: () => number, spread: SpreadOptions = DEFAULT_SPREAD): number {
  if (seconds < 0) return 0;
  const rnd = rndtime > 0 ? random() * rndtime : 0;
  const small = Math.min(spread.maxSeconds, seconds * spread.fraction) * random();
  return Math.round((rnd + small) * 1000);
}
