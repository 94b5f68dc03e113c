import { ALERT_RULES, type AlertRule } from '../alerts/types.js';
import { printable } from '../core/address.js';
import type { Problems } from './problems.js';
import type { SectionReader } from './values.js';

/** A jail's alert rules (`alerts = compromise health`, the alert_* options). */
export interface AlertSettings {
  rules: AlertRule[];
  /** compromise: failures within findtime before a login that make it suspicious. */
  compromiseFailures: number;
  /** new_network: days a network stays known to an account. */
  newNetworkDays: number;
  /** new_network: prefix lengths that make a network, IPv4 and IPv6. */
  newNetworkPrefix: [number, number];
  /** wave: failures a minute that start a wave; 0 = off. */
  wave: number;
  /** health: seconds AMI may be down (or the log missing) before an alert. */
  amiDown: number;
}

export const ALERT_OPTIONS: readonly string[] = ['alerts', 'alert_compromise_failures', 'alert_new_network_days', 'alert_new_network_prefix', 'alert_wave', 'alert_ami_down'];

export const DEFAULT_ALERTS: AlertSettings = {
  rules: ['compromise', 'health'],
  compromiseFailures: 3,
  newNetworkDays: 30,
  newNetworkPrefix: [24, 48],
  wave: 0,
  amiDown: 60,
};

export function readAlertSettings(r: SectionReader, p: Problems): AlertSettings {
  const rules: AlertRule[] = [];
  const listed = r.list('alerts', DEFAULT_ALERTS.rules);
  for (const word of listed) {
    const w = word.toLowerCase().replace(/-/g, '_');
    if (w === 'none' || w === 'off') continue;
    if ((ALERT_RULES as readonly string[]).includes(w)) {
      if (!rules.includes(w as AlertRule)) rules.push(w as AlertRule);
    } else {
      p.error(`alerts: unknown rule "${printable(word, 40)}"`, r.at('alerts'), `rules: ${ALERT_RULES.join(', ')} (or none)`);
    }
  }
  const settings: AlertSettings = {
    rules,
    compromiseFailures: r.int('alert_compromise_failures', DEFAULT_ALERTS.compromiseFailures, 1),
    newNetworkDays: r.int('alert_new_network_days', DEFAULT_ALERTS.newNetworkDays, 1, 3650),
    newNetworkPrefix: prefixes(r, p),
    wave: r.int('alert_wave', DEFAULT_ALERTS.wave, 0),
    amiDown: r.duration('alert_ami_down', DEFAULT_ALERTS.amiDown),
  };
  const waveAt = r.at('alert_wave') ?? r.at('alerts');
  if (rules.includes('wave') && settings.wave === 0) p.warn('alerts lists wave but alert_wave = 0 (failures a minute): no wave alert will fire; set alert_wave = 1000, for example', waveAt);
  if (!rules.includes('wave') && settings.wave > 0) p.warn(`alert_wave = ${settings.wave} but alerts does not list wave: no wave alert will fire (add wave to alerts)`, waveAt);
  return settings;
}

function prefixes(r: SectionReader, p: Problems): [number, number] {
  const t = r.text('alert_new_network_prefix');
  if (t === undefined || t.trim() === '') return [...DEFAULT_ALERTS.newNetworkPrefix];
  const parts = t.trim().split(/[\s,]+/);
  const v4 = Number(parts[0]);
  const v6 = parts.length > 1 ? Number(parts[1]) : DEFAULT_ALERTS.newNetworkPrefix[1];
  const ok = parts.length <= 2 && /^\d+$/.test(parts[0]!) && (parts.length < 2 || /^\d+$/.test(parts[1]!)) && v4 >= 8 && v4 <= 32 && v6 >= 16 && v6 <= 128;
  if (!ok) {
    p.error(`alert_new_network_prefix = "${printable(t, 40)}" is not usable`, r.at('alert_new_network_prefix'), 'two prefix lengths: IPv4 (8-32), then IPv6 (16-128), e.g. "24 48"');
    return [...DEFAULT_ALERTS.newNetworkPrefix];
  }
  return [v4, v6];
}
