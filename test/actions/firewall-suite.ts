import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestNet, ADDR, OTHER_PORT, PREFIX6, isRoot, haveTool, sleep } from '../helpers/netns.js';
import { createAction } from '../../src/actions/registry.js';
import { countingRunner, spawnRunner } from '../../src/actions/exec.js';
import type { Action } from '../../src/actions/types.js';
import type { Ban } from '../../src/core/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { defaultJailSettings } from '../../src/settings/defaults.js';

export function ban(ip: string, clock: ManualClock, seconds: number | null = 600): Ban {
  return {
    jail: 'asterisk', ip, family: ip.includes(':') ? 6 : 4, start: clock.now(),
    end: seconds === null ? null : clock.now() + seconds * 1000, count: 1, source: 'manual', reason: 'test', failures: [],
  };
}

export interface SuiteOptions {
  action: string;
  params?: Record<string, string>;
  tools: string[];
  /** Commands an admin would run to break our setup, each followed by check(); `opens` when new probes get through. */
  sabotage: { commands: string[][]; opens: boolean; undo?: string[][] }[];
  /** The back end closes only listed ports: OTHER_PORT stays open for a banned address. */
  portsOnly?: boolean;
  setBased?: boolean;
  /** Commands that move our jump below the admin's ESTABLISHED accept (iptables back ends). */
  demoteJump?: string[][];
}

/** The same live checks for every firewall back end, in a pbx/attacker namespace pair. */
export function firewallSuite(opts: SuiteOptions): void {
  const missing = opts.tools.filter((t) => !haveTool(t));
  const skip = !isRoot() ? 'needs root: creates network namespaces' : missing.length ? `needs ${missing.join(', ')}` : false;

  describe(`${opts.action} on a real kernel`, { skip }, () => {
    let net: TestNet;
    let action: Action;
    let pristine: string;
    const clock = new ManualClock(Date.now());
    const counting = countingRunner(spawnRunner);

    const make = (extra: Record<string, string> = {}) =>
      createAction(
        { name: opts.action, params: { name: 'ASTERISK', netns: net.pbx, ...opts.params, ...extra }, file: 'jail.local', line: 1 },
        { jail: defaultJailSettings('asterisk'), logger: silentLogger(), clock, env: {}, run: counting },
      );

    before(async () => {
      net = await TestNet.create();
      pristine = await net.snapshot();
      action = make();
    });
    after(async () => {
      await net?.destroy();
    });

    it('starts idempotently: a second start changes nothing', async () => {
      await action.start();
      const once = await net.snapshot();
      assert.notEqual(once, pristine);
      await action.start();
      await make().start();
      assert.equal(await net.snapshot(), once);
      assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
    });

    it('bans v4 and v6 over UDP and TCP, spares the other source, and ends a running UDP flow', async () => {
      const flow = await net.startFlow(ADDR.att4);
      for (let i = 0; i < 200 && (await net.flowReplies(flow)) === 0; i++) await sleep(10);
      assert.ok((await net.flowReplies(flow)) > 0, 'the flow is answered before the ban');
      const bans = [ban(ADDR.att4, clock), ban(ADDR.att6, clock)];
      await action.ban(bans, { restored: false });
      const afterOnce = await net.snapshot();
      await action.ban(bans, { restored: false });
      assert.equal(await net.snapshot(), afterOnce, 'banning twice leaves one entry');
      await sleep(100);
      const settled = await net.flowReplies(flow);
      await sleep(500);
      assert.equal(await net.flowReplies(flow), settled, 'no reply reaches the banned flow');
      await net.stopFlow(flow);
      for (const a of [ADDR.att4, ADDR.att6]) assert.deepEqual(await net.reachable(a), { udp: false, tcp: false }, a);
      for (const a of [ADDR.other4, ADDR.other6]) assert.deepEqual(await net.reachable(a), { udp: true, tcp: true }, a);
      if (opts.portsOnly) assert.deepEqual(await net.reachable(ADDR.att4, OTHER_PORT), { udp: true, tcp: true });
      else assert.deepEqual(await net.reachable(ADDR.att4, OTHER_PORT), { udp: false, tcp: false });
      assert.deepEqual((await action.list!()).sort(), [ADDR.att4, ADDR.att6].sort());
    });

    it('repairs what an admin flushed or deleted, re-applying the current bans', async () => {
      const current = [ban(ADDR.att4, clock), ban(ADDR.att6, clock)];
      assert.equal(await action.check(current), false, 'nothing to repair yet');
      for (const { commands, opens, undo } of opts.sabotage) {
        for (const [bin, ...args] of commands) await net.pbxRun(bin!, args);
        if (opens) assert.equal((await net.reachable(ADDR.att4)).udp, true, `sabotage ${JSON.stringify(commands)} opened the door`);
        assert.equal(await action.check(current), true, `check notices ${JSON.stringify(commands)}`);
        assert.deepEqual(await net.reachable(ADDR.att4), { udp: false, tcp: false });
        assert.deepEqual(await net.reachable(ADDR.att6), { udp: false, tcp: false });
        assert.equal(await action.check(current), false);
        for (const [bin, ...args] of undo ?? []) await net.pbxRun(bin!, args);
      }
    });

    if (opts.demoteJump) {
      it('ends a running UDP flow by deleting its conntrack entry when an accept precedes our jump, even if the server answers late', async () => {
        const current = [ban(ADDR.att4, clock), ban(ADDR.att6, clock)];
        await action.unban(current);
        for (const [bin, ...args] of opts.demoteJump!) await net.pbxRun(bin!, args);
        const flow = await net.startFlow(ADDR.att4);
        for (let i = 0; i < 200 && (await net.flowReplies(flow)) === 0; i++) await sleep(10);
        assert.ok((await net.flowReplies(flow)) > 0, 'the flow is answered before the ban');
        // The server answers what it received before the ban only after the
        // flows were deleted: those answers open the flow again, pbx → attacker.
        net.holdEcho(true);
        try {
          await action.ban([ban(ADDR.att4, clock)], { restored: false });
        } finally {
          net.holdEcho(false);
        }
        // The flow must come to a stop (no reply for 400 ms) within 5 s, and stay stopped.
        let settled = await net.flowReplies(flow);
        for (let quiet = 0, i = 0; quiet < 4 && i < 50; i++) {
          await sleep(100);
          const now = await net.flowReplies(flow);
          quiet = now === settled ? quiet + 1 : 0;
          settled = now;
        }
        await sleep(600);
        assert.equal(await net.flowReplies(flow), settled, 'the tracked flow was cut although an accept precedes us');
        await net.stopFlow(flow);
        assert.equal(await action.check(current), true, 'check puts the jump back on top');
      });
    }

    it('unbans, and unbanning an absent address is fine', async () => {
      await action.unban([ban(ADDR.att4, clock), ban(ADDR.att6, clock), ban('203.0.113.99', clock)]);
      await action.unban([ban(ADDR.att4, clock)]);
      for (const a of [ADDR.att4, ADDR.att6]) assert.deepEqual(await net.reachable(a), { udp: true, tcp: true }, a);
      assert.deepEqual(await action.list!(), []);
    });

    it('bans an IPv6 prefix: every address in it is dropped, beside an address ban inside it; the /64 next door passes', async () => {
      const inside = ban(ADDR.in6b, clock);
      const prefix = ban(PREFIX6, clock);
      await action.ban([inside], { restored: false });
      await action.ban([prefix], { restored: false });
      const once = await net.snapshot();
      await action.ban([prefix], { restored: false });
      await action.ban([prefix, inside], { restored: true });
      assert.equal(await net.snapshot(), once, 'banning again leaves one entry each');
      for (const a of [ADDR.in6a, ADDR.in6b]) assert.deepEqual(await net.reachable(a), { udp: false, tcp: false }, a);
      for (const a of [ADDR.out6, ADDR.att6]) assert.deepEqual(await net.reachable(a), { udp: true, tcp: true }, a);
      assert.deepEqual((await action.list!()).sort(), [PREFIX6, ADDR.in6b].sort());
      assert.equal(await action.check([prefix, inside]), false, 'check reads the prefix back as it wrote it');
      await action.unban([prefix]);
      assert.deepEqual(await net.reachable(ADDR.in6a), { udp: true, tcp: true }, 'the prefix is lifted');
      assert.deepEqual(await net.reachable(ADDR.in6b), { udp: false, tcp: false }, 'the address ban inside it stays');
      await action.unban([inside]);
      assert.deepEqual(await action.list!(), []);
    });

    it('refuses addresses that do not parse, banning the rest', async () => {
      const odd = { ...ban(ADDR.att4, clock), ip: '198.51.100.2 -j ACCEPT' };
      const wide = { ...ban(ADDR.att4, clock), ip: '198.51.100.0/24' };
      await action.ban([odd, wide, ban(ADDR.att6, clock)], { restored: false });
      assert.deepEqual(await action.list!(), [ADDR.att6]);
      await action.unban([ban(ADDR.att6, clock)]);
    });

    it('applies and removes 1,000 bans with one process each way', async () => {
      const many = Array.from({ length: 1000 }, (_, i) => ban(`10.77.${i >> 8}.${i & 255}`, clock));
      const before = counting.calls.length;
      await action.ban(many, { restored: false });
      assert.equal(counting.calls.length - before, 1, 'one process for the ban batch');
      assert.equal((await action.list!()).length, 1000);
      const mid = counting.calls.length;
      await action.unban(many);
      assert.equal(counting.calls.length - mid, 1, 'one process for the unban batch');
      assert.deepEqual(await action.list!(), []);
    });

    if (opts.setBased) {
      it('keep = yes leaves bans in the kernel across stop, and the next start adopts them', async () => {
        const kept = make({ keep: 'yes' });
        await kept.start();
        await kept.ban([ban(ADDR.att4, clock, 3600)], { restored: false });
        await kept.stop();
        assert.equal((await net.reachable(ADDR.att4)).udp, false, 'still banned after stop');
        const next = make();
        await next.start();
        assert.deepEqual(await next.list!(), [ADDR.att4]);
        await next.flush();
        assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
      });
    }

    if (opts.demoteJump) {
      it('two actions of ours keep their jumps in a stable order; only a foreign rule above them is repaired', async () => {
        const current = [ban(ADDR.att4, clock)];
        await action.ban(current, { restored: false });
        // ipset's remaining timeouts tick down between two snapshots.
        const rules = async (): Promise<string> => (await net.snapshot()).replace(/ timeout \d+/g, ' timeout N');
        const before = await rules();
        const other = make({ name: 'OTHER' });
        await other.start();
        const both = await rules();
        for (let i = 0; i < 3; i++) {
          assert.equal(await action.check(current), false, 'the other action\'s jump on top is not a change by someone else');
          assert.equal(await other.check([]), false);
        }
        assert.equal(await rules(), both, 'nobody reorders INPUT');
        await net.pbxRun('iptables', ['-I', 'INPUT', '1', '-p', 'icmp', '-j', 'ACCEPT']);
        assert.equal(await action.check(current), true, 'a foreign rule above our jump is repaired');
        assert.equal(await other.check([]), true);
        assert.equal(await action.check(current), false);
        assert.equal(await other.check([]), false);
        assert.deepEqual(await net.reachable(ADDR.att4), { udp: false, tcp: false });
        await net.pbxRun('iptables', ['-D', 'INPUT', '-p', 'icmp', '-j', 'ACCEPT']);
        await other.stop();
        assert.equal(await action.check(current), false);
        assert.equal(await rules(), before);
      });
    }

    it('stops leaving the ruleset exactly as before start', async () => {
      await action.ban([ban(ADDR.att4, clock), ban(ADDR.att6, clock)], { restored: false });
      await action.stop();
      assert.equal(await net.snapshot(), pristine);
      await action.stop();
      assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
    });
  });
}
