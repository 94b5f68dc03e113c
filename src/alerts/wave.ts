import { printable } from '../core/address.js';
import { formatDuration } from '../core/duration.js';
import type { Failure } from '../core/types.js';
import type { Alert } from './types.js';

const SLOTS = 60;
const SLOT_MS = 1_000;
/** Distinct sources and accounts tallied per wave; more are counted in the total only. */
const MAX_TALLIED = 10_000;
const TOP = 5;

/**
 * wave: failures a minute in a jail above a threshold. One alert when a
 * wave starts (with its top sources and accounts) and one when the rate has
 * stayed below the threshold for a whole minute, not one per failure.
 */
export class WaveRule {
  private readonly slots = new Array<number>(SLOTS).fill(0);
  /** Start of the slot `head` counts (ms, SLOT_MS aligned). */
  private headStart = 0;
  private head = 0;
  private total = 0;
  private wave: { start: number; failures: number; peak: number; quietSince: number | null } | null = null;
  private readonly sources = new Map<string, number>();
  private readonly accounts = new Map<string, number>();
  private talliedSince = 0;

  add(f: Failure, now: number, threshold: number, jail: string): Alert | null {
    this.advance(now);
    this.slots[this.head]!++;
    this.total++;
    tally(this.sources, f.ip);
    if (f.account !== undefined) tally(this.accounts, f.account);
    if (this.wave) {
      this.wave.failures++;
      this.wave.peak = Math.max(this.wave.peak, this.total);
      if (this.total >= threshold) this.wave.quietSince = null;
      return null;
    }
    if (this.total < threshold) return null;
    this.wave = { start: now, failures: this.total, peak: this.total, quietSince: null };
    const facts: [string, string][] = [['failures in the last minute', String(this.total)], ['threshold', `${threshold}/min`], ...this.tops()];
    return { rule: 'wave', severity: 'warning', jail, time: now, facts, summary: `attack wave: ${this.total} failures in the last minute in jail ${jail} (threshold ${threshold}/min)` };
  }

  /** Called every few seconds: ends a wave once the rate stayed below the threshold for a minute. */
  tick(now: number, threshold: number, jail: string): Alert | null {
    this.advance(now);
    if (!this.wave) {
      // Between waves the tallies cover about the last minute or two.
      if (now - this.talliedSince >= SLOTS * SLOT_MS) this.clearTallies(now);
      return null;
    }
    if (this.total >= threshold) {
      this.wave.quietSince = null;
      return null;
    }
    this.wave.quietSince ??= now;
    if (now - this.wave.quietSince < SLOTS * SLOT_MS) return null;
    const w = this.wave;
    this.wave = null;
    const facts: [string, string][] = [['lasted', formatDuration(Math.round((w.quietSince! - w.start) / 1000))], ['failures', String(w.failures)], ['peak', `${w.peak}/min`], ...this.tops()];
    this.clearTallies(now);
    return { rule: 'wave', severity: 'info', jail, time: now, facts, summary: `attack wave over in jail ${jail}: ${w.failures} failures, peak ${w.peak}/min` };
  }

  get inWave(): boolean {
    return this.wave !== null;
  }

  private tops(): [string, string][] {
    const top = (m: Map<string, number>, quote: boolean): string =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k, n]) => `${quote ? `"${printable(k, 40)}"` : k} (${n})`).join(', ') || '-';
    return [['top sources', top(this.sources, false)], ['top accounts', top(this.accounts, true)]];
  }

  private clearTallies(now: number): void {
    this.talliedSince = now;
    this.sources.clear();
    this.accounts.clear();
  }

  private advance(now: number): void {
    const start = now - (now % SLOT_MS);
    if (this.headStart === 0) this.headStart = start;
    let steps = Math.floor((start - this.headStart) / SLOT_MS);
    if (steps <= 0) return;
    if (steps >= SLOTS) {
      this.slots.fill(0);
      this.total = 0;
      steps = 0;
      this.headStart = start;
      return;
    }
    while (steps-- > 0) {
      this.head = (this.head + 1) % SLOTS;
      this.total -= this.slots[this.head]!;
      this.slots[this.head] = 0;
      this.headStart += SLOT_MS;
    }
  }
}

function tally(m: Map<string, number>, key: string): void {
  const n = m.get(key);
  if (n !== undefined) m.set(key, n + 1);
  else if (m.size < MAX_TALLIED) m.set(key, 1);
}
