import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync, chownSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/store.js';
import { migrate, MIGRATIONS, SCHEMA_VERSION } from '../../src/store/schema.js';
import { isAsteriskBanError } from '../../src/core/errors.js';
import type { Ban, Failure } from '../../src/core/types.js';
import { repoRoot } from '../helpers/paths.js';
import { NOBODY, cannotRunAsNobody } from '../helpers/as-nobody.js';

const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'asb-store-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const tmpDb = (): string => join(base, `d${n++}`, 'state.sqlite3');

function ban(ip: string, over: Partial<Ban> = {}): Ban {
  return { jail: 'asterisk', ip, family: ip.includes(':') ? 6 : 4, start: 1_000_000, end: 1_600_000, count: 1, source: 'ami', reason: 'InvalidPassword', failures: [], ...over };
}

const isStore = (code: 'E_STORE' | 'E_STORE_LOCKED') => (e: unknown) => isAsteriskBanError(e, code);

async function openInChild(path: string, asUid?: number): Promise<{ ok: boolean; code?: string; message?: string; bans?: number }> {
  const opts = asUid === undefined ? {} : { uid: asUid, gid: asUid };
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/store/open-child.ts'), path], { cwd: repoRoot, ...opts });
  return JSON.parse(stdout.trim()) as { ok: boolean; code?: string; message?: string };
}

test('creates the directory 0700 and the file 0600, at the current schema version', () => {
  const path = tmpDb();
  const store = Store.open(path);
  store.close();
  assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const db = new Database(path);
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  db.close();
});

test('bans round-trip, upsert replaces, delete removes, applied is recorded per action', () => {
  const store = Store.open(':memory:');
  store.saveBans([ban('192.0.2.1'), ban('2001:db8::1', { end: null, jail: 'other' })]);
  store.saveBans([ban('192.0.2.1', { count: 2, end: 2_000_000 })]);
  store.markApplied([{ jail: 'asterisk', ip: '192.0.2.1' }], 'nft[x]');
  store.markApplied([{ jail: 'asterisk', ip: '192.0.2.1' }], 'nft[x]');
  store.markApplied([{ jail: 'asterisk', ip: '192.0.2.1' }], 'mail');
  const all = store.loadBans();
  assert.equal(all.length, 2);
  const v4 = all.find((b) => b.ip === '192.0.2.1')!;
  assert.deepEqual([v4.count, v4.end, v4.applied], [2, 2_000_000, ['nft[x]', 'mail']]);
  const v6 = store.loadBans({ jail: 'other' });
  assert.deepEqual([v6.length, v6[0]!.end, v6[0]!.family], [1, null, 6]);
  store.deleteBans([{ jail: 'asterisk', ip: '192.0.2.1' }]);
  assert.equal(store.countBans(), 1);
  store.close();
});

test('a restore is recorded as applied by one row per jail and action, covering the bans started by then only', () => {
  const path = tmpDb();
  const store = Store.open(path);
  store.saveBans([ban('192.0.2.1', { start: 1000 }), ban('192.0.2.2', { start: 2000 }), ban('192.0.2.3', { start: 2000, jail: 'other' })]);
  store.markApplied([{ jail: 'asterisk', ip: '192.0.2.1' }], 'mail');
  store.markJailApplied('asterisk', 'nft[x]', 2000);
  store.markJailApplied('asterisk', 'nft[x]', 1500); // an older restore's mark never narrows a newer one
  store.saveBans([ban('192.0.2.4', { start: 3000 })]);
  const applied = (jail?: string): Record<string, string[]> => Object.fromEntries(store.loadBans(jail === undefined ? {} : { jail }).map((b) => [b.ip, b.applied]));
  assert.deepEqual(applied(), { '192.0.2.1': ['mail', 'nft[x]'], '192.0.2.2': ['nft[x]'], '192.0.2.3': [], '192.0.2.4': [] });
  assert.deepEqual(applied('asterisk')['192.0.2.2'], ['nft[x]']);
  // The ban rows themselves were not rewritten.
  store.close();
  const db = new Database(path);
  assert.deepEqual(db.prepare('SELECT ip, applied FROM bans ORDER BY ip').raw(true).all(), [['192.0.2.1', '["mail"]'], ['192.0.2.2', '[]'], ['192.0.2.4', '[]'], ['192.0.2.3', '[]']].sort((a, b) => a[0]!.localeCompare(b[0]!)));
  db.close();
});

test('failures are persisted bounded: last 20 kept, long attacker text clipped', () => {
  const store = Store.open(':memory:');
  const failures: Failure[] = Array.from({ length: 50 }, (_, i) => ({ ip: '192.0.2.9', family: 4, time: i, source: 'log', reason: 'r', raw: 'x'.repeat(10_000) }));
  store.saveBans([ban('192.0.2.9', { failures })]);
  const [loaded] = store.loadBans({ failures: true });
  assert.equal(loaded!.failures.length, 20);
  assert.equal(loaded!.failures[0]!.time, 30);
  assert.equal(loaded!.failures[0]!.raw!.length, 512);
  assert.deepEqual(store.loadBans()[0]!.failures, [], 'failures are not decoded unless asked');
  store.close();
});

test('failures are stored without the fields they share with their ban, and read back whole (older rows too)', () => {
  const path = tmpDb();
  let store = Store.open(path);
  const failures: Failure[] = [
    { ip: '192.0.2.9', family: 4, time: 1, source: 'ami', reason: 'InvalidPassword' },
    { ip: '192.0.2.9', family: 4, time: 2, source: 'log', reason: 'sip_register', service: 'SIP', account: '"100"', raw: 'line' },
  ];
  store.saveBans([ban('192.0.2.9', { failures })]);
  store.close();
  const db = new Database(path);
  const stored = db.prepare('SELECT failures FROM bans').pluck().get() as string;
  assert.equal(stored, '[{"time":1},{"time":2,"source":"log","reason":"sip_register","service":"SIP","account":"\\"100\\"","raw":"line"}]');
  // A row written before: every field spelled out.
  db.prepare("UPDATE bans SET failures = ?").run(JSON.stringify(failures));
  db.close();
  for (const round of [0, 1]) {
    store = Store.open(path);
    assert.deepEqual(store.loadBans({ failures: true })[0]!.failures, failures, `round ${round}`);
    // The second round reads back what a save of the loaded ban writes.
    if (round === 0) store.saveBans(store.loadBans({ failures: true }));
    store.close();
  }
});

test('history counts previous bans per jail or across jails, and dbpurgeage purges', () => {
  const store = Store.open(':memory:');
  store.saveBans([ban('192.0.2.5', { start: 1000 })]);
  store.saveBans([ban('192.0.2.5', { start: 5000 })]);
  store.saveBans([ban('192.0.2.5', { start: 6000, jail: 'other' })]);
  store.saveBans([ban('192.0.2.6', { start: 6000 })], { history: false });
  assert.equal(store.previousBans('192.0.2.5', 'asterisk', 0), 2);
  assert.equal(store.previousBans('192.0.2.5', null, 0), 3);
  assert.equal(store.previousBans('192.0.2.5', 'asterisk', 2000), 1);
  assert.equal(store.previousBans('192.0.2.6', null, 0), 0);
  assert.equal(store.purgeHistory(5500), 2);
  assert.equal(store.previousBans('192.0.2.5', null, 0), 1);
  store.close();
});

test('10,000 bans saved in one transaction and read back after reopening', () => {
  const path = tmpDb();
  const store = Store.open(path);
  const bans = Array.from({ length: 10_000 }, (_, i) => ban(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
  store.saveBans(bans);
  store.close();
  const again = Store.open(path);
  const loaded = again.loadBans();
  assert.equal(loaded.length, 10_000);
  assert.equal(new Set(loaded.map((b) => b.ip)).size, 10_000);
  again.close();
});

test('log positions round-trip and survive reopening', () => {
  const path = tmpDb();
  const store = Store.open(path);
  assert.equal(store.positions.get('/var/log/asterisk/messages'), undefined);
  store.positions.set('/var/log/asterisk/messages', { inode: 1234, offset: 10, firstLineHash: 'aa' });
  store.positions.set('/var/log/asterisk/messages', { inode: 1234, offset: 99, firstLineHash: 'aa' });
  store.positions.set('/var/log/asterisk/security', { inode: 7, offset: 0, firstLineHash: '' });
  store.close();
  const again = Store.open(path);
  assert.deepEqual(again.positions.get('/var/log/asterisk/messages'), { inode: 1234, offset: 99, firstLineHash: 'aa' });
  assert.deepEqual(again.positions.get('/var/log/asterisk/security'), { inode: 7, offset: 0, firstLineHash: '' });
  again.close();
});

test('migrates a version-0 file, and a later migration keeps existing rows', () => {
  const path = tmpDb();
  Store.open(path).close(); // creates the directory
  rmSync(path);
  const raw = new Database(path);
  raw.exec('CREATE TABLE unrelated (x)');
  raw.close();
  const store = Store.open(path);
  store.saveBans([ban('192.0.2.77')]);
  store.close();
  const db = new Database(path);
  const next = [...MIGRATIONS, 'ALTER TABLE bans ADD COLUMN note TEXT'];
  assert.equal(migrate(db, path, next), SCHEMA_VERSION);
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
  assert.deepEqual(db.prepare('SELECT ip, note FROM bans').all(), [{ ip: '192.0.2.77', note: null }]);
  db.close();
});

test('a version-3 file keeps its bans and loses the index on their end that no query used', () => {
  const path = tmpDb();
  Store.open(path).close();
  rmSync(path);
  const db = new Database(path);
  migrate(db, path, MIGRATIONS.slice(0, 3));
  db.prepare("INSERT INTO bans (jail, ip, family, start, \"end\", count, source, reason) VALUES ('asterisk', '192.0.2.78', 4, 1, 2, 1, 'ami', 'x')").run();
  const indexes = (): string[] => db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bans'").pluck().all() as string[];
  assert.ok(indexes().includes('bans_end'));
  db.close();
  const store = Store.open(path);
  assert.deepEqual(store.loadBans().map((b) => b.ip), ['192.0.2.78']);
  store.close();
  const after4 = new Database(path);
  assert.equal(after4.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(after4.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'bans_end'").all(), []);
  after4.close();
});

test('a file from a newer version is refused with E_STORE', () => {
  const path = tmpDb();
  Store.open(path).close();
  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
  db.close();
  assert.throws(() => Store.open(path), (e) => isStore('E_STORE')(e) && /newer|version/.test((e as Error).message) && (e as Error).message.includes(path));
});

test('a corrupt file is E_STORE naming the path', () => {
  const garbage = tmpDb();
  Store.open(garbage).close();
  writeFileSync(garbage, Buffer.alloc(16_384, 0x5a));
  assert.throws(() => Store.open(garbage), (e) => isStore('E_STORE')(e) && (e as Error).message.includes(garbage) && /corrupt/.test((e as Error).message));

  // A valid header with damaged pages behind it: found by quick_check, not at the first query.
  const damaged = tmpDb();
  const s = Store.open(damaged);
  s.saveBans(Array.from({ length: 2000 }, (_, i) => ban(`10.9.${i >> 8}.${i & 255}`, { reason: 'x'.repeat(200) })));
  s.close();
  const bytes = readFileSync(damaged);
  for (let i = 8192; i < bytes.length; i += 4096) bytes.fill(0xff, i + 100, i + 400);
  writeFileSync(damaged, bytes);
  assert.throws(() => Store.open(damaged), isStore('E_STORE'));
});

// As root the check needs a child running as nobody (root ignores mode bits).
const readOnlySkip = process.getuid?.() === 0 ? cannotRunAsNobody() : false;

test('a read-only file is E_STORE: the daemon refuses to start rather than forget bans', { skip: readOnlySkip }, async () => {
  const path = tmpDb();
  Store.open(path).close();
  let result;
  if (process.getuid?.() === 0) {
    // root ignores mode bits: open it as nobody, who may read but not write.
    chmodSync(join(path, '..'), 0o755);
    chmodSync(path, 0o644);
    chownSync(path, 0, 0);
    result = await openInChild(path, NOBODY);
  } else {
    chmodSync(path, 0o400);
    result = await openInChild(path);
  }
  assert.equal(result.ok, false, JSON.stringify(result));
  assert.equal(result.code, 'E_STORE');
  assert.ok(result.message!.includes(path));
  assert.match(result.message!, /writing/);
});

test('a second daemon on the same file gets E_STORE_LOCKED, in-process and from another process', async () => {
  const path = tmpDb();
  const first = Store.open(path);
  assert.throws(() => Store.open(path), isStore('E_STORE_LOCKED'));
  const child = await openInChild(path);
  assert.deepEqual([child.ok, child.code], [false, 'E_STORE_LOCKED']);
  first.close();
  const later = await openInChild(path);
  assert.equal(later.ok, true);
});
