import type Database from 'better-sqlite3';
import { storeError } from './open.js';

/** Outbox rows kept at most: a Redis down for days must not fill the disk. */
const MAX_OUTBOX = 100_000;

/**
 * Fleet mode's local state: the stream cursor (where this node has read
 * up to) and the outbox of this node's bans and unbans that Redis has not
 * taken yet, replayed on reconnect.
 */
export class FleetStateStore {
  private readonly stmt;

  constructor(db: Database.Database, private readonly path: string) {
    this.stmt = {
      get: db.prepare('SELECT value FROM fleet_state WHERE key = ?').pluck(),
      set: db.prepare('INSERT INTO fleet_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      push: db.prepare('INSERT INTO fleet_outbox (entry) VALUES (?)'),
      list: db.prepare('SELECT id, entry FROM fleet_outbox ORDER BY id LIMIT ?'),
      remove: db.prepare('DELETE FROM fleet_outbox WHERE id <= ?'),
      size: db.prepare('SELECT count(*) FROM fleet_outbox').pluck(),
      trim: db.prepare('DELETE FROM fleet_outbox WHERE id <= (SELECT max(id) FROM fleet_outbox) - ?'),
    };
  }

  get(key: string): string | null {
    return this.guard(() => (this.stmt.get.get(key) as string | undefined) ?? null);
  }

  set(key: string, value: string): void {
    this.guard(() => this.stmt.set.run(key, value));
  }

  /** Queues entries (JSON text) for Redis; the oldest go beyond MAX_OUTBOX. */
  push(entries: string[]): void {
    this.guard(() => {
      for (const e of entries) this.stmt.push.run(e);
      this.stmt.trim.run(MAX_OUTBOX);
    });
  }

  /** The oldest `limit` queued entries. */
  peek(limit: number): { id: number; entry: string }[] {
    return this.guard(() => this.stmt.list.all(limit) as { id: number; entry: string }[]);
  }

  /** Drops queued entries up to and including `id`. */
  done(id: number): void {
    this.guard(() => this.stmt.remove.run(id));
  }

  size(): number {
    return this.guard(() => this.stmt.size.get() as number);
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storeError(err, this.path);
    }
  }
}
