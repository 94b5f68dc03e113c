/**
 * Runs one nftables-allports action in the namespace this process was
 * started in (`ip netns exec NS node --import tsx action-in-netns.ts`), so
 * that its netlink socket reaches that namespace's nf_tables and never the
 * host's. Reads one JSON command per line on stdin, answers one JSON line:
 * {op: 'start'} | {op: 'ban' | 'unban', addrs, seconds?} | {op: 'metrics'} | {op: 'stop'}.
 */
import { createInterface } from 'node:readline';
import { createAction } from '../../src/actions/registry.js';
import type { Action } from '../../src/actions/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { metrics } from '../../src/control/metrics.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';
import { memoryLogger } from './memory-logger.js';
import { ban } from '../actions/firewall-suite.js';

const clock = new ManualClock(Date.now());
const { logger, lines } = memoryLogger();
let action: Action | null = null;

async function handle(cmd: { op: string; addrs?: string[]; seconds?: number | null; name?: string }): Promise<unknown> {
  switch (cmd.op) {
    case 'start':
      action = createAction({ name: 'nftables-allports', params: { name: cmd.name ?? 'NL', flushconntrack: 'no' }, file: 'jail.local', line: 1 },
        { jail: defaultJailSettings('asterisk'), logger, clock, env: {} });
      await action.start();
      return {};
    case 'ban':
      await action!.ban((cmd.addrs ?? []).map((a) => ban(a, clock, cmd.seconds === undefined ? 600 : cmd.seconds)), { restored: false });
      return {};
    case 'unban':
      await action!.unban((cmd.addrs ?? []).map((a) => ban(a, clock)));
      return {};
    case 'metrics': {
      const paths: Record<string, number> = {};
      for (const v of (await metrics.nftBatches.get()).values) paths[String(v.labels.path)] = v.value;
      return { paths, log: lines.join('') };
    }
    case 'stop':
      await action?.stop();
      return {};
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  try {
    process.stdout.write(`${JSON.stringify({ ok: true, ...(await handle(JSON.parse(line) as { op: string })) as object })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: (e as Error).message })}\n`);
  }
}
