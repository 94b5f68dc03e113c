// deploy/grafana/asterisk-ban.json queries only metrics the daemon exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { registry } from '../../src/control/metrics.js';
import { repoRoot } from '../helpers/paths.js';

interface Panel { title: string; targets?: { expr: string }[] }

test('every metric the Grafana dashboard names is one the daemon exports', async () => {
  const dash = JSON.parse(readFileSync(join(repoRoot, 'deploy', 'grafana', 'asterisk-ban.json'), 'utf8')) as { panels: Panel[]; templating: { list: { query?: string }[] } };
  const process = new Registry();
  collectDefaultMetrics({ register: process });
  const exported = new Set<string>();
  for (const r of [registry, process]) {
    for (const m of await r.getMetricsAsJSON()) {
      exported.add(m.name);
      // A histogram's series carry suffixes.
      for (const s of ['_bucket', '_sum', '_count']) exported.add(`${m.name}${s}`);
    }
  }
  const exprs = [...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dash.templating.list.map((v) => v.query ?? '')];
  const named = new Set(exprs.flatMap((e) => e.match(/\b(?:asterisk_ban|process|nodejs)_[a-z_]+\b/g) ?? []));
  assert.ok(named.size >= 10, [...named].join(' '));
  for (const n of named) assert.ok(exported.has(n), `the dashboard queries ${n}, which the daemon does not export`);
  // The headline series are there: failures and bans by jail, currently banned, AMI state, latency.
  for (const n of ['asterisk_ban_failures_total', 'asterisk_ban_bans_total', 'asterisk_ban_banned', 'asterisk_ban_ami_connected', 'asterisk_ban_event_to_ban_seconds_bucket']) assert.ok(named.has(n), n);
});
