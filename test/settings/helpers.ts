import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigErrors, type AsteriskBanError } from '../../src/core/errors.js';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A throw-away configuration directory holding `files` (path -> content). */
export function configDir(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ab-settings-'));
  made.push(dir);
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return dir;
}

/** A filter good enough for jails that only need one to exist. */
export const STUB_FILTER = `[Definition]\nfailregex = ^bad login from <HOST>$\n`;

/** Runs fn, expects ConfigErrors, returns the individual errors. */
export function configErrors(fn: () => unknown): AsteriskBanError[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, `expected ConfigErrors, got ${String(err)}`);
    assert.equal(err.code, 'E_CONFIG');
    return err.errors;
  }
  assert.fail('expected configuration errors, none thrown');
}

/** The one error located at `file:line` (file matched by suffix). */
export function errorAt(errors: AsteriskBanError[], file: string, line: number): AsteriskBanError {
  const hit = errors.filter((e) => e.location?.file.endsWith(file) && e.location.line === line);
  assert.equal(hit.length, 1, `expected one error at ${file}:${line}, got:\n${errors.map((e) => e.describe()).join('\n')}`);
  return hit[0]!;
}
