// A reload that changes a jail but not its firewall action keeps the action's
// nftables table as it is: the banned address stays dropped throughout, with
// no moment where the table is gone. A changed action is rebuilt, bans in it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DaemonHarness } from '../helpers/daemon.js';
import { ADDR, TestNet, haveTool, isRoot } from '../helpers/netns.js';

const skip = !isRoot() ? 'needs root (network namespaces, nftables)' : !haveTool('nft') ? 'needs nftables installed' : false;
const TABLE = ['inet', 'asban-asterisk'];

let net: TestNet;
let h: DaemonHarness;

function jail(maxretry: number, port: string): string {
  return `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${h.log}\nmaxretry = ${maxretry}\nport = ${port}\naction = nftables-multiport[name=asterisk]\nverify = off\n`;
}

/** The table's kernel handle: a new one means it was deleted and made again. */
function tableHandle(): number | null {
  try {
    const doc = JSON.parse(execFileSync('ip', ['netns', 'exec', net.pbx, 'nft', '-j', 'list', 'table', ...TABLE], { encoding: 'utf8' })) as { nftables: { table?: { handle: number } }[] };
    return doc.nftables.find((x) => x.table)?.table?.handle ?? null;
  } catch {
    return null;
  }
}

before(async () => {
  if (skip) return;
  net = await TestNet.create();
  h = new DaemonHarness((x) => `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\nmaxretry = 5\nport = 5060,5061\naction = nftables-multiport[name=asterisk]\nverify = off\n`);
  await h.start({}, ['ip', 'netns', 'exec', net.pbx]);
});

after(async () => {
  if (skip) return;
  await h?.cleanup();
  await net?.destroy();
});

test('a reload that leaves the action alone keeps its table and its bans in the kernel', { skip }, async () => {
  const r = await h.cli('ban', 'asterisk', ADDR.att4);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await net.reachable(ADDR.att4)).udp, false);
  const handle = tableHandle();
  assert.ok(handle !== null, 'the table exists');

  // Watch the kernel while the reload runs: the table must never be missing.
  let missing = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      if (tableHandle() === null) missing++;
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  h.writeJails(jail(3, '5060,5061'));
  const reload = await h.cli('reload');
  watching = false;
  await watcher;
  assert.equal(reload.code, 0, reload.stderr);
  assert.match(reload.stdout, /asterisk/);
  assert.equal(missing, 0, 'the table was gone during the reload');
  assert.equal(tableHandle(), handle, 'the same table, not a new one');
  assert.deepEqual(await net.reachable(ADDR.att4), { udp: false, tcp: false });
  assert.deepEqual(await net.reachable(ADDR.other4), { udp: true, tcp: true });
});

test('a reload that changes the action rebuilds it with the bans in force', { skip }, async () => {
  h.writeJails(jail(3, '5060'));
  const reload = await h.cli('reload');
  assert.equal(reload.code, 0, reload.stderr);
  assert.ok(tableHandle() !== null);
  assert.equal((await net.reachable(ADDR.att4)).udp, false, 'still dropped after the action was rebuilt');
  assert.equal((await net.reachable(ADDR.other4)).udp, true);
});
