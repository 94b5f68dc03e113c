import type Database from 'better-sqlite3';
import type { Position, PositionStore } from '../sources/logfile/positions.js';
import { storeError } from './open.js';

interface PositionRow {
  inode: number;
  offset: number;
  first_line_hash: string;
}

/**
 * Log follower positions in the state database. The follower saves often
 * (after each read), so each set is its own tiny autocommit statement; WAL
 * makes that cheap.
 */
export class SqlitePositionStore implements PositionStore {
  private readonly getStmt;
  private readonly setStmt;

  constructor(db: Database.Database, private readonly path: string) {
    this.getStmt = db.prepare('SELECT inode, "offset", first_line_hash FROM log_positions WHERE path = ?');
    this.setStmt = db.prepare(
      `INSERT INTO log_positions (path, inode, "offset", first_line_hash) VALUES (?, ?, ?, ?)
       ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, "offset" = excluded."offset", first_line_hash = excluded.first_line_hash`,
    );
  }

  get(path: string): Position | undefined {
    try {
      const row = this.getStmt.get(path) as PositionRow | undefined;
      return row ? { inode: row.inode, offset: row.offset, firstLineHash: row.first_line_hash } : undefined;
    } catch (err) {
      throw storeError(err, this.path);
    }
  }

  set(path: string, pos: Position): void {
    try {
      this.setStmt.run(path, pos.inode, pos.offset, pos.firstLineHash);
    } catch (err) {
      throw storeError(err, this.path);
    }
  }
}
