import type Database from 'better-sqlite3';
import type { Ban, Failure, SourceKind } from '../core/types.js';
import { openDatabase, storeError, type OpenOptions } from './open.js';
import { migrate } from './schema.js';
import { SqlitePositionStore } from './positions.js';
import { AlertStore } from './alerts.js';
import { FleetStateStore } from './fleet-state.js';

export interface BanKey {
  jail: string;
  ip: string;
}

/** A ban as persisted, with the ids of the actions that applied it. */
export interface StoredBan extends Ban {
  applied: string[];
}

// Ban records keep the evidence, but an attacker controls its text: bound it.
const MAX_FAILURES = 20;
const MAX_FIELD = 512;
const MAX_FAILURES_JSON = 16_384;

/** A restore's mark: `action` applied every ban of its jail that started by `upto` (markJailApplied). */
interface Watermark {
  action: string;
  upto: number;
}
/** The ban fields a failure usually repeats, left out of the stored list (encodeFailures). */
type FailureOwner = Pick<Ban, 'ip' | 'family' | 'source' | 'reason'>;

const COLUMNS = 'jail, ip, family, start, "end", count, source, reason, applied, node';
type RawRow = [string, string, number, number, number | null, number, string, string, string, string | null, string];

/**
 * The state database: bans, ban history (for bantime.increment), log
 * positions and alerts. Every method is synchronous (better-sqlite3); a batch is one
 * transaction, so 10,000 bans cost one commit.
 */
export class Store {
  readonly positions: SqlitePositionStore;
  readonly alerts: AlertStore;
  readonly fleet: FleetStateStore;
  private readonly stmt;
  private readonly saveTx: (bans: Ban[], history: boolean) => void;
  private readonly deleteTx: (keys: BanKey[]) => void;
  private readonly appliedTx: (keys: BanKey[], actionId: string) => void;
  private closed = false;

  private constructor(private readonly db: Database.Database, readonly path: string) {
    this.stmt = {
      upsert: db.prepare(
        `INSERT INTO bans (jail, ip, family, start, "end", count, source, reason, failures, applied, node)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?)
         ON CONFLICT (jail, ip) DO UPDATE SET family = excluded.family, start = excluded.start, "end" = excluded."end",
           count = excluded.count, source = excluded.source, reason = excluded.reason, failures = excluded.failures, applied = '[]', node = excluded.node`,
      ),
      history: db.prepare('INSERT INTO ban_history (jail, ip, time, bantime) VALUES (?, ?, ?, ?)'),
      delete: db.prepare('DELETE FROM bans WHERE jail = ? AND ip = ?'),
      applied: db.prepare(
        `UPDATE bans SET applied = json_insert(applied, '$[#]', ?)
         WHERE jail = ? AND ip = ? AND NOT EXISTS (SELECT 1 FROM json_each(bans.applied) WHERE value = ?)`,
      ),
      appliedUpTo: db.prepare(
        `INSERT INTO applied_upto (jail, action, upto) VALUES (?, ?, ?)
         ON CONFLICT (jail, action) DO UPDATE SET upto = max(upto, excluded.upto)`,
      ),
      watermarks: db.prepare('SELECT jail, action, upto FROM applied_upto').raw(true),
      // Raw rows (arrays) load 100,000 bans ~40% faster than row objects; order = RawRow.
      all: db.prepare(`SELECT ${COLUMNS}, '[]' FROM bans`).raw(true),
      allFull: db.prepare(`SELECT ${COLUMNS}, failures FROM bans`).raw(true),
      byJail: db.prepare(`SELECT ${COLUMNS}, '[]' FROM bans WHERE jail = ?`).raw(true),
      byJailFull: db.prepare(`SELECT ${COLUMNS}, failures FROM bans WHERE jail = ?`).raw(true),
      count: db.prepare('SELECT count(*) FROM bans').pluck(),
      prevInJail: db.prepare('SELECT count(*) FROM ban_history WHERE ip = ? AND jail = ? AND time >= ?').pluck(),
      prevAll: db.prepare('SELECT count(*) FROM ban_history WHERE ip = ? AND time >= ?').pluck(),
      purge: db.prepare('DELETE FROM ban_history WHERE time < ?'),
    };
    this.saveTx = db.transaction((bans: Ban[], history: boolean) => {
      for (const b of bans) {
        // Positional: binding by name copied every ban into an object first.
        this.stmt.upsert.run(b.jail, b.ip, b.family, b.start, b.end, b.count, b.source, b.reason, encodeFailures(b.failures, b), b.node ?? null);
        if (history) this.stmt.history.run(b.jail, b.ip, b.start, b.end === null ? -1 : Math.round((b.end - b.start) / 1000));
      }
    });
    this.deleteTx = db.transaction((keys: BanKey[]) => {
      for (const k of keys) this.stmt.delete.run(k.jail, k.ip);
    });
    this.appliedTx = db.transaction((keys: BanKey[], action: string) => {
      for (const k of keys) this.stmt.applied.run(action, k.jail, k.ip, action);
    });
    this.positions = new SqlitePositionStore(db, path);
    this.alerts = new AlertStore(db, path);
    this.fleet = new FleetStateStore(db, path);
  }

  /** Opens or creates the file (`:memory:` for tests), migrates it, locks it. Throws E_STORE / E_STORE_LOCKED. */
  static open(path: string, opts: OpenOptions = {}): Store {
    const db = openDatabase(path, opts);
    try {
      migrate(db, path);
    } catch (err) {
      db.close();
      throw storeError(err, path);
    }
    return new Store(db, path);
  }

  /** Inserts or replaces bans (and, by default, one history row each) in one transaction. */
  saveBans(bans: Ban[], opts: { history?: boolean } = {}): void {
    if (bans.length > 0) this.guard(() => this.saveTx(bans, opts.history ?? true));
  }

  deleteBans(keys: BanKey[]): void {
    if (keys.length > 0) this.guard(() => this.deleteTx(keys));
  }

  /** Records that `actionId` has applied these bans. */
  markApplied(keys: BanKey[], actionId: string): void {
    if (keys.length > 0) this.guard(() => this.appliedTx(keys, actionId));
  }

  /**
   * Records `actionId` as applied for every ban of `jail` that started at or
   * before `upTo`: one row for a restored batch of 100,000 bans, which
   * loadBans() adds to each ban's list. A ban written again later starts
   * later, so the mark does not reach it.
   */
  markJailApplied(jail: string, actionId: string, upTo: number): void {
    this.guard(() => this.stmt.appliedUpTo.run(jail, actionId, upTo));
  }

  /** Persisted bans; failures are only decoded when asked (restoring 100,000 bans does not need them). */
  loadBans(opts: { jail?: string; failures?: boolean } = {}): StoredBan[] {
    return this.guard(() => {
      const full = opts.failures ?? false;
      const rows = (opts.jail === undefined
        ? (full ? this.stmt.allFull : this.stmt.all).all()
        : (full ? this.stmt.byJailFull : this.stmt.byJail).all(opts.jail)) as RawRow[];
      const marks = new Map<string, Watermark[]>();
      for (const [jail, action, upto] of this.stmt.watermarks.all() as [string, string, number][]) {
        const list = marks.get(jail);
        if (list === undefined) marks.set(jail, [{ action, upto }]);
        else list.push({ action, upto });
      }
      return rows.map((r) => toBan(r, marks.get(r[0])));
    });
  }

  countBans(): number {
    return this.guard(() => this.stmt.count.get() as number);
  }

  /** How many times `ip` was banned since `since` (ms epoch), in `jail` or, with jail null, in any jail. */
  previousBans(ip: string, jail: string | null, since: number): number {
    return this.guard(() => (jail === null ? this.stmt.prevAll.get(ip, since) : this.stmt.prevInJail.get(ip, jail, since)) as number);
  }

  /** Drops history older than `before` (ms epoch): fail2ban's dbpurgeage. Returns rows removed. */
  purgeHistory(before: number): number {
    return this.guard(() => this.stmt.purge.run(before).changes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storeError(err, this.path);
    }
  }
}

// One shared, frozen empty list for the common case: 100,000 restored bans
// would otherwise allocate 200,000 empty arrays (memory and GC at start-up).
const NONE = Object.freeze([]) as unknown as never[];

function toBan(r: RawRow, marks: readonly Watermark[] | undefined): StoredBan {
  const ban: StoredBan = {
    jail: r[0],
    ip: r[1],
    family: r[2] === 6 ? 6 : 4,
    start: r[3],
    end: r[4],
    count: r[5],
    source: r[6] as SourceKind,
    reason: r[7],
    failures: NONE,
    applied: r[8] === '[]' ? NONE : safeJson<string[]>(r[8], []),
  };
  if (r[10] !== '[]') ban.failures = decodeFailures(r[10], ban);
  for (const m of marks ?? []) {
    if (ban.start <= m.upto && !ban.applied.includes(m.action)) ban.applied = [...ban.applied, m.action];
  }
  if (r[9] !== null) ban.node = r[9];
  return ban;
}

function clip(text: string | undefined): string | undefined {
  return text === undefined ? undefined : text.length > MAX_FIELD ? text.slice(0, MAX_FIELD) : text;
}

/**
 * Keeps the last MAX_FAILURES failures with bounded text; drops the list
 * entirely if still too big. Fields equal to the ban's own (its address,
 * family, source and reason: usually all four) are left out and restored by
 * decodeFailures: a flood writes tens of thousands of these a minute, and
 * the repeated fields were two thirds of each row.
 */
export function encodeFailures(failures: readonly Failure[], ban: FailureOwner): string {
  const kept = failures.length > MAX_FAILURES ? failures.slice(-MAX_FAILURES) : failures;
  const out: Record<string, unknown>[] = [];
  for (const f of kept) {
    const o: Record<string, unknown> = { time: f.time };
    if (f.ip !== ban.ip) o.ip = f.ip;
    if (f.family !== ban.family) o.family = f.family;
    if (f.source !== ban.source) o.source = f.source;
    const reason = clip(f.reason) ?? '';
    if (reason !== ban.reason) o.reason = reason;
    if (f.service !== undefined) o.service = clip(f.service);
    if (f.account !== undefined) o.account = clip(f.account);
    if (f.raw !== undefined) o.raw = clip(f.raw);
    out.push(o);
  }
  const json = JSON.stringify(out);
  return json.length <= MAX_FAILURES_JSON ? json : '[]';
}

/** A stored failure list, the fields left out taken from the ban (rows written before that was done carry them all). */
function decodeFailures(json: string, ban: FailureOwner): Failure[] {
  const v = safeJson<unknown>(json, []);
  if (!Array.isArray(v)) return [];
  return (v as Partial<Failure>[]).map((f) => ({ ip: ban.ip, family: ban.family, source: ban.source, reason: ban.reason, ...f }) as Failure);
}

function safeJson<T>(json: string, fallback: T): T {
  try {
    return JSON.parse(json) as T;
  } catch {
    return fallback;
  }
}
