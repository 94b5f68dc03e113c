import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { compileFilter } from '../../src/filter/index.js';
import { loadFilterFile as readFilterFile } from '../../src/settings/filter-file.js';
import { loadFilterDefinition } from '../../src/filter/load.js';

const FILE = join(repoRoot, 'config', 'filter.d', 'asterisk.conf');

// The daemon reads filters through src/settings; test-filter through
// src/filter/load.ts, which defers to it. Both must compile the shipped
// filter to the same regexes, in both modes.
for (const params of [{}, { mode: 'gaps' }] as Record<string, string>[]) {
  test(`settings loader and the filter reader agree on asterisk.conf ${JSON.stringify(params)}`, async () => {
    const ours = compileFilter(readFilterFile(FILE, params));
    const theirs = compileFilter(await loadFilterDefinition(FILE, params));
    assert.deepEqual(theirs.failregex, ours.failregex);
    assert.deepEqual(theirs.openregex, ours.openregex);
    assert.ok(ours.failregex.length >= 5);
    assert.equal(ours.openregex?.length, 15);
  });
}
