import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import type { Logger, ThrottledLog } from '../core/logger.js';
import type { FleetStateStore } from '../store/fleet-state.js';
import type { BansInForce } from './bans-in-force.js';
import { decodeEntry, type FleetEntry } from './entry.js';
import type { RemoteApplier } from './remote-apply.js';
import { compareIds } from './stream-id.js';

const READ_BLOCK_MS = 2_000;
const READ_COUNT = 500;
const RESYNC_SLICE = 5_000;

export interface StreamFollowerOptions {
  cmd: Redis;
  /** A connection of its own: XREAD BLOCK holds it. */
  reader: Redis;
  stream: string;
  inForce: BansInForce;
  state: FleetStateStore;
  remote: RemoteApplier;
  node: string;
  clock: Clock;
  logger: Logger;
  throttled: ThrottledLog;
  scrub(text: string): string;
}

/**
 * Other nodes' changes, in: the stream read from this node's own cursor
 * (kept in SQLite), or, when the cursor is gone, every ban in force.
 */
export class StreamFollower {
  /** ms between the newest entry read and now, at the last read. */
  lag: number | null = null;
  private reading = false;

  constructor(private readonly o: StreamFollowerOptions) {}

  /** From the saved cursor; a cursor the stream no longer holds (trimmed, a new Redis) means a full resync. */
  async catchUp(): Promise<void> {
    const cursor = this.o.state.get('cursor');
    const info = await this.o.cmd.xinfo('STREAM', this.o.stream).catch(() => null) as unknown[] | null;
    const field = (name: string): unknown => (info ? info[info.indexOf(name) + 1] : undefined);
    const first = Array.isArray(field('first-entry')) ? String((field('first-entry') as unknown[])[0]) : null;
    const last = typeof field('last-generated-id') === 'string' ? (field('last-generated-id') as string) : '0-0';
    const behind = cursor !== null && info !== null && compareIds(cursor, last) <= 0;
    const trimmed = cursor !== null && first !== null && compareIds(cursor, first) < 0;
    // Still in the stream: what comes after the cursor is all there.
    if (behind && !trimmed) return;
    // First join, entries trimmed away, or a Redis that lost its stream: everything in force, from the hash.
    await this.resync();
    this.o.state.set('cursor', last);
  }

  private async resync(): Promise<void> {
    const all = await this.o.inForce.all();
    const now = this.o.clock.now();
    const due: FleetEntry[] = [];
    for (const [key, json] of Object.entries(all)) {
      let fields: unknown;
      try {
        fields = JSON.parse(json);
      } catch {
        fields = null;
      }
      const d = Array.isArray(fields) ? decodeEntry(fields as string[], now) : { ok: false as const, why: 'not a field list' };
      if (!d.ok) {
        this.o.remote.invalid(`resync entry ${key.slice(0, 80)}: ${d.why}`);
        continue;
      }
      if (d.entry.end !== null && d.entry.end <= now) {
        await this.o.inForce.forget(key).catch(() => {});
        continue;
      }
      // This node's own entries too: a node whose database was lost gets its bans back.
      due.push(d.entry);
    }
    // Together, in slices: the ban manager commits each slice as one batch per action.
    let applied = 0;
    for (let i = 0; i < due.length; i += RESYNC_SLICE) {
      const done = await Promise.all(due.slice(i, i + RESYNC_SLICE).map((e) => this.o.remote.apply(e, false)));
      applied += done.filter(Boolean).length;
    }
    this.o.logger.info(`fleet: full resync: ${applied} ban(s) from other nodes applied`);
  }

  /** Reads and applies the stream from the saved cursor while `alive()`; one loop at a time. */
  async read(alive: () => boolean): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (alive()) {
        const cursor = this.o.state.get('cursor') ?? '0-0';
        let res: [string, [string, string[]][]][] | null;
        try {
          res = (await this.o.reader.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.o.stream, cursor)) as [string, [string, string[]][]][] | null;
        } catch (err) {
          if (!alive()) return;
          this.o.throttled.warn('read', `fleet: reading the stream failed (${this.o.scrub((err as Error).message)})`);
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        if (!res) continue;
        const now = this.o.clock.now();
        let lastId = cursor;
        // Applied together, so the ban manager commits them as one batch; an
        // address seen twice waits for its first change, keeping its order.
        let wave = new Map<string, Promise<boolean>>();
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            lastId = id;
            const d = decodeEntry(fields, now);
            if (!d.ok) {
              this.o.remote.invalid(`stream entry ${id}: ${d.why}`);
              continue;
            }
            if (d.entry.node === this.o.node) continue;
            const key = `${d.entry.jail} ${d.entry.ip}`;
            if (wave.has(key)) {
              await Promise.all(wave.values());
              wave = new Map();
            }
            wave.set(key, this.o.remote.apply(d.entry, true));
          }
        }
        await Promise.all(wave.values());
        this.lag = Math.max(0, now - Number(lastId.split('-')[0]));
        this.o.state.set('cursor', lastId);
      }
    } finally {
      this.reading = false;
    }
  }
}
