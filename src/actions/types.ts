import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Ban } from '../core/types.js';
import type { Alert } from '../alerts/types.js';
import type { Invocation, JailSettings } from '../settings/types.js';
import type { CommandRunner } from './exec.js';

export interface BanOptions {
  /** Re-applied after a restart or reload: notify actions stay quiet. */
  restored: boolean;
}

/**
 * One lifecycle for every back end (firewalls, mail, dry-run). Actions apply
 * or remove bans; they never decide. Every method takes a batch.
 */
export interface Action {
  /** e.g. `iptables-allports[ASTERISK]`, unique within a jail. */
  readonly id: string;
  readonly kind: 'firewall' | 'notify';
  /** Create chains/sets/jumps; idempotent, adopts what a crashed run left. */
  start(): Promise<void>;
  /** Verify our rules are in place; repair them and re-apply `current` if not. Returns true when it repaired. */
  check(current: Ban[]): Promise<boolean>;
  ban(bans: Ban[], opts: BanOptions): Promise<void>;
  unban(bans: Ban[]): Promise<void>;
  /** Remove every ban of ours, keep the structure. */
  flush(): Promise<void>;
  /** Remove everything of ours; the ruleset is as before start. */
  stop(): Promise<void>;
  /** Addresses the kernel currently holds for us (for reconciling with the database). */
  list?(): Promise<string[]>;
  /** Notify actions: tell about alerts (compromise, new network, wave, health). Must not throw for delivery failures. */
  alert?(alerts: Alert[]): Promise<void>;
}

export interface ActionDeps {
  jail: JailSettings;
  logger: Logger;
  clock: Clock;
  env: Record<string, string>;
  /** Runs firewall commands (argv, no shell); tests pass one that enters a network namespace. Default: spawn. */
  run?: CommandRunner;
  /** Asks for the action's rules to be checked soon, not at the next periodic check (a firewall tool it kept running died). */
  recheck?: () => void;
}

export type ActionFactory = (spec: Invocation, deps: ActionDeps) => Action;
