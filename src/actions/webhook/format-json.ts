import { alertFacts, banAccounts, cap, iso, safeAddress, type WebhookEntry } from './entries.js';
import { jsonRequest, type PayloadContext, type WebhookRequest } from './request.js';

/**
 * For machines (SIEMs, scripts, automation tools). JSON.stringify does all
 * the escaping; fields are only capped. Readers get the events in arrival
 * order and, when a burst outgrew one message, how many were left out.
 */
export const JSON_MAX_EVENTS = 200;

function event(e: WebhookEntry): Record<string, unknown> {
  if (e.event === 'alert') {
    const a = e.alert;
    return {
      type: 'alert',
      rule: a.rule,
      severity: a.severity,
      jail: cap(a.jail, 80),
      time: iso(a.time),
      summary: cap(a.summary),
      ...(a.address !== undefined ? { address: safeAddress(a.address) } : {}),
      ...(a.account !== undefined ? { account: cap(a.account) } : {}),
      // In display order; fromEntries defines own properties, so a fact named __proto__ stays a fact.
      facts: Object.fromEntries(alertFacts(a)),
    };
  }
  const b = e.ban;
  return {
    type: e.event,
    jail: cap(b.jail, 80),
    address: safeAddress(b.ip),
    count: b.count,
    start: iso(b.start),
    end: iso(b.end),
    reason: cap(b.reason),
    accounts: banAccounts(b),
  };
}

export function jsonPayload(entries: WebhookEntry[], ctx: PayloadContext): WebhookRequest {
  const listed = entries.slice(0, JSON_MAX_EVENTS);
  const dropped = entries.length - listed.length;
  return jsonRequest({
    source: 'asterisk-ban',
    host: ctx.host,
    name: ctx.name,
    events: listed.map(event),
    ...(dropped > 0 ? { dropped } : {}),
  });
}
