import type { Failure } from '../../../src/core/types.js';
import { ManualClock, type Clock } from '../../../src/core/clock.js';
import { DEFAULT_AMI } from '../../../src/settings/defaults.js';
import type { AmiSettings } from '../../../src/settings/types.js';
import { FrameSplitter } from '../../../src/sources/ami/framing.js';
import { EventInterpreter } from '../../../src/sources/ami/interpreter.js';
import { BANNER } from '../../helpers/fake-ami-server.js';

import { memoryLogger } from '../../helpers/memory-logger.js';

export { memoryLogger };

export interface Collected {
  failures: Failure[];
  successes: string[];
  interpreter: EventInterpreter;
  lines: string[];
}

/** Feeds raw AMI text (banner optional) through our splitter and interpreter. */
export function interpret(text: string, ami: Partial<AmiSettings> = {}, clock: Clock = new ManualClock()): Collected {
  const failures: Failure[] = [];
  const successes: string[] = [];
  const { logger, lines } = memoryLogger();
  const interpreter = new EventInterpreter('test', { ...DEFAULT_AMI, ...ami }, { failure: (f) => failures.push(f), success: (ip, clears) => void (clears && successes.push(ip)) }, clock, logger);
  const splitter = new FrameSplitter({
    banner: () => undefined,
    frame: (t) => {
      if (!t.startsWith('Response:')) interpreter.text(t);
    },
    oversized: () => undefined,
  });
  splitter.push(text.startsWith(BANNER) ? text : `${BANNER}\r\n${text}`);
  interpreter.endOfRead();
  return { failures, successes, interpreter, lines };
}

export function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

/** Polls until `cond` holds; fails the test (rather than hanging) after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const ALL_FAILURE_EVENTS = [...DEFAULT_AMI.events, 'RequestNotAllowed', 'RequestBadFormat', 'SessionLimit'];
