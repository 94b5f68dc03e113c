/** Items by a key, in first-seen order: one batch per jail, per origin node. */
export function groupBy<T>(items: Iterable<T>, key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) out.get(key(t))?.push(t) ?? out.set(key(t), [t]);
  return out;
}

export function groupByJail<T extends { jail: string }>(bans: Iterable<T>): Map<string, T[]> {
  return groupBy(bans, (b) => b.jail);
}
