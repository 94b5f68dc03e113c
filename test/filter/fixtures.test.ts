import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, repoRoot } from '../helpers/paths.js';
import { compileFilter } from '../../src/filter/index.js';
import type { LineOutcome, FilterMatch } from '../../src/filter/index.js';
import { loadFilterFile as readFilterFile } from '../../src/settings/filter-file.js';

/**
 * Filter tests are data: each log line in test/fixtures/filter/*.log is
 * preceded by `# expect: {...}`: {"host": "..."} (optionally "time"),
 * null (not counted), {"injected": true}, {"ignored": true},
 * {"suspect": "address"} or {"ambiguous": true}. A blank line means the
 * follower went idle (flush, the end of a read). `# filter: name[k=v]` on
 * the first line picks another filter or mode.
 */
const NOW = Date.UTC(2026, 10, 27, 13, 0, 0);

interface Expect { host?: string; time?: string | null; injected?: boolean; ignored?: boolean; suspect?: string; ambiguous?: boolean }
interface Case { fixtureLine: number; line: string; expect: Expect | null }

function parseFixture(text: string): { filter: string; params: Record<string, string>; groups: Case[][] } {
  let filter = 'asterisk';
  const params: Record<string, string> = {};
  const groups: Case[][] = [[]];
  let pending: { expect: Expect | null; at: number } | undefined;
  // Split on '\n' only: a bare '\r' inside a line is part of the test data.
  text.replace(/\n$/, '').split('\n').forEach((line, i) => {
    const directive = /^# filter: ([\w.-]+)(?:\[(.*)\])?$/.exec(line);
    if (directive) {
      filter = directive[1]!;
      for (const kv of (directive[2] ?? '').split(',').filter(Boolean)) params[kv.split('=')[0]!.trim()] = kv.split('=')[1]!.trim();
      return;
    }
    const exp = /^# expect: (.*)$/.exec(line);
    if (exp) {
      pending = { expect: JSON.parse(exp[1]!) as Expect | null, at: i + 1 };
      return;
    }
    if (line.startsWith('#')) return;
    if (line === '') {
      if (pending) throw new Error(`line ${pending.at}: expectation followed by a blank line`);
      groups.push([]);
      return;
    }
    if (!pending) throw new Error(`line ${i + 1}: log line without "# expect:" above it`);
    groups[groups.length - 1]!.push({ fixtureLine: i + 1, line, expect: pending.expect });
    pending = undefined;
  });
  return { filter, params, groups };
}

const dir = fixture('filter');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) {
  const parsed = parseFixture(readFileSync(join(dir, file), 'utf8'));
  const def = readFilterFile(join(repoRoot, 'config', 'filter.d', `${parsed.filter}.conf`), parsed.params);
  const filter = compileFilter(def, { timezone: 'UTC', now: () => NOW });
  const outcomes = new Map<Case, { outcome: LineOutcome; m?: FilterMatch }>();
  // Blank lines are the follower's idle: the end of a read, as in the daemon.
  const matcher = filter.matcher({
    onMatch: () => {},
    onLine: (no, _line, outcome, m) => outcomes.set(flat[no - 1]!, { outcome, m }),
  }, { reads: true });
  const flat: Case[] = [];
  for (const group of parsed.groups) {
    for (const c of group) {
      flat.push(c);
      matcher.push(c.line);
    }
    matcher.flush();
  }
  for (const c of flat) {
    test(`${file}:${c.fixtureLine} ${JSON.stringify(c.expect)}`, () => {
      const got = outcomes.get(c);
      assert.ok(got, 'the matcher reported no outcome for this line');
      const e = c.expect;
      if (e === null) {
        assert.ok(got.outcome === 'missed' || got.outcome === 'ignored', `expected no match, got ${got.outcome} ${got.m?.ip ?? ''}`);
      } else if (e.injected) {
        assert.equal(got.outcome, 'injected');
      } else if (e.ignored) {
        assert.equal(got.outcome, 'ignored');
      } else if (e.ambiguous) {
        assert.equal(got.outcome, 'ambiguous');
      } else if (e.suspect !== undefined) {
        assert.equal(got.outcome, 'suspect');
        assert.equal(got.m!.ip, e.suspect);
      } else {
        assert.equal(got.outcome, 'matched', `expected ${e.host}, got ${got.outcome}`);
        assert.equal(got.m!.ip, e.host);
        if (e.time !== undefined) assert.equal(got.m!.time === null ? null : new Date(got.m!.time).toISOString(), e.time);
      }
    });
  }
}
