/**
 * Runs an action's operations one after another: ban and unban read and
 * change the same kernel state, and the ban manager may call both at once.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
