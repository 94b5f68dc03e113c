import type Database from 'better-sqlite3';
import type { Alert, AlertRule, AlertSeverity } from '../alerts/types.js';
import { storeError } from './open.js';

/** An alert as kept: the daemon's alerts command lists these. */
export interface StoredAlert extends Alert {
  id: number;
}

// Alert text holds attacker-written fields: bound what a row can hold.
const MAX_TEXT = 512;
const MAX_FACTS = 20;
/** Networks kept per account: the oldest beyond this is forgotten (and alerts again if it comes back). */
export const NETWORKS_PER_ACCOUNT = 32;

type AlertRow = { id: number; time: number; jail: string; rule: string; severity: string; summary: string; address: string | null; account: string | null; facts: string };

const clip = (t: string): string => (t.length > MAX_TEXT ? t.slice(0, MAX_TEXT) : t);

/**
 * Alerts and the account → network record of the new_network rule, in the
 * state database. Each write is one small statement: alerts are rare, and
 * a network's last_seen is refreshed at most hourly by its caller.
 */
export class AlertStore {
  private readonly stmt;

  constructor(db: Database.Database, private readonly path: string) {
    this.stmt = {
      insert: db.prepare('INSERT INTO alerts (time, jail, rule, severity, summary, address, account, facts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      since: db.prepare('SELECT * FROM alerts WHERE time >= ? ORDER BY time, id LIMIT ?'),
      purge: db.prepare('DELETE FROM alerts WHERE time < ?'),
      networks: db.prepare('SELECT network, last_seen FROM account_networks WHERE account = ?'),
      seen: db.prepare(
        `INSERT INTO account_networks (account, network, last_seen) VALUES (?, ?, ?)
         ON CONFLICT (account, network) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`,
      ),
      trim: db.prepare(
        `DELETE FROM account_networks WHERE account = @account AND network NOT IN
           (SELECT network FROM account_networks WHERE account = @account ORDER BY last_seen DESC LIMIT @keep)`,
      ),
      purgeNetworks: db.prepare('DELETE FROM account_networks WHERE last_seen < ?'),
    };
  }

  add(a: Alert): number {
    return this.guard(() => {
      const facts = JSON.stringify(a.facts.slice(0, MAX_FACTS).map(([k, v]) => [clip(k), clip(v)]));
      return Number(this.stmt.insert.run(a.time, a.jail, a.rule, a.severity, clip(a.summary), a.address ?? null, a.account === undefined ? null : clip(a.account), facts).lastInsertRowid);
    });
  }

  /** Alerts at or after `since` (ms epoch), oldest first, at most `limit`. */
  since(since: number, limit = 10_000): StoredAlert[] {
    return this.guard(() => (this.stmt.since.all(since, limit) as AlertRow[]).map(toAlert));
  }

  /** Drops alerts older than `before` (dbpurgeage) and networks unused since `networksBefore`. */
  purge(before: number, networksBefore: number): number {
    return this.guard(() => this.stmt.purge.run(before).changes + this.stmt.purgeNetworks.run(networksBefore).changes);
  }

  /** The networks `account` logged in from, with when last (ms epoch). */
  networks(account: string): Map<string, number> {
    return this.guard(() => new Map((this.stmt.networks.all(account) as { network: string; last_seen: number }[]).map((r) => [r.network, r.last_seen])));
  }

  /** Records a login of `account` from `network`; keeps the NETWORKS_PER_ACCOUNT most recent. */
  sawNetwork(account: string, network: string, at: number): void {
    this.guard(() => {
      this.stmt.seen.run(account, network, at);
      this.stmt.trim.run({ account, keep: NETWORKS_PER_ACCOUNT });
    });
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storeError(err, this.path);
    }
  }
}

function toAlert(r: AlertRow): StoredAlert {
  let facts: [string, string][] = [];
  try {
    const v = JSON.parse(r.facts) as unknown;
    if (Array.isArray(v)) facts = v.filter((x): x is [string, string] => Array.isArray(x) && typeof x[0] === 'string' && typeof x[1] === 'string');
  } catch {
    // A damaged row still lists, without its facts.
  }
  const a: StoredAlert = { id: r.id, time: r.time, jail: r.jail, rule: r.rule as AlertRule, severity: r.severity as AlertSeverity, summary: r.summary, facts };
  if (r.address !== null) a.address = r.address;
  if (r.account !== null) a.account = r.account;
  return a;
}
