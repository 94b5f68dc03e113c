import { accessSync, closeSync, constants, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AsteriskBanError } from '../core/errors.js';

export type Synchronous = 'normal' | 'full';

export interface OpenOptions {
  /**
   * `normal` (default): with WAL, a committed transaction survives a crash or
   * SIGKILL of the daemon (it is in the WAL file in the page cache); only a
   * power loss or kernel panic can drop the last commits. `full` adds an
   * fsync per commit for that case too.
   */
  synchronous?: Synchronous;
  /** Verify the whole file at open (PRAGMA quick_check); default true. */
  check?: boolean;
}

/**
 * Opens (creating if needed) the state database for exclusive use.
 *
 * The lock is SQLite's own: locking_mode = EXCLUSIVE keeps the write lock
 * for the life of the connection, so a second daemon gets SQLITE_BUSY at
 * once, and the kernel drops the lock when a crashed process dies — no stale
 * lock file to clean up after SIGKILL.
 */
export function openDatabase(path: string, opts: OpenOptions = {}): Database.Database {
  const memory = path === ':memory:';
  if (!memory) prepareFile(path);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
    if (!memory && mode.toLowerCase() !== 'wal') {
      throw new AsteriskBanError('E_STORE', `${path}: cannot switch the state database to WAL mode (got ${mode})`);
    }
    db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    // Takes the exclusive lock now and proves the file is writable.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    if (opts.check ?? true) {
      const result = db.pragma('quick_check', { simple: true }) as string;
      if (result !== 'ok') throw new AsteriskBanError('E_STORE', `${path}: state database is corrupt (${String(result).slice(0, 200)})`, { hint: HINT_CORRUPT });
    }
    return db;
  } catch (err) {
    try {
      db?.close();
    } catch {
      /* the original error matters, not the close */
    }
    throw storeError(err, path);
  }
}

const HINT_CORRUPT = 'move the file aside to start with an empty state (active bans will be forgotten), or restore it from a backup';

function prepareFile(path: string): void {
  try {
    // Only a directory we create gets 0700; an existing one (/var/lib) is the admin's.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw storeError(err, path);
  }
  try {
    // Ban records reveal who attacks us and from where: owner-only from the first byte.
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storeError(err, path);
  }
  try {
    // SQLite would open a write-protected file read-only and fail later with a
    // vague "disk I/O error" when creating the WAL; say what is wrong up front.
    accessSync(path, constants.R_OK | constants.W_OK);
    accessSync(dirname(path), constants.W_OK);
  } catch (err) {
    throw storeError(err, path);
  }
}

/** Maps SQLite and file-system errors to E_STORE / E_STORE_LOCKED naming the file. */
export function storeError(err: unknown, path: string): AsteriskBanError {
  if (err instanceof AsteriskBanError) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const message = err instanceof Error ? err.message : String(err);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new AsteriskBanError('E_STORE_LOCKED', `${path}: state database is in use by another process (is another asterisk-ban running?)`, {
      hint: 'stop the other daemon, or give this one its own dbfile',
      cause: err,
    });
  }
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT')) {
    return new AsteriskBanError('E_STORE', `${path}: state database is corrupt (${message})`, { hint: HINT_CORRUPT, cause: err });
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
    return new AsteriskBanError('E_STORE', `${path}: state database cannot be opened for writing (${message})`, {
      hint: 'the daemon refuses to run without a writable state file, since bans would be lost; check the owner, mode and mount of the file and its directory',
      cause: err,
    });
  }
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') {
    return new AsteriskBanError('E_STORE', `${path}: no space left for the state database (${message})`, { cause: err });
  }
  return new AsteriskBanError('E_STORE', `${path}: state database error (${message})`, { cause: err });
}
