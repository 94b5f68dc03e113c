import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, openSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { LogFollower, type FollowerOptions } from '../../../src/sources/logfile/follower.js';
import { MemoryPositionStore } from '../../../src/sources/logfile/positions.js';
import { asteriskLineTime } from '../../../src/sources/logfile/readback.js';
import { localStamp, sleep, tempDir, waitFor } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());
let n = 0;
const followers: LogFollower[] = [];
after(async () => {
  for (const f of followers) await f.stop();
});

function follow(path: string, extra: Partial<FollowerOptions> = {}) {
  const lines: string[] = [];
  const backlog: string[] = [];
  let idles = 0;
  const f = new LogFollower({
    path,
    clock: systemClock,
    logger: silentLogger(),
    pollMs: 50,
    onLines: (batch, isBacklog) => (isBacklog ? backlog : lines).push(...batch),
    onIdle: () => idles++,
    ...extra,
  });
  followers.push(f);
  return { f, lines, backlog, idles: () => idles };
}

function file(content = ''): string {
  const p = join(tmp.dir, `f${++n}.log`);
  writeFileSync(p, content);
  return p;
}

describe('LogFollower', () => {
  it('starts at the end and delivers appended lines, then reports idle', async () => {
    const p = file('old 1\nold 2\n');
    const t = follow(p);
    await t.f.start();
    assert.equal(t.f.state, 'following');
    appendFileSync(p, 'new 1\nnew 2\n');
    await waitFor(() => t.lines.length >= 2, 'appended lines');
    assert.deepEqual(t.lines, ['new 1', 'new 2']);
    await waitFor(() => t.idles() > 0, 'idle');
  });

  it('makes progress by polling alone when watching is off', async () => {
    const p = file('');
    const t = follow(p, { watch: false });
    await t.f.start();
    appendFileSync(p, 'a\r\nb\n\n');
    await waitFor(() => t.lines.length >= 2, 'polled lines');
    assert.deepEqual(t.lines, ['a', 'b']);
  });

  it('holds a partial line until its newline arrives', async () => {
    const p = file('');
    const t = follow(p);
    await t.f.start();
    appendFileSync(p, 'first\nhalf of');
    await waitFor(() => t.lines.length >= 1, 'first line');
    await t.f.check();
    assert.deepEqual(t.lines, ['first']);
    assert.equal(t.f.position()!.offset, 'first\n'.length);
    appendFileSync(p, ' a line\n');
    await waitFor(() => t.lines.length >= 2, 'completed line');
    assert.deepEqual(t.lines, ['first', 'half of a line']);
  });

  it('does not deliver the tail of a line it started in the middle of', async () => {
    const p = file('complete\nwritten half');
    const t = follow(p);
    await t.f.start();
    appendFileSync(p, ' and done\nnext\n');
    await waitFor(() => t.lines.length >= 1, 'next line');
    assert.deepEqual(t.lines, ['next']);
  });

  it('resumes at a saved position: nothing lost, nothing read twice', async () => {
    const p = file('before start\n');
    const store = new MemoryPositionStore();
    const a = follow(p, { positions: store });
    await a.f.start();
    appendFileSync(p, 'one\ntwo\n');
    await waitFor(() => a.lines.length >= 2, 'first run');
    await a.f.stop();
    appendFileSync(p, 'three\nfour\n');
    const b = follow(p, { positions: store });
    await b.f.start();
    appendFileSync(p, 'five\n');
    await waitFor(() => b.lines.length >= 3, 'second run');
    assert.deepEqual([...a.lines, ...b.lines], ['one', 'two', 'three', 'four', 'five']);
  });

  it('saves its position at most every saveEveryMs, and always on stop', async () => {
    const p = file('');
    const saved: number[] = [];
    const store = { get: () => undefined, set: (_p: string, pos: { offset: number }) => void saved.push(pos.offset) };
    const t = follow(p, { positions: store, saveEveryMs: 3_600_000 });
    await t.f.start();
    const afterStart = saved.length;
    for (let i = 0; i < 5; i++) {
      appendFileSync(p, `line ${i}\n`);
      await waitFor(() => t.lines.length > i, `line ${i}`);
    }
    assert.equal(saved.length, afterStart, 'no save while within saveEveryMs');
    await t.f.stop();
    assert.equal(saved.at(-1), 5 * 'line 0\n'.length);
  });

  it('starts a saved file from 0 when it was truncated while stopped', async () => {
    const p = file('');
    const store = new MemoryPositionStore();
    const a = follow(p, { positions: store });
    await a.f.start();
    appendFileSync(p, 'a long first line before the truncation\nsecond\n');
    await waitFor(() => a.lines.length >= 2, 'first run');
    await a.f.stop();
    writeFileSync(p, 'after\n');
    const b = follow(p, { positions: store });
    await b.f.start();
    assert.deepEqual(b.lines, ['after']);
  });

  it('after a restart, does not re-read what it read of a renamed file during the grace time', async () => {
    const p = file('');
    const store = new MemoryPositionStore();
    const a = follow(p, { positions: store, rotateGraceMs: 60_000 });
    await a.f.start();
    const writer = openSync(p, 'a');
    writeSync(writer, 'before rename\n');
    await waitFor(() => a.lines.length >= 1, 'first line');
    renameSync(p, `${p}.1`);
    await waitFor(() => a.f.state === 'waiting', 'name gone');
    writeSync(writer, 'into the renamed file\n');
    closeSync(writer);
    await waitFor(() => a.lines.length >= 2, 'line of the renamed file');
    await a.f.stop();
    writeFileSync(p, 'new file\n');
    const b = follow(p, { positions: store });
    await b.f.start();
    assert.deepEqual([...a.lines, ...b.lines], ['before rename', 'into the renamed file', 'new file']);
  });

  it('reads the rest of a file rotated while stopped, then the new file from the start', async () => {
    const p = file('x\n');
    const store = new MemoryPositionStore();
    const a = follow(p, { positions: store });
    await a.f.start();
    appendFileSync(p, 'one\n');
    await waitFor(() => a.lines.length >= 1, 'first run');
    await a.f.stop();
    appendFileSync(p, 'two\n');
    renameSync(p, `${p}.1`);
    writeFileSync(p, 'three\n');
    const b = follow(p, { positions: store });
    await b.f.start();
    assert.deepEqual([...a.lines, ...b.lines], ['one', 'two', 'three']);
  });

  it('survives rename-and-create rotation: old file read to its end (late writes too), new file from 0, each line once', async () => {
    const p = file('');
    const t = follow(p, { rotateGraceMs: 300 });
    await t.f.start();
    const writer = openSync(p, 'a');
    for (let i = 0; i < 500; i++) writeSync(writer, `old ${i}\n`);
    renameSync(p, `${p}.1`);
    // The writer still holds the old file: these lines land after the rename.
    for (let i = 500; i < 600; i++) writeSync(writer, `old ${i}\n`);
    writeFileSync(p, '');
    for (let i = 0; i < 300; i++) appendFileSync(p, `new ${i}\n`);
    await waitFor(() => t.lines.includes('new 299'), 'lines of the new file');
    // Asterisk writes into the old file until its logger reload, after the new file exists.
    for (let i = 600; i < 650; i++) writeSync(writer, `old ${i}\n`);
    writeSync(writer, 'old partial tail');
    closeSync(writer);
    await waitFor(() => t.lines.includes('old partial tail'), 'old tail after the grace time');
    await t.f.check(true);
    const old = Array.from({ length: 650 }, (_, i) => `old ${i}`).concat('old partial tail');
    const fresh = Array.from({ length: 300 }, (_, i) => `new ${i}`);
    assert.deepEqual(t.lines.filter((l) => l.startsWith('old')), old, 'old file: every line once, in order');
    assert.deepEqual(t.lines.filter((l) => l.startsWith('new')), fresh, 'new file: every line once, in order');
    assert.equal(t.lines.length, old.length + fresh.length);
    assert.equal(t.f.inode, statSync(p).ino);
  });

  it('loses nothing over many rotations under a steady writer', async () => {
    const p = file('');
    const t = follow(p, { rotateGraceMs: 200 });
    await t.f.start();
    let fd = openSync(p, 'a');
    let k = 0;
    for (let r = 0; r < 20; r++) {
      for (let i = 0; i < 200; i++) writeSync(fd, `line ${k++}\n`);
      renameSync(p, `${p}.${r}`);
      writeFileSync(p, '');
      // Until its logger reload, the writer keeps writing into the renamed file.
      for (let i = 0; i < 5; i++) writeSync(fd, `line ${k++}\n`);
      const next = openSync(p, 'a');
      for (let i = 0; i < 20; i++) writeSync(next, `line ${k++}\n`);
      for (let i = 0; i < 5; i++) writeSync(fd, `line ${k++}\n`);
      closeSync(fd);
      fd = next;
      // Rotations hours apart, not faster than one look: a name-based follower cannot see a file it never saw named.
      const ino = statSync(p).ino;
      await waitFor(() => t.f.inode === ino, `rotation ${r} seen`);
    }
    closeSync(fd);
    await waitFor(() => t.lines.length >= k, `all ${k} lines`);
    await sleep(300);
    await t.f.check(true);
    const seen = t.lines.map((l) => Number(l.slice(5))).sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({ length: k }, (_, i) => i));
  });

  it('restarts from 0 after copytruncate', async () => {
    const p = file('');
    const t = follow(p);
    await t.f.start();
    appendFileSync(p, 'before truncate 1\nbefore truncate 2\n');
    await waitFor(() => t.lines.length >= 2, 'pre-truncate lines');
    truncateSync(p, 0);
    appendFileSync(p, 'after\n');
    await waitFor(() => t.lines.length >= 3, 'post-truncate line');
    assert.deepEqual(t.lines, ['before truncate 1', 'before truncate 2', 'after']);
  });

  it('notices a file truncated and refilled beyond the old offset by its first line', async () => {
    const p = file('');
    const t = follow(p, { watch: false, pollMs: 100_000 });
    await t.f.start();
    appendFileSync(p, 'short\n');
    await t.f.check();
    assert.deepEqual(t.lines, ['short']);
    writeFileSync(p, 'a different and much longer first line\nsecond\n');
    await t.f.check(true);
    assert.deepEqual(t.lines, ['short', 'a different and much longer first line', 'second']);
  });

  it('waits for a missing file and reads it from the start once created', async () => {
    const p = join(tmp.dir, `missing${++n}.log`);
    const t = follow(p);
    await t.f.start();
    assert.equal(t.f.state, 'waiting');
    writeFileSync(p, 'born 1\nborn 2\n');
    await waitFor(() => t.lines.length >= 2, 'lines of the created file');
    assert.deepEqual(t.lines, ['born 1', 'born 2']);
    assert.equal(t.f.state, 'following');
  });

  it('follows a file deleted and re-created', async () => {
    const p = file('');
    const t = follow(p);
    await t.f.start();
    appendFileSync(p, 'first life\n');
    await waitFor(() => t.lines.length >= 1, 'first line');
    unlinkSync(p);
    await waitFor(() => t.f.state === 'waiting', 'waiting state');
    writeFileSync(p, 'second life\n');
    await waitFor(() => t.lines.length >= 2, 'line of the re-created file');
    assert.deepEqual(t.lines, ['first life', 'second life']);
  });

  it('cuts a 1 MB line to maxLineBytes, drops its rest, and reads the next lines', async () => {
    const p = file('');
    const t = follow(p, { maxLineBytes: 65536, chunkBytes: 16384 });
    await t.f.start();
    appendFileSync(p, `${'A'.repeat(1 << 20)}failed for '192.0.2.1'\nafter\n`);
    await waitFor(() => t.lines.length >= 2, 'lines after the long one');
    assert.equal(t.lines.length, 2);
    assert.equal(t.lines[0]!.length, 65536);
    assert.ok(/^A+$/.test(t.lines[0]!));
    assert.equal(t.lines[1], 'after');
  });

  it('decodes invalid UTF-8 and binary garbage with replacement and keeps going', async () => {
    const p = file('');
    const t = follow(p);
    await t.f.start();
    appendFileSync(p, Buffer.concat([Buffer.from('bad '), Buffer.from([0xff, 0xfe, 0x00, 0xc3]), Buffer.from('\nok\n')]));
    await waitFor(() => t.lines.length >= 2, 'lines after garbage');
    assert.equal(t.lines[0], 'bad \ufffd\ufffd\u0000\ufffd');
    assert.equal(t.lines[1], 'ok');
  });

  it('reads back lines dated within readback.ms on a fresh start, flagged as backlog', async () => {
    const now = Date.now();
    const old = Array.from({ length: 2000 }, (_, i) => `[${localStamp(now - 3_600_000)}] NOTICE old ${i}`);
    const recent = [`[${localStamp(now - 30_000)}] NOTICE recent 1`, 'undated continuation', `[${localStamp(now - 1_000)}] NOTICE recent 2`];
    const p = file(`${[...old, ...recent].join('\n')}\n`);
    const t = follow(p, { readback: { ms: 60_000, lineTime: asteriskLineTime } });
    await t.f.start();
    assert.deepEqual(t.backlog, recent);
    appendFileSync(p, 'live\n');
    await waitFor(() => t.lines.length >= 1, 'live line');
    assert.deepEqual(t.lines, ['live']);
  });
});
