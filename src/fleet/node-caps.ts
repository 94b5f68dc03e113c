/**
 * How many bans and unbans each origin node may make here per minute: one
 * node turned against the fleet cannot ban or unban without bound.
 */
export class NodeCaps {
  private readonly byNode = new Map<string, { minute: number; bans: number; unbans: number }>();

  constructor(private readonly bansPerMinute: number, private readonly unbansPerMinute: number) {}

  /** Counts one and says whether it is within the node's allowance for this minute. */
  allow(node: string, op: 'ban' | 'unban', now: number): boolean {
    const minute = Math.floor(now / 60_000);
    let c = this.byNode.get(node);
    if (!c || c.minute !== minute) {
      c = { minute, bans: 0, unbans: 0 };
      this.byNode.set(node, c);
    }
    return op === 'ban' ? ++c.bans <= this.bansPerMinute : ++c.unbans <= this.unbansPerMinute;
  }

  limit(op: 'ban' | 'unban'): number {
    return op === 'ban' ? this.bansPerMinute : this.unbansPerMinute;
  }
}
