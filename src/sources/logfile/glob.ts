import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';

/**
 * `logpath` may hold `*` and `?` (fail2ban allows globs there). Node 20 has no
 * fs.glob, and a glob library would be a dependency for twenty lines, so this
 * expands just those two wildcards, one path component at a time.
 */
export function hasGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

function componentRegex(component: string): RegExp {
  let re = '^';
  for (const ch of component) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

/** Regular files matching the pattern, sorted; at most `limit` (a stray `/*` must not open the whole disk). */
export async function expandGlob(pattern: string, limit = 256): Promise<string[]> {
  const abs = isAbsolute(pattern) ? pattern : resolve(pattern);
  const parts = abs.split(sep).filter((p) => p !== '');
  let dirs: string[] = [sep];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    const next: string[] = [];
    for (const dir of dirs) {
      if (!hasGlob(part)) {
        next.push(join(dir, part));
        continue;
      }
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      const re = componentRegex(part);
      // Like a shell, a leading wildcard does not match hidden names.
      for (const name of names.sort()) {
        if (name.startsWith('.') && !part.startsWith('.')) continue;
        if (re.test(name)) next.push(join(dir, name));
      }
    }
    dirs = [];
    for (const p of next) {
      try {
        const st = await stat(p);
        if (last ? st.isFile() : st.isDirectory()) dirs.push(p);
      } catch {
        // Not there (yet).
      }
      if (dirs.length >= limit) break;
    }
  }
  return dirs;
}
