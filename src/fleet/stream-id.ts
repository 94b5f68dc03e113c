/** Redis stream ids `ms-seq` compared as numbers. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map((x) => BigInt(x || '0'));
  const [bm, bs] = b.split('-').map((x) => BigInt(x || '0'));
  if (am !== bm) return am! < bm! ? -1 : 1;
  if (as !== bs) return (as ?? 0n) < (bs ?? 0n) ? -1 : 1;
  return 0;
}
