import { parseAddress, printable } from '../core/address.js';
import type { RemoteBan } from '../bans/manager.js';

/**
 * One ban or unban as it travels through the fleet's Redis stream. Redis
 * is shared by every node, so what comes out of it is untrusted input: a
 * field that does not parse drops the whole entry (with the reason), and
 * nothing but a single canonical address can become a ban.
 */
export interface FleetEntry extends RemoteBan {
  op: 'ban' | 'unban';
  /** The origin's clock when it published (ms epoch): propagation latency. */
  at: number;
}

const JAIL = /^[A-Za-z0-9_.-]{1,64}$/;
const NODE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const MAX_REASON = 120;
/** Ten years from now is the longest ban anyone makes. */
const MAX_AHEAD_MS = 3650 * 86_400_000 + 86_400_000;

/** Flat field/value list for XADD. */
export function encodeEntry(e: FleetEntry): string[] {
  return ['v', '1', 'op', e.op, 'jail', e.jail, 'ip', e.ip, 'end', e.end === null ? '-1' : String(e.end), 'reason', e.reason.slice(0, MAX_REASON), 'count', String(e.count), 'node', e.node, 'at', String(e.at)];
}

export type Decoded = { ok: true; entry: FleetEntry } | { ok: false; why: string };

/** The fields of a stream entry (XREAD's flat list) back into an entry, or why not. */
export function decodeEntry(fields: readonly string[], now: number): Decoded {
  if (!Array.isArray(fields) || fields.length % 2 !== 0 || fields.length > 40) return { ok: false, why: 'malformed field list' };
  const f = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) {
    const k = fields[i];
    const v = fields[i + 1];
    if (typeof k !== 'string' || typeof v !== 'string' || v.length > 512) return { ok: false, why: 'malformed field' };
    f.set(k, v);
  }
  if (f.get('v') !== '1') return { ok: false, why: `unknown entry version "${printable(f.get('v') ?? '', 10)}"` };
  const op = f.get('op');
  if (op !== 'ban' && op !== 'unban') return { ok: false, why: `unknown op "${printable(op ?? '', 20)}"` };
  const node = f.get('node') ?? '';
  if (!NODE.test(node)) return { ok: false, why: `bad node name "${printable(node, 64)}"` };
  const jail = f.get('jail') ?? '';
  if (!JAIL.test(jail)) return { ok: false, why: `bad jail name "${printable(jail, 64)}" from node ${node}` };
  const rawIp = f.get('ip') ?? '';
  const addr = rawIp.includes('/') ? null : parseAddress(rawIp);
  if (!addr) return { ok: false, why: `"${printable(rawIp, 64)}" from node ${node} is not a single address` };
  const endText = f.get('end') ?? '';
  const end = endText === '-1' ? null : /^\d{1,15}$/.test(endText) ? Number(endText) : NaN;
  if (end !== null && (!Number.isSafeInteger(end) || end > now + MAX_AHEAD_MS)) return { ok: false, why: `bad end "${printable(endText, 20)}" from node ${node}` };
  const countText = f.get('count') ?? '1';
  const count = /^\d{1,6}$/.test(countText) ? Number(countText) : NaN;
  if (!Number.isSafeInteger(count) || count < 1) return { ok: false, why: `bad count "${printable(countText, 20)}" from node ${node}` };
  const atText = f.get('at') ?? '';
  const at = /^\d{1,15}$/.test(atText) ? Number(atText) : now;
  const reason = printable(f.get('reason') ?? 'fleet', MAX_REASON);
  return { ok: true, entry: { op, jail, ip: addr.text, end, reason, count, node, at } };
}
