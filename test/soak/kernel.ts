// What the soak reads from the kernel of its namespace: the whole nftables
// ruleset (the truth for every check) and the stream of added elements
// (`nft monitor`, for when each ban got there).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface KernelView {
  /** When the listing was asked for and when it came back (ms). */
  start: number;
  end: number;
  /** Our tables (asban-*) and how many rules each holds. */
  tables: Map<string, number>;
  /** Every element of our sets: address -> table and seconds left. */
  elements: Map<string, { table: string; expires: number }>;
  /** Elements that appear in more than one of our sets. */
  duplicates: string[];
}

interface NftItem {
  table?: { name: string };
  rule?: { table: string };
  set?: { table: string; name: string; elem?: Array<string | { elem: { val: string | { prefix: { addr: string; len: number } }; expires?: number } }> };
}

export function listKernel(ns: string): Promise<KernelView> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'ruleset'], { maxBuffer: 512 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(err);
      const end = Date.now();
      const items = (JSON.parse(stdout) as { nftables: NftItem[] }).nftables;
      const view: KernelView = { start, end, tables: new Map(), elements: new Map(), duplicates: [] };
      for (const it of items) {
        if (it.table?.name.startsWith('asban-')) view.tables.set(it.table.name, view.tables.get(it.table.name) ?? 0);
        if (it.rule?.table.startsWith('asban-')) view.tables.set(it.rule.table, (view.tables.get(it.rule.table) ?? 0) + 1);
        if (it.set?.table.startsWith('asban-')) {
          for (const e of it.set.elem ?? []) {
            const raw = typeof e === 'string' ? e : e.elem.val;
            // An interval set (IPv6 prefixes) lists {prefix: {addr, len}}.
            const val = typeof raw === 'string' ? raw : `${raw.prefix.addr}/${raw.prefix.len}`;
            const expires = typeof e === 'string' ? Infinity : (e.elem.expires ?? Infinity);
            if (view.elements.has(val)) view.duplicates.push(val);
            view.elements.set(val, { table: it.set.table, expires });
          }
        }
      }
      resolve(view);
    });
  });
}

/** Follows `nft monitor` and calls back with each address added to one of our sets, when it was seen. */
export function monitorKernel(ns: string, onAdd: (addr: string, at: number) => void): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, 'nft', 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const at = Date.now();
    const m = /^add element inet asban-\S+ \S+ \{ (.*) \}$/.exec(line);
    if (!m) return;
    for (const part of m[1]!.split(', ')) onAdd(part.split(' ')[0]!, at);
  });
  return child;
}

/** Deletes our tables, as a reboot would leave the kernel. */
export function flushKernel(ns: string, tables: Iterable<string>): Promise<void> {
  const script = [...tables].map((t) => `delete table inet ${t}\n`).join('');
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(script);
  });
}
