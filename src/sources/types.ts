import type { Failure } from '../core/types.js';

export type SourceState = 'starting' | 'connecting' | 'ready' | 'reconnecting' | 'following' | 'waiting' | 'error' | 'closing' | 'closed' | 'standby';

export interface SourceStatus {
  name: string;
  kind: 'ami' | 'log';
  state: SourceState;
  /** ms epoch of the last state change */
  since: number;
  detail?: string;
}

export interface SourceEvents {
  failure(f: Failure): void;
  /** An address proved it is legitimate (AMI SuccessfulAuth): clear its count. */
  success?(ip: string): void;
}

export interface Source {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus[];
}
