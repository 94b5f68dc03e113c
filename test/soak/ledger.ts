// The soak's bookkeeping: which addresses must be in the kernel and by when,
// which may be, and what the kernel actually held. Pure: fed by the harness
// with what the traffic said it sent and what the kernel showed.
import type { Crossing } from './bursts.js';
import type { KernelView } from './kernel.js';

export type Jail = 'ami' | 'log';

interface Pending {
  t: number;
  j: Jail;
  late: boolean;
}

export interface LedgerOptions {
  bantimeMs: number;
  /** A due address must be in the kernel this long after its maxretry-th failure. */
  deadlineMs: number;
  ignored: ReadonlySet<string>;
  /** Our tables: their rule counts are learnt from the first listing and must not change. */
  tables: readonly string[];
}

export class Ledger {
  private readonly crossings = new Map<string, number[]>();
  private readonly pending = new Map<string, Pending>();
  private readonly recentAdds = new Map<string, number>();
  private readonly unexplained = new Map<string, number>();
  private readonly reported = new Set<string>();
  private readonly rules = new Map<string, number>();
  private lifeStart = 0;
  private up = false;
  private readyAt = 0;
  private truncatedAt = -Infinity;
  /** Bans in the kernel when the daemon was killed that must be back after its restart. */
  private carried: Map<string, number> | null = null;
  readonly latencies: Record<Jail, number[]> = { ami: [], log: [] };
  readonly violations = new Map<string, string[]>();
  due = 0;
  exempt = 0;
  polls = 0;
  readonly listingMs: number[] = [];
  maxElements = 0;
  lostChecked = 0;

  constructor(private readonly opts: LedgerOptions) {}

  violation(kind: string, detail: string): void {
    const list = this.violations.get(kind) ?? [];
    list.push(detail);
    this.violations.set(kind, list);
  }

  lifeBegins(spawnAt: number): void {
    this.lifeStart = spawnAt;
    this.up = true;
    this.readyAt = 0;
  }

  lifeReady(at: number): void {
    this.readyAt = at;
  }

  /** The daemon died (or was stopped) at `at`; `kernel` is the last listing before. */
  lifeEnds(at: number, kernel: KernelView | null): void {
    this.up = false;
    for (const [a, p] of this.pending) {
      if (!p.late && p.t <= at - this.opts.deadlineMs) this.violation('late', `${a} (${p.j}) not in the kernel when the daemon went down ${at - p.t} ms after its crossing`);
    }
    this.pending.clear();
    this.carried = new Map();
    if (kernel) {
      for (const [a, e] of kernel.elements) if (e.expires > 5) this.carried.set(a, kernel.end + e.expires * 1000);
    }
  }

  truncated(at: number): void {
    this.truncatedAt = at;
  }

  cross(j: Jail, c: Crossing): void {
    const list = this.crossings.get(c.a) ?? [];
    list.push(c.t);
    this.crossings.set(c.a, list);
    // AMI events reach the daemon only once it has logged in; a log is followed from where the
    // daemon starts reading it (its end, on a first start), so only lines after ready must count.
    const since = j === 'log' ? this.readyAt || Infinity : this.lifeStart;
    const sameLife = this.up && c.t0 >= since;
    const cut = j === 'log' && (c.risk || (c.t <= this.truncatedAt && c.t >= this.truncatedAt - 1_000));
    if (!sameLife || cut) {
      this.exempt++;
      return;
    }
    this.due++;
    const seen = this.recentAdds.get(c.a);
    if (seen !== undefined && seen >= c.t) {
      this.latencies[j].push(seen - c.t);
      return;
    }
    this.pending.set(c.a, { t: c.t, j, late: false });
  }

  /** `nft monitor` saw the address added at `at`. */
  added(a: string, at: number): void {
    this.recentAdds.set(a, at);
    const p = this.pending.get(a);
    if (p && at >= p.t) {
      this.latencies[p.j].push(at - p.t);
      this.pending.delete(a);
    }
  }

  kernel(view: KernelView): void {
    this.polls++;
    this.listingMs.push(view.end - view.start);
    this.maxElements = Math.max(this.maxElements, view.elements.size);
    for (const [a, at] of this.recentAdds) if (at < view.start - 10_000) this.recentAdds.delete(a);
    for (const d of view.duplicates) this.violation('duplicate', `${d} in more than one set`);
    this.checkTables(view);
    for (const [a, p] of this.pending) {
      if (view.elements.has(a)) {
        // The monitor's moment when it has one; the listing's end is only an upper bound.
        const seen = this.recentAdds.get(a);
        this.latencies[p.j].push((seen !== undefined && seen >= p.t ? seen : view.end) - p.t);
        this.pending.delete(a);
      } else if (!p.late && view.start > p.t + this.opts.deadlineMs) {
        p.late = true;
        this.violation('late', `${a} (${p.j}) crossed at ${clock(p.t)}, not in the kernel ${view.start - p.t} ms later`);
      }
    }
    for (const [a] of view.elements) this.explain(a, view);
    if (this.carried && this.readyAt && view.start >= this.readyAt + this.opts.deadlineMs) {
      for (const [a, until] of this.carried) {
        this.lostChecked++;
        if (!view.elements.has(a) && until > view.end + 2_000) this.violation('lost', `${a} banned before the kill, missing ${view.start - this.readyAt} ms after ready`);
      }
      this.carried = null;
    }
    this.prune(view.start);
  }

  private checkTables(view: KernelView): void {
    for (const [t, rules] of view.tables) {
      if (!this.opts.tables.includes(t)) this.violation('stray table', t);
      const want = this.rules.get(t);
      if (want === undefined) this.rules.set(t, rules);
      else if (rules !== want) this.violation('rules', `${t} has ${rules} rules, had ${want}`);
    }
    if (this.up && this.readyAt) {
      for (const t of this.opts.tables) if (!view.tables.has(t)) this.violation('table missing', `${t} at ${clock(view.start)}`);
    }
  }

  /** An element must come from a crossing whose ban can still run; ignored addresses never. */
  private explain(a: string, view: KernelView): void {
    if (this.reported.has(a)) return;
    if (this.opts.ignored.has(a)) {
      this.reported.add(a);
      this.violation('ignored banned', a);
      return;
    }
    const ok = (this.crossings.get(a) ?? []).some((t) => t <= view.end && t + this.opts.bantimeMs + 15_000 >= view.start);
    if (ok) {
      this.unexplained.delete(a);
      return;
    }
    // The traffic's word on a crossing may still be in the pipe: give it two seconds.
    const since = this.unexplained.get(a);
    if (since === undefined) this.unexplained.set(a, view.end);
    else if (view.start - since > 2_000) {
      this.reported.add(a);
      this.violation('unexplained ban', `${a}: no crossing explains it (double counting or a wrong address)`);
    }
  }

  private prune(now: number): void {
    const horizon = now - this.opts.bantimeMs - 60_000;
    for (const [a, list] of this.crossings) {
      const keep = list.filter((t) => t >= horizon);
      if (keep.length === 0) this.crossings.delete(a);
      else if (keep.length !== list.length) this.crossings.set(a, keep);
    }
  }

  get waiting(): number {
    return this.pending.size;
  }
}

/** Wall-clock time of day with milliseconds, to find the moment in the daemon's log. */
export function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
