import type { Failure } from '../core/types.js';

/** What a SuccessfulAuth said beside the address. */
export interface Login {
  /** AccountID: bounded and escaped like a failure's. */
  account?: string;
  service?: string;
  /** ms epoch: the event's own time. */
  time: number;
  /** The daemon's own AMI login: never an alert. */
  own: boolean;
}

export type SourceState = 'starting' | 'connecting' | 'ready' | 'reconnecting' | 'following' | 'waiting' | 'error' | 'closing' | 'closed' | 'standby';

export interface SourceStatus {
  name: string;
  kind: 'ami' | 'log';
  state: SourceState;
  /** ms epoch of the last state change */
  since: number;
  detail?: string;
  /** Log sources: ms epoch of the last read that found new lines. */
  grewAt?: number;
  /** AMI sources: failures reported since start. */
  failures?: number;
  /** Log sources: messages Asterisk's logger said it discarded (its queue was full) since start. */
  asteriskDiscarded?: number;
  /** Log sources: ms epoch since when Asterisk says it is discarding messages, or null. */
  asteriskDiscardingSince?: number | null;
}

export interface SourceEvents {
  failure(f: Failure): void;
  /** An address logged in (AMI SuccessfulAuth); `clears`: forget its failures (ami_success_clears). */
  success?(ip: string, clears: boolean, login?: Login): void;
}

export interface Source {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus[];
}
