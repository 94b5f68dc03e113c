import { createRequire } from 'node:module';
import { AsteriskBanError } from '../core/errors.js';
import { parseAddress, type Address } from '../core/address.js';
import { ThrottledLog, type Logger } from '../core/logger.js';

/**
 * Set element changes sent to nf_tables over netlink from this process:
 * the kernel's answer comes in ~0.01 ms (~0.15 ms after a quiet spell),
 * where `nft -i` needs 0.5 ms, and 1.7 ms once its pages went cold (the
 * usual case between two bans). Only plain address sets: the table,
 * chain and interval sets stay with nft, and so does any batch this path
 * cannot take; the caller falls back to nft when it throws NetlinkLost.
 * The socket is the `netlink` package's (a prebuilt N-API module, an
 * optional dependency): without it, nft does everything.
 */

/** This path could not say whether the batch was applied: run it through nft instead. */
export class NetlinkLost extends Error {}

/** One change to one element: `timeoutMs` null for an element without one. */
export interface ElementOp {
  verb: 'add' | 'delete';
  set: string;
  address: string;
  timeoutMs?: number | null;
}

/** What this module needs of the `netlink` package's RawNetlinkSocket (tests give a fake). */
export interface RawSocket {
  send(msg: Buffer, options: { port?: number } | undefined, cb: (err?: Error) => void): void;
  on(event: 'message', fn: (msg: Buffer) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  close(): void;
  unref(): void;
}
type RawSocketClass = new (protocol: number, options?: { recvBufferSize?: number }) => RawSocket;

const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFPROTO_INET = 1;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_CREATE = 0x400;
const NLA_F_NESTED = 0x8000;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_TIMEOUT = 4;
const NFTA_DATA_VALUE = 1;
/** Elements per message: well inside a netlink message's room. */
const ELEMENTS_PER_MESSAGE = 256;
/**
 * A batch travels in one datagram, which the socket's send buffer (208 KiB
 * by default) must hold; a bigger one goes through nft, without counting
 * against this path.
 */
const MAX_BATCH_BYTES = 128 * 1024;
/** A kernel that has not answered by then is not going to. */
const ANSWER_MS = 1_000;
/** After this many lost batches in a row, stop trying: nft from then on. */
const MAX_LOSSES = 3;

let socketClass: RawSocketClass | null | undefined;

/** The `netlink` package's socket class, or null when it is not installed or cannot load here. */
function loadSocketClass(): RawSocketClass | null {
  if (socketClass !== undefined) return socketClass;
  try {
    const req = createRequire(import.meta.url);
    socketClass = (req('netlink') as { RawNetlinkSocket: RawSocketClass }).RawNetlinkSocket;
  } catch {
    socketClass = null;
  }
  return socketClass;
}

function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

const cstring = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');

function message(type: number, flags: number, seq: number, family: number, resId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32LE(20 + payload.length, 0);
  head.writeUInt16LE(type, 4);
  head.writeUInt16LE(flags, 6);
  head.writeUInt32LE(seq >>> 0, 8);
  head.writeUInt32LE(0, 12);
  head.writeUInt8(family, 16);
  head.writeUInt8(0, 17);
  head.writeUInt16BE(resId, 18);
  return Buffer.concat([head, payload]);
}

/** An address's bytes in network order (4 or 16); null for what is not one. */
export function addressBytes(text: string): Buffer | null {
  const a = parseAddress(text);
  if (a === null) return null;
  const out = Buffer.alloc(keyBytes(a));
  writeAddress(out, 0, a);
  return out;
}

const keyBytes = (a: Address): number => (a.family === 4 ? 4 : 16);

/** Writes `a` at `at` in network order; returns the offset after it. */
function writeAddress(out: Buffer, at: number, a: Address): number {
  if (a.family === 4) out.writeUInt32BE(Number(a.value), at);
  else {
    out.writeBigUInt64BE(a.value >> 64n, at);
    out.writeBigUInt64BE(a.value & 0xffffffffffffffffn, at + 8);
  }
  return at + keyBytes(a);
}

/**
 * One transaction: BEGIN, a NEWSETELEM or DELSETELEM per run of changes of
 * one kind to one set (each acknowledged), END. The sequence numbers come
 * from `nextSeq`; those of the changes are in `acks`. A string says why the
 * batch cannot go this way.
 */
function encodeBatch(table: string, ops: readonly ElementOp[], nextSeq: () => number): { bytes: Buffer; acks: Set<number> } | string {
  const body: Buffer[] = [message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, nextSeq(), 0, NFNL_SUBSYS_NFTABLES, Buffer.alloc(0))];
  const acks = new Set<number>();
  for (let i = 0; i < ops.length;) {
    const first = ops[i]!;
    let end = i + 1;
    while (end < ops.length && end - i < ELEMENTS_PER_MESSAGE && ops[end]!.verb === first.verb && ops[end]!.set === first.set) end++;
    const elements = elementList(ops, i, end);
    if (typeof elements === 'string') return elements;
    i = end;
    const seq = nextSeq();
    acks.add(seq);
    const type = (NFNL_SUBSYS_NFTABLES << 8) | (first.verb === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
    const flags = NLM_F_REQUEST | NLM_F_ACK | (first.verb === 'add' ? NLM_F_CREATE : 0);
    const payload = Buffer.concat([attr(NFTA_SET_ELEM_LIST_TABLE, cstring(table)), attr(NFTA_SET_ELEM_LIST_SET, cstring(first.set)), elements]);
    body.push(message(type, flags, seq, NFPROTO_INET, 0, payload));
  }
  body.push(message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, nextSeq(), 0, NFNL_SUBSYS_NFTABLES, Buffer.alloc(0)));
  const bytes = Buffer.concat(body);
  if (bytes.length > MAX_BATCH_BYTES) return `batch of ${bytes.length} bytes, more than one datagram should carry`;
  return { bytes, acks };
}

/**
 * The NFTA_SET_ELEM_LIST_ELEMENTS attribute of ops[from, to): each element
 * its key and, added with a timeout, that timeout. Written into one buffer:
 * a few small buffers per element cost 4 µs of each under a flood. Every
 * length here is a multiple of 4, so no attribute needs padding.
 */
function elementList(ops: readonly ElementOp[], from: number, to: number): Buffer | string {
  const keys: Address[] = [];
  let size = 4;
  for (let k = from; k < to; k++) {
    const a = parseAddress(ops[k]!.address);
    if (a === null) return `not an address: ${ops[k]!.address}`;
    keys.push(a);
    size += elementBytes(a, ops[k]!);
  }
  const out = Buffer.alloc(size);
  let at = attrHeader(out, 0, size, NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
  keys.forEach((a, n) => {
    const op = ops[from + n]!;
    at = attrHeader(out, at, elementBytes(a, op), NFTA_LIST_ELEM | NLA_F_NESTED);
    at = attrHeader(out, at, 8 + keyBytes(a), NFTA_SET_ELEM_KEY | NLA_F_NESTED);
    at = attrHeader(out, at, 4 + keyBytes(a), NFTA_DATA_VALUE);
    at = writeAddress(out, at, a);
    if (hasTimeout(op)) {
      at = attrHeader(out, at, 12, NFTA_SET_ELEM_TIMEOUT);
      out.writeBigUInt64BE(BigInt(Math.max(1, Math.round(op.timeoutMs!))), at);
      at += 8;
    }
  });
  return out;
}

const hasTimeout = (op: ElementOp): boolean => op.verb === 'add' && typeof op.timeoutMs === 'number';

/** One element's bytes: its header, the key's nest, header and address, and a timeout attribute. */
const elementBytes = (a: Address, op: ElementOp): number => 12 + keyBytes(a) + (hasTimeout(op) ? 12 : 0);

function attrHeader(out: Buffer, at: number, len: number, type: number): number {
  out.writeUInt16LE(len, at);
  out.writeUInt16LE(type, at + 2);
  return at + 4;
}

interface Pending {
  left: Set<number>;
  /** The batch's first and last sequence numbers: an error on one not acknowledged (BEGIN) refuses it all. */
  first: number;
  last: number;
  errors: string[];
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class NftNetlink {
  private socket: RawSocket | null = null;
  private seq = Math.floor(Math.random() * 0x3fffffff);
  private pending: Pending | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private losses = 0;
  private readonly throttled: ThrottledLog;

  private readonly connect: () => RawSocket;
  private readonly answerMs: number;
  private readonly hasModule: boolean;

  constructor(private readonly table: string, logger: Logger, opts: { socket?: () => RawSocket; answerMs?: number } = {}) {
    this.throttled = new ThrottledLog(logger, 60_000);
    this.connect = opts.socket ?? (() => new (loadSocketClass()!)(NETLINK_NETFILTER, { recvBufferSize: 1 << 20 }));
    this.answerMs = opts.answerMs ?? ANSWER_MS;
    this.hasModule = opts.socket !== undefined || loadSocketClass() !== null;
  }

  /** Whether this path is worth trying: the module loads and it has not failed too often in a row. */
  get usable(): boolean {
    return this.losses < MAX_LOSSES && this.hasModule;
  }

  /** Applies the changes as one transaction; rejects with the kernel's refusal, or NetlinkLost. */
  apply(ops: readonly ElementOp[]): Promise<void> {
    const next = this.tail.then(() => this.exec(ops));
    this.tail = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.drop(new NetlinkLost('netlink socket closed'));
  }

  /** Opens the socket ahead of the first ban (loading the module takes milliseconds); null when it cannot be. */
  open(): RawSocket | null {
    if (!this.usable) return null;
    try {
      return this.ensure();
    } catch (e) {
      this.losses = MAX_LOSSES;
      this.throttled.warn('open', `cannot open a netfilter netlink socket (${(e as Error).message}); nft makes every change`);
      return null;
    }
  }

  private exec(ops: readonly ElementOp[]): Promise<void> {
    const socket = this.open();
    if (socket === null) return Promise.reject(new NetlinkLost('netlink path given up'));
    const first = this.seq + 1;
    const batch = encodeBatch(this.table, ops, () => ++this.seq);
    if (typeof batch === 'string') return Promise.reject(new NetlinkLost(batch));
    if (batch.acks.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.lose(`no answer within ${this.answerMs} ms`), this.answerMs);
      this.pending = { left: batch.acks, first, last: this.seq, errors: [], resolve, reject, timer };
      socket.send(batch.bytes, undefined, (err) => {
        if (err) this.lose(`send: ${err.message}`);
      });
    });
  }

  private ensure(): RawSocket {
    if (this.socket) return this.socket;
    const socket = this.connect();
    socket.on('message', (msg) => this.onMessage(msg));
    socket.on('error', (err) => this.lose(err.message));
    // An idle socket must not keep the process alive; a batch in flight has its timer.
    socket.unref();
    this.socket = socket;
    return socket;
  }

  private onMessage(msg: Buffer): void {
    const p = this.pending;
    for (let at = 0; at + 16 <= msg.length;) {
      const len = msg.readUInt32LE(at);
      if (len < 16 || at + len > msg.length) break;
      const type = msg.readUInt16LE(at + 4);
      const seq = msg.readUInt32LE(at + 8);
      if (p !== null && type === NLMSG_ERROR && len >= 20 && seq >= p.first && seq <= p.last) {
        const errno = -msg.readInt32LE(at + 16);
        if (p.left.delete(seq)) {
          if (errno !== 0) p.errors.push(errnoName(errno));
        } else if (errno !== 0) {
          // The batch itself refused (without CAP_NET_ADMIN: EPERM on its BEGIN): no other answer comes.
          p.errors.push(errnoName(errno));
          p.left.clear();
        }
      }
      at += (len + 3) & ~3;
    }
    if (p === null || p.left.size > 0) return;
    this.pending = null;
    clearTimeout(p.timer);
    this.losses = 0;
    if (p.errors.length === 0) p.resolve();
    else p.reject(new AsteriskBanError('E_ACTION', `nf_tables refused the batch: ${[...new Set(p.errors)].join(', ')}`));
  }

  /** The socket is useless: settle the batch as lost; the next one opens a new socket. */
  private lose(why: string): void {
    if (this.pending) this.losses++;
    this.throttled.warn('lost', `netlink: ${why}; ${this.usable ? 'the batch goes through nft' : 'nft makes every change from now on'}`);
    this.drop(new NetlinkLost(why));
  }

  private drop(err: Error): void {
    const socket = this.socket;
    this.socket = null;
    try {
      socket?.close();
    } catch {
      // Closed already.
    }
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    clearTimeout(p.timer);
    p.reject(err);
  }
}

const ERRNO: Record<number, string> = { 1: 'EPERM (not allowed)', 2: 'ENOENT (no such table, set or element)', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 28: 'ENOSPC (set full)', 95: 'EOPNOTSUPP' };

function errnoName(n: number): string {
  return ERRNO[n] ?? `errno ${n}`;
}
