/** One pending expiry. `token` lets the owner tell a stale entry from the live ban. */
export interface Expiry<T> {
  end: number;
  token: T;
}

/**
 * A binary min-heap of expiries. Unbanning early does not search the heap:
 * the owner checks each popped token against its live ban and drops stale
 * ones (lazy deletion), so every operation stays O(log n) at 100,000 bans.
 */
export class ExpiryHeap<T> {
  private items: Expiry<T>[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Expiry<T> | undefined {
    return this.items[0];
  }

  push(end: number, token: T): void {
    const a = this.items;
    a.push({ end, token });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.end <= a[i]!.end) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): Expiry<T> | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.end < a[m]!.end) m = l;
        if (r < a.length && a[r]!.end < a[m]!.end) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }

  /** Pops every entry due at or before `until`, in order. */
  popDue(until: number): Expiry<T>[] {
    const out: Expiry<T>[] = [];
    while (this.items.length > 0 && this.items[0]!.end <= until) out.push(this.pop()!);
    return out;
  }

  /** Rebuilds from scratch (restoring 100,000 bans): a sorted array is already a valid heap. */
  reset(entries: Expiry<T>[]): void {
    this.items = entries.slice().sort((x, y) => x.end - y.end);
  }

  /** Adds many at once: one sort when the heap is empty or the batch is large, else one push each. */
  pushAll(entries: Expiry<T>[]): void {
    if (entries.length > this.items.length) this.reset(this.items.concat(entries));
    else for (const e of entries) this.push(e.end, e.token);
  }
}
