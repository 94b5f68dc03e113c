import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsteriskBanError } from '../../src/core/errors.js';
import type { AlertView, BanView, DaemonApi, JailStatus } from '../../src/control/api.js';

/** A DaemonApi over an in-memory ban table, recording every call it gets. */
export class FakeApi implements DaemonApi {
  calls: Array<{ method: string; args: unknown[] }> = [];
  bans: BanView[] = [
    { jail: 'asterisk', ip: '203.0.113.5', since: '2026-11-27T12:00:00.000Z', until: '2026-11-27T13:00:00.000Z', count: 2, source: 'ami', reason: 'InvalidPassword' },
    { jail: 'asterisk', ip: '2001:db8::1', since: '2026-11-27T12:05:00.000Z', until: null, count: 1, source: 'log', reason: 'failregex 0' },
  ];
  /** Added by tests that need a ban from a fleet node. */
  remoteBan: BanView = { jail: 'asterisk', ip: '192.0.2.200', since: '2026-11-27T12:06:00.000Z', until: '2026-11-27T13:06:00.000Z', count: 1, source: 'fleet', reason: 'InvalidPassword', node: 'pbx-2' };
  /** When set, the next call throws it. */
  fail: unknown = null;
  /** When true, ban answers say the state database did not take the ban. */
  diskFull = false;
  /** When set, reload waits for it: a request that stays in progress. */
  hold: Promise<void> | null = null;

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const f = this.fail;
    if (f !== null) {
      this.fail = null;
      throw f;
    }
  }

  async status(jail?: string): Promise<JailStatus[]> {
    this.record('status', jail);
    const all: JailStatus[] = [{
      jail: 'asterisk', enabled: true, backend: 'ami', currentlyFailed: 3, totalFailed: 120, currentlyBanned: this.bans.length,
      totalBanned: 15, refusedByVerify: 1, banned: this.bans.map((b) => b.ip), failing: [{ ip: '198.51.100.7', count: 3 }],
      sources: [{ name: 'ami', kind: 'ami', state: 'ready', since: Date.UTC(2026, 10, 27, 12, 0, 0) }],
      actions: ['iptables-allports', 'sendmail-whois'], tooOld: 2, futureDated: 0, notPersistedSince: null, unsavedChanges: 0, trustedPeers: [], recentSuccess: 0, asteriskLogDiscarded: 0, asteriskLogDiscardingSince: null,
      alertRules: ['compromise', 'health'], alerts: [{ rule: 'compromise', severity: 'high', count: 1 }],
      fleet: { mode: 'counts', state: 'disconnected', since: '2026-11-27T12:05:00.000Z', fromNodes: { 'pbx-2': 4 } },
    }];
    if (jail !== undefined && jail !== 'asterisk') throw new AsteriskBanError('E_UNKNOWN_JAIL', `no jail named "${jail}"`);
    return all;
  }

  async list(): Promise<BanView[]> {
    this.record('list');
    return this.bans;
  }

  async ban(jail: string, ip: string, opts: { seconds?: number; force?: boolean }): Promise<BanView> {
    this.record('ban', jail, ip, opts);
    const until = opts.seconds === -1 ? null : new Date(Date.UTC(2026, 10, 27, 12, 0, 0) + (opts.seconds ?? 600) * 1000).toISOString();
    const view: BanView = { jail, ip, since: '2026-11-27T12:00:00.000Z', until, count: 1, source: 'manual', reason: 'manual ban' };
    if (this.diskFull) view.persisted = false;
    this.bans.push(view);
    return view;
  }

  async unban(opts: { ip?: string; jail?: string; all?: boolean; node?: string }): Promise<BanView[]> {
    this.record('unban', opts);
    if (opts.node !== undefined) {
      const fromNode = this.bans.filter((b) => b.node === opts.node);
      this.bans = this.bans.filter((b) => !fromNode.includes(b));
      return fromNode;
    }
    const gone = this.bans.filter((b) => (opts.all || b.ip === opts.ip) && (opts.jail === undefined || b.jail === opts.jail));
    if (gone.length === 0) throw new AsteriskBanError('E_NOT_BANNED', `${opts.ip} is not banned`);
    this.bans = this.bans.filter((b) => !gone.includes(b));
    return gone;
  }

  async get(jail: string, option: string): Promise<unknown> {
    this.record('get', jail, option);
    if (option === 'maxretry') return 5;
    throw new AsteriskBanError('E_REQUEST', `no option ${option} to get`);
  }

  async set(option: string, value: string): Promise<{ option: string; value: string }> {
    this.record('set', option, value);
    return { option, value };
  }

  alertList: AlertView[] = [
    {
      id: 1, time: '2026-11-27T12:10:00.000Z', jail: 'asterisk', rule: 'compromise', severity: 'high',
      summary: 'account "6001" logged in from 203.0.113.5 after 37 failure(s) from that address in the last 10m',
      address: '203.0.113.5', account: '6001', facts: { failures: '37', window: '10m' },
    },
    { id: 2, time: '2026-11-27T12:20:00.000Z', jail: 'asterisk', rule: 'health', severity: 'info', summary: 'AMI connection ami is back (ready)', facts: { state: 'ready' } },
  ];

  async fleet(): Promise<unknown> {
    this.record('fleet');
    return {
      node: 'pbx-1', engine: 'redis://10.0.0.5:6379', state: 'connected', connectedSince: '2026-11-27T12:00:00.000Z', disconnectedSince: null,
      nodes: [{ node: 'pbx-1', heartbeatAgeSeconds: 1 }, { node: 'pbx-2', heartbeatAgeSeconds: 3 }], streamLag: 4, outbox: 0, remoteApplied: 12, remoteRefused: 1,
    };
  }

  async alerts(since: number, limit: number): Promise<AlertView[]> {
    this.record('alerts', since, limit);
    return this.alertList.filter((a) => Date.parse(a.time) >= since).slice(0, limit);
  }

  async reload(jail?: string): Promise<{ reloaded: string[]; stopped: string[]; started: string[] }> {
    this.record('reload', jail);
    if (this.hold) await this.hold;
    return { reloaded: [jail ?? 'asterisk'], stopped: [], started: [] };
  }

  async version(): Promise<{ version: string; pid: number; uptime: number }> {
    this.record('version');
    return { version: '9.9.9', pid: 4242, uptime: 3723 };
  }
}

/** A private temp dir per test file, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ab-control-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
