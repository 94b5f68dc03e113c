import type { Logger } from '../core/logger.js';
import type { CommandRunner } from './exec.js';
import { parseAddress } from '../core/address.js';
import type { Ban } from '../core/types.js';
import { ownAddresses } from './batch.js';

export const CONNTRACK_FLUSH_LIMIT = 32;
const PARALLEL = 4;
/** Addresses waiting for their flows to be deleted beyond which new ones rely on rule order. */
const BACKLOG_LIMIT = 256;
/**
 * When the flows of the same addresses are deleted again. A server that
 * answers, only after both deletes, a packet the address sent before its
 * ban (a busy Asterisk does) opens the flow again from our side, and the
 * attacker's packets are ESTABLISHED once more.
 */
const AGAIN_MS = [250, 2_000];

/**
 * Ends tracked flows of freshly banned addresses. Our rules already sit
 * before a typical `ESTABLISHED,RELATED -j ACCEPT` (first in INPUT, or an nft
 * base chain where a drop is final whatever another table accepts), so this
 * is the second line of defence for rulesets that later put an accept above
 * us. conntrack(8) has no batch mode for -D: two processes per address, so it
 * runs only for small batches (a flood's big batches rely on rule order), a
 * few at a time, from one bounded queue per action. Actions call it after
 * their serial section: those processes take tens of milliseconds under
 * load, and the next batch must not wait for them to reach the kernel.
 */
export class ConntrackFlusher {
  private missing = false;
  private readonly queue: Array<{ ip: string; done: () => void }> = [];
  private workers = 0;

  constructor(
    private readonly run: CommandRunner,
    private readonly binary: string,
    private readonly logger: Logger,
    private readonly limit = CONNTRACK_FLUSH_LIMIT,
  ) {}

  /**
   * After a gathered batch: the flows of these bans' addresses among those it
   * applied. A restore of 100,000 bans is decided before any text is parsed.
   */
  forgetBanned(bans: readonly Ban[], applied: readonly string[]): Promise<void> {
    if (this.missing || bans.length === 0) return Promise.resolve();
    if (bans.length > this.limit) return this.forget(bans.map((b) => b.ip));
    return this.forget(ownAddresses(bans, applied));
  }

  /** Resolves once the flows of these addresses are deleted (or given up on). Never throws: the ban itself has already succeeded. */
  forget(ips: readonly string[]): Promise<void> {
    if (this.missing || ips.length === 0) return Promise.resolve();
    if (ips.length > this.limit || this.queue.length + ips.length > BACKLOG_LIMIT) {
      this.logger.debug(`conntrack: ${ips.length} addresses banned at once (${this.queue.length} waiting); relying on rule order instead of deleting flows`);
      return Promise.resolve();
    }
    const valid = ips.filter((ip) => parseAddress(ip)?.text === ip);
    if (valid.length === 0) return Promise.resolve();
    // The later passes are not waited for: the ban is in force already.
    return this.enqueue(valid).then(() => this.again(valid, 0));
  }

  private enqueue(ips: readonly string[]): Promise<void> {
    return new Promise((resolve) => {
      let left = ips.length;
      const done = () => {
        if (--left === 0) resolve();
      };
      for (const ip of ips) this.queue.push({ ip, done });
      while (this.workers < PARALLEL && this.workers < this.queue.length) void this.work();
    });
  }

  private again(ips: readonly string[], pass: number): void {
    if (pass >= AGAIN_MS.length) return;
    const timer = setTimeout(() => {
      if (this.missing || this.queue.length + ips.length > BACKLOG_LIMIT) return;
      void this.enqueue(ips).then(() => this.again(ips, pass + 1));
    }, AGAIN_MS[pass]);
    timer.unref();
  }

  private async work(): Promise<void> {
    this.workers++;
    try {
      for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
        await this.deleteFlows(job.ip);
        job.done();
      }
    } finally {
      this.workers--;
    }
  }

  private async deleteFlows(ip: string): Promise<void> {
    if (this.missing) return;
    const family = ip.includes(':') ? 'ipv6' : 'ipv4';
    try {
      // Exit status 1 means "0 flow entries deleted". Flows the attacker opened go first; then
      // flows "opened" by our own replies: a reply sent for a packet that arrived just before the
      // first delete creates a pbx→attacker entry, and the attacker's packets would match it as
      // ESTABLISHED again.
      for (const side of ['-s', '-d']) {
        await this.run(this.binary, ['-D', '-f', family, side, ip], { okCodes: [1], timeoutMs: 5_000 });
      }
    } catch (e) {
      const msg = (e as Error).message;
      if (/cannot run|ENOENT/.test(msg)) {
        this.missing = true;
        this.logger.warn('conntrack: the conntrack tool is not installed; running flows of banned addresses end only by rule order');
        return;
      }
      this.logger.warn(`conntrack: could not delete flows of ${ip}: ${msg}`);
    }
  }
}
