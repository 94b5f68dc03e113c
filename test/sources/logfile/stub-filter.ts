import { parseAddress } from '../../../src/core/address.js';
import type { CompiledFilter, FilterMatch, LineMatcher, MatcherHooks } from '../../../src/filter/types.js';
import { asteriskLineTime } from '../../../src/sources/logfile/readback.js';

/**
 * A stand-in for compileFilter() in these tests: `[date] ... <word> for '<HOST>'`,
 * anchored at the end, one regex per word given. Matches at once (holds nothing back).
 */
export function stubFilter(words: string[] = ['failed'], name = 'stub', screened = false): CompiledFilter {
  const res = words.map((w) => new RegExp(`^(?:\\[[^\\]]{1,40}\\] )?[A-Z]+\\S* .{0,2000}? ${w} for '([0-9a-fA-F.:]{2,45})'$`));
  return {
    name,
    failregex: res.map((r) => r.source),
    ...(screened ? { screen: new RegExp(words.join('|')) } : {}),
    matcher(hooks: MatcherHooks): LineMatcher & { skip(lines: number, bytes: number): void } {
      let lineNo = 0;
      return {
        skip(lines: number): void {
          if (!screened) throw new Error('skip() called on a filter without a screen');
          lineNo += lines;
        },
        push(line: string): void {
          lineNo++;
          for (let i = 0; i < res.length; i++) {
            const m = res[i]!.exec(line);
            const addr = m ? parseAddress(m[1]!) : null;
            if (!addr) continue;
            const match: FilterMatch = { ip: addr.text, family: addr.family, time: asteriskLineTime(line), regex: i, line, lineNo };
            hooks.onMatch(match);
            hooks.onLine?.(lineNo, line, 'matched', match);
            return;
          }
          hooks.onLine?.(lineNo, line, 'missed');
        },
        flush(): void {},
      };
    },
  };
}
