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
    reasons: words.map((w) => `${name} ${w}`),
    matcher(hooks: MatcherHooks): LineMatcher & { pushLines?(text: string): void } {
      let lineNo = 0;
      const screen = new RegExp(words.join('|'));
      const matcher: LineMatcher & { pushLines?(text: string): void } = {
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
      // Like the engine's batch path: lines without any literal are only counted.
      if (screened) {
        matcher.pushLines = (text: string): void => {
          for (const line of text.split('\n')) {
            if (screen.test(line)) matcher.push(line);
            else lineNo++;
          }
        };
      }
      return matcher;
    },
  };
}
