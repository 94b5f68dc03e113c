/** Where a failure was seen. */
export type SourceKind = 'ami' | 'log' | 'manual' | 'fleet';

/**
 * One failed attempt, as every source reports it. `ip` is already parsed and
 * normalised (src/core/address.ts); sources drop what does not parse.
 */
export interface Failure {
  ip: string;
  family: 4 | 6;
  /** Milliseconds since the epoch: the event's or the line's own time. */
  time: number;
  source: SourceKind;
  /** SIP, PJSIP, IAX2, AMI... when known. */
  service?: string;
  /** Attacker-controlled account text; for display only, bounded and escaped. */
  account?: string;
  /** Event name (InvalidPassword) or the filter's regex id. */
  reason: string;
  /** The line or a summary of the event, bounded; for logs and ban records. */
  raw?: string;
  /**
   * A log line that came with a message an attacker could extend with forged
   * lines, naming another address: counted only when verification confirms
   * the address sent packets (src/daemon/suspect-gate.ts).
   */
  suspect?: true;
}

/** A ban as the ban manager holds it. */
export interface Ban {
  jail: string;
  /** An address, or an IPv6 prefix (`2001:db8:1:2::/64`) with ipv6_prefix below 128. */
  ip: string;
  family: 4 | 6;
  /** Milliseconds since the epoch. */
  start: number;
  /** Milliseconds since the epoch; null for a permanent ban. */
  end: number | null;
  /** How many times this address has been banned (1 for the first). */
  count: number;
  source: SourceKind;
  reason: string;
  failures: Failure[];
  /** Fleet mode: the node this ban came from (absent: made here). */
  node?: string;
}

/** A jail's decision that an address must be banned, before verification and the ban manager. */
export interface BanRequest {
  jail: string;
  /** What to ban: an address or an IPv6 prefix, as Ban.ip. */
  ip: string;
  family: 4 | 6;
  /** When `ip` is a prefix: the address whose failure crossed maxretry (what verification asks about). */
  address?: string;
  /** ms epoch of the failure that crossed maxretry. */
  time: number;
  source: SourceKind;
  reason: string;
  /** The failures that led to it (bounded to maxretry). */
  failures: Failure[];
}
