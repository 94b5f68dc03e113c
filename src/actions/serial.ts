/**
 * Runs an action's operations one after another: ban and unban read and
 * change the same kernel state, and the ban manager may call both at once.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  /** Operations queued so far: a waiting batch may grow only while it is the last of them. */
  private queued = 0;
  private open: { items: unknown[]; at: number; done: Promise<unknown> } | null = null;

  run<T>(fn: () => Promise<T>): Promise<T> {
    this.queued++;
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /**
   * Queues `items` for one call of `fn`, joining the batch that waits for its
   * turn when nothing else was queued after it. Under a flood the firewall
   * command takes tens of milliseconds; bans arriving meanwhile go into the
   * next command together instead of queueing one command each. Every
   * caller of a batch gets its result (or its error).
   */
  gather<T, R>(items: readonly T[], fn: (all: T[]) => Promise<R>): Promise<R> {
    const open = this.open;
    if (open && open.at === this.queued) {
      open.items.push(...items);
      return open.done as Promise<R>;
    }
    const group: { items: unknown[]; at: number; done: Promise<unknown> } = { items: [...items], at: 0, done: Promise.resolve() };
    group.done = this.run(() => {
      if (this.open === group) this.open = null;
      return fn(group.items as T[]);
    });
    group.at = this.queued;
    this.open = group;
    return group.done as Promise<R>;
  }
}
