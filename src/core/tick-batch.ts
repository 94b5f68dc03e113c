/**
 * Collects what is added within one tick of the event loop and hands it
 * over together on the next: a flood costs one lookup per batch, not one per item.
 */
export class TickBatch<T> {
  private pending: T[] = [];
  private scheduled = false;

  constructor(private readonly run: (batch: T[]) => Promise<void> | void) {}

  add(item: T): void {
    this.pending.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      const batch = this.pending;
      this.pending = [];
      this.scheduled = false;
      void this.run(batch);
    });
  }
}
