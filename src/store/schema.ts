import type Database from 'better-sqlite3';
import { AsteriskBanError } from '../core/errors.js';

/**
 * Schema versions, oldest first. Migration N takes the database from
 * user_version N to N+1. Never edit a released migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 0 → 1: bans, ban history for bantime.increment, log follower positions.
  `
  CREATE TABLE bans (
    jail     TEXT    NOT NULL,
    ip       TEXT    NOT NULL,
    family   INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    "end"    INTEGER,
    count    INTEGER NOT NULL,
    source   TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    failures TEXT    NOT NULL DEFAULT '[]',
    applied  TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (jail, ip)
  ) WITHOUT ROWID;
  CREATE INDEX bans_end ON bans("end");
  CREATE TABLE ban_history (
    jail    TEXT    NOT NULL,
    ip      TEXT    NOT NULL,
    time    INTEGER NOT NULL,
    bantime INTEGER NOT NULL
  );
  CREATE INDEX ban_history_ip ON ban_history(ip, time);
  CREATE INDEX ban_history_time ON ban_history(time);
  CREATE TABLE log_positions (
    path            TEXT    PRIMARY KEY,
    inode           INTEGER NOT NULL,
    "offset"        INTEGER NOT NULL,
    first_line_hash TEXT    NOT NULL
  ) WITHOUT ROWID;
  `,
  // 1 → 2: alerts, and the networks each account has logged in from (new_network rule).
  `
  CREATE TABLE alerts (
    id       INTEGER PRIMARY KEY,
    time     INTEGER NOT NULL,
    jail     TEXT    NOT NULL,
    rule     TEXT    NOT NULL,
    severity TEXT    NOT NULL,
    summary  TEXT    NOT NULL,
    address  TEXT,
    account  TEXT,
    facts    TEXT    NOT NULL DEFAULT '[]'
  );
  CREATE INDEX alerts_time ON alerts(time);
  CREATE TABLE account_networks (
    account   TEXT    NOT NULL,
    network   TEXT    NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (account, network)
  ) WITHOUT ROWID;
  `,
  // 2 → 3: fleet mode: the node a remote ban came from, bans waiting for Redis, the stream cursor.
  `
  ALTER TABLE bans ADD COLUMN node TEXT;
  CREATE TABLE fleet_outbox (
    id    INTEGER PRIMARY KEY,
    entry TEXT    NOT NULL
  );
  CREATE TABLE fleet_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 3 → 4: no query looks bans up by their end (expiry works from memory), yet
  // every ban written kept that index up to date: ~2 µs of each, under a flood.
  `
  DROP INDEX IF EXISTS bans_end;
  `,
  // 4 → 5: a restore's bookkeeping as one row per jail and action ("applied
  // every ban of the jail that started by upto") instead of a rewrite of
  // every ban's row: a quarter of a second for 100,000 bans.
  `
  CREATE TABLE applied_upto (
    jail   TEXT    NOT NULL,
    action TEXT    NOT NULL,
    upto   INTEGER NOT NULL,
    PRIMARY KEY (jail, action)
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema up to SCHEMA_VERSION inside one transaction; refuses a newer file. */
export function migrate(db: Database.Database, path: string, migrations: readonly string[] = MIGRATIONS): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new AsteriskBanError('E_STORE', `${path}: state database has schema version ${current}, this asterisk-ban knows only up to ${migrations.length}`, {
      hint: 'it was written by a newer asterisk-ban; upgrade again, or move the file aside to start with an empty state',
    });
  }
  if (current === migrations.length) return current;
  db.transaction(() => {
    for (let v = current; v < migrations.length; v++) db.exec(migrations[v]!);
    // user_version cannot be bound as a parameter; it is our own integer.
    db.pragma(`user_version = ${migrations.length}`);
  })();
  return current;
}
