/**
 * A deterministic, realistic Asterisk `messages` log (logger.conf
 * `dateformat = %F %T`): mostly ordinary call and registration chatter,
 * with a share of failure lines of every kind our filter knows, from many
 * IPv4 and IPv6 sources. Shared by the filter benchmark and other benches.
 */
export interface GenOptions {
  lines: number;
  seed: number;
  /** Share of failure lines, 0..1 (default 0.2). */
  failureRatio?: number;
  /** Share of failures from IPv6 sources (default 0.2). */
  ipv6Ratio?: number;
  /** Distinct attacking addresses (default 5000). */
  addresses?: number;
  /** ms epoch of the first line (default 2026-11-27 00:00:00 UTC). */
  start?: number;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function stamp(ms: number): string {
  const d = new Date(ms);
  return `[${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}]`;
}

const EXTS = ['100', '101', '200', '201', '300', '555', '8000'];
const APPS = ['Dial("SIP/%p-%c", "SIP/%e,20")', 'Answer("SIP/%p-%c", "")', 'Playback("SIP/%p-%c", "vm-goodbye")', 'Hangup("SIP/%p-%c", "")', 'NoOp("SIP/%p-%c", "inbound")', 'Set("PJSIP/%p-%c", "CDR(userfield)=x")'];

export function* generateAsteriskLog(opts: GenOptions): Generator<string> {
  const rnd = prng(opts.seed);
  const failureRatio = opts.failureRatio ?? 0.2;
  const ipv6Ratio = opts.ipv6Ratio ?? 0.2;
  const addresses = opts.addresses ?? 5000;
  let t = opts.start ?? Date.UTC(2026, 10, 27, 0, 0, 0);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const attacker = (): { ip: string; v6: boolean } => {
    const k = Math.floor(rnd() * addresses);
    if (rnd() < ipv6Ratio) return { ip: `2001:db8:${(k >> 8).toString(16)}::${(k & 0xff).toString(16)}`, v6: true };
    return { ip: `${198 + (k % 3)}.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, v6: false };
  };
  const tid = (): number => 1000 + Math.floor(rnd() * 30000);
  const chan = (): string => `C-${Math.floor(rnd() * 0xffff).toString(16).padStart(8, '0')}`;
  const user = (): string => pick(['admin', '100', '1001', 'test', 'sip', 'asterisk', '9999', 'root']);
  for (let i = 0; i < opts.lines; i++) {
    if (rnd() < 0.3) t += 1000;
    const ts = stamp(t);
    if (rnd() < failureRatio) {
      const a = attacker();
      const port = 5060 + Math.floor(rnd() * 20);
      const hp = a.v6 ? `[${a.ip}]:${port}` : `${a.ip}:${port}`;
      switch (Math.floor(rnd() * 9)) {
        case 0: yield `${ts} NOTICE[${tid()}] chan_sip.c: Registration from '"${user()}" <sip:${user()}@192.0.2.1>' failed for '${hp}' - ${pick(['Wrong password', 'No matching peer found', 'Username/auth name mismatch', 'Device does not match ACL'])}`; break;
        case 1: yield `${ts} NOTICE[${tid()}] res_pjsip/pjsip_distributor.c: Request '${pick(['REGISTER', 'INVITE', 'OPTIONS'])}' from '<sip:${user()}@192.0.2.1>' failed for '${hp}' (callid: ${Math.floor(rnd() * 1e9).toString(16)}) - ${pick(['No matching endpoint found', 'Failed to authenticate', 'Not match Endpoint ACL'])}`; break;
        case 2: yield `${ts} SECURITY[${tid()}] res_security_log.c: SecurityEvent="${pick(['InvalidPassword', 'InvalidAccountID', 'ChallengeResponseFailed'])}",EventTV="2026-11-27T00:00:00.000+0000",Severity="Error",Service="${pick(['SIP', 'PJSIP'])}",EventVersion="2",AccountID="${user()}",SessionID="0x7f3d${Math.floor(rnd() * 1e6)}",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="${a.v6 ? 'IPV6' : 'IPV4'}/UDP/${a.ip}/${port}",Challenge="46fcd37a"`; break;
        case 3: yield `${ts} NOTICE[${tid()}][${chan()}] chan_sip.c: Call from '' (${a.ip}:${port}) to extension '${pick(['011972592', '00441', '9011'])}' rejected because extension not found in context 'public'.`; break;
        case 4: yield `${ts} NOTICE[${tid()}] chan_iax2.c: Host ${a.ip} failed MD5 authentication for '${user()}' (8f3c != 1a2b)`; break;
        case 5: yield `${ts} NOTICE[${tid()}] chan_iax2.c: No registration for peer '${user()}' (from ${a.ip})`; break;
        case 6: yield `${ts} NOTICE[${tid()}] manager.c: ${a.ip} tried to authenticate with nonexistent user '${user()}'`; break;
        case 7: yield `${ts} NOTICE[${tid()}] chan_sip.c: Registration from '<sip:${user()}@192.0.2.1>' failed for '${hp}' - No matching peer found`; break;
        default: yield `${ts} SECURITY[${tid()}] res_security_log.c: SecurityEvent="ChallengeSent",EventTV="2026-11-27T00:00:00.000+0000",Severity="Informational",Service="SIP",EventVersion="1",AccountID="${user()}",SessionID="0x7f3d",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="${a.v6 ? 'IPV6' : 'IPV4'}/UDP/${a.ip}/${port}",Challenge="1b2c3d4e"`;
      }
      continue;
    }
    const c = chan();
    const peer = pick(EXTS);
    switch (Math.floor(rnd() * 10)) {
      case 0:
      case 1:
      case 2: yield `${ts} VERBOSE[${tid()}][${c}] pbx.c: Executing [${pick(EXTS)}@from-internal:${1 + Math.floor(rnd() * 5)}] ${pick(APPS).replace('%p', peer).replace('%c', c.slice(2)).replace('%e', pick(EXTS))} in new stack`; break;
      case 3: yield `${ts} VERBOSE[${tid()}][${c}] file.c: <SIP/${peer}-${c.slice(2)}> Playing '${pick(['vm-goodbye', 'hello-world', 'tt-monkeys'])}.gsm' (language 'en')`; break;
      case 4: yield `${ts} VERBOSE[${tid()}][${c}] pbx.c: Spawn extension (from-internal, ${pick(EXTS)}, 1) exited non-zero on 'SIP/${peer}-${c.slice(2)}'`; break;
      case 5: yield `${ts} NOTICE[${tid()}] chan_sip.c: Peer '${peer}' is now Reachable. (${Math.floor(rnd() * 90)}ms / 2000ms)`; break;
      case 6: yield `${ts} VERBOSE[${tid()}] res_pjsip/pjsip_options.c: Contact ${peer}/sip:${peer}@10.0.0.${Math.floor(rnd() * 250)}:5060 is now Reachable. RTT: ${(rnd() * 80).toFixed(3)} msec`; break;
      case 7: yield `${ts} VERBOSE[${tid()}] res_pjsip_registrar.c: Added contact 'sip:${peer}@10.0.0.${Math.floor(rnd() * 250)}:5060;transport=UDP' to AOR '${peer}' with expiration of 3600 seconds`; break;
      case 8: yield `${ts} VERBOSE[${tid()}][${c}] bridge_channel.c: Channel SIP/${peer}-${c.slice(2)} joined 'simple_bridge' basic-bridge <${Math.floor(rnd() * 1e9).toString(16)}>`; break;
      default: yield `${ts} VERBOSE[${tid()}][${c}] app_dial.c: SIP/${peer}-${c.slice(2)} is ringing`;
    }
  }
}

/** Writes a generated log to a file (CLI: node --import tsx test/bench/gen-asterisk-log.ts FILE LINES [SEED]). */
export async function writeAsteriskLog(file: string, opts: GenOptions): Promise<void> {
  const { createWriteStream } = await import('node:fs');
  const out = createWriteStream(file);
  let buf = '';
  for (const line of generateAsteriskLog(opts)) {
    buf += `${line}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, lines, seed] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: gen-asterisk-log.ts FILE [LINES] [SEED]\n');
    process.exitCode = 2;
  } else {
    await writeAsteriskLog(file, { lines: Number(lines ?? 1_000_000), seed: Number(seed ?? 1) });
  }
}
