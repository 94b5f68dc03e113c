import type { Location } from '../core/errors.js';
import type { IncrementSettings } from '../settings/types.js';
import { compileFormula, type Formula } from './formula.js';

/** Seconds to ban for, given the jail's bantime and the number of earlier bans found in history. */
export type BantimeFn = (bantime: number, previous: number) => number;

// fail2ban's documented default: doubles per earlier ban, capped at 2^20.
const DEFAULT_FORMULA: Formula = (v) => v.time * 2 ** Math.min(v.count, 20) * v.factor;

/**
 * bantime.increment as fail2ban documents it: the first ban uses bantime;
 * each later one (previous > 0) uses bantime.multipliers[previous] (the last
 * multiplier once past the end) times bantime.factor, or else
 * bantime.formula (default doubling); then bantime.maxtime caps it. Random
 * jitter (bantime.rndtime) is added by the ban manager, on top.
 * Throws E_CONFIG for a formula we will not evaluate.
 */
export function compileIncrement(inc: IncrementSettings, where?: Location): BantimeFn {
  if (!inc.enabled) return (bantime) => bantime;
  const multipliers = inc.multipliers.filter((m) => Number.isFinite(m) && m >= 0);
  const formula = inc.formula ? compileFormula(inc.formula, where) : DEFAULT_FORMULA;
  const factor = Number.isFinite(inc.factor) && inc.factor > 0 ? inc.factor : 1;
  return (bantime, previous) => {
    if (bantime < 0 || previous <= 0) return bantime;
    let t: number;
    if (multipliers.length > 0) {
      t = bantime * multipliers[Math.min(previous, multipliers.length - 1)]! * factor;
    } else {
      t = formula({ time: bantime, count: previous, factor });
    }
    if (!Number.isFinite(t) || t <= 0) t = bantime;
    if (inc.maxtime > 0) t = Math.min(t, inc.maxtime);
    return Math.round(t);
  };
}
