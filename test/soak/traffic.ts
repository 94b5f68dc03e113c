// The soak's traffic, run inside the soak's network namespace: a fake
// Asterisk sending the AMI flood to whoever is logged in, and the writer of
// the Asterisk log the log jail follows (rotated on request). Talks to the
// soak harness in JSON lines: commands on stdin, crossings and marks on stdout.
import { openSync, writeSync, closeSync, renameSync, copyFileSync, ftruncateSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { FakeAmiServer, securityEvent } from '../helpers/fake-ami-server.js';
import { stamp } from '../helpers/daemon.js';
import { BurstStream, addressPool, seeded, type BurstPlan, type Crossing } from './bursts.js';

export interface TrafficConfig {
  user: string;
  secret: string;
  logPath: string;
  seed: number;
  ami: BurstPlan & { pool: number };
  log: BurstPlan & { pool: number };
  /** Addresses in the jails' ignoreip: failures and logins from them all along. */
  ignored: string[];
}

const config = JSON.parse(process.argv[2]!) as TrafficConfig;
const say = (msg: object) => process.stdout.write(`${JSON.stringify(msg)}\n`);
const random = seeded(config.seed);

const cross = (j: 'ami' | 'log') => (c: Crossing) => say({ k: 'cross', j, ...c });
const amiStream = new BurstStream(addressPool(config.ami.pool, [10, 64], '2001:db8:a::'), config.ami, random, cross('ami'));
const logStream = new BurstStream(addressPool(config.log.pool, [10, 128], '2001:db8:b::'), config.log, random, cross('log'));

const ami = await FakeAmiServer.start({ username: config.user, secret: config.secret });
let amiPaused = false;
// A kicked socket stays in the server's list until its close event: events are
// delivered only once the daemon has logged in again after a drop.
let loginsAtDrop = -1;
let logFd = openSync(config.logPath, 'a', 0o640);
let ignoredAmi = 0;
let ignoredLog = 0;
let tickNo = 0;

function eventTime(now: number): string {
  return new Date(now).toISOString().replace('Z', '+0000');
}

function logLine(ip: string, now: number): string {
  const where = ip.includes(':') ? `[${ip}]:5060` : `${ip}:5060`;
  return `${stamp(new Date(now))} NOTICE[2211] chan_sip.c: Registration from '<sip:100@192.0.2.1:5060>' failed for '${where}' - Wrong password\n`;
}

function tick(): void {
  const now = Date.now();
  tickNo++;
  const amiUp = ami.loggedIn > 0 && !amiPaused && ami.logins > loginsAtDrop;
  const time = eventTime(now);
  let text = '';
  for (const ip of amiStream.tick(now, amiUp)) text += securityEvent({ ip, time, account: String(100 + (tickNo % 50)) });
  if (amiUp) {
    // Two failures a tick from ignored addresses, and now and then their successful logins.
    for (let i = 0; i < 2; i++) text += securityEvent({ ip: config.ignored[(tickNo * 2 + i) % config.ignored.length]!, time });
    ignoredAmi += 2;
    if (tickNo % 20 === 0) text += securityEvent({ event: 'SuccessfulAuth', ip: config.ignored[tickNo % config.ignored.length]!, time });
    ami.send(text);
  }
  let lines = '';
  for (const ip of logStream.tick(now, true)) lines += logLine(ip, now);
  lines += logLine(config.ignored[tickNo % config.ignored.length]!, now);
  ignoredLog++;
  writeSync(logFd, lines);
}

function rotate(mode: string): void {
  const now = Date.now();
  if (mode === 'copytruncate') {
    // What the follower had not read yet when the file was cut is gone: as with logrotate.
    copyFileSync(config.logPath, `${config.logPath}.1`);
    ftruncateSync(logFd, 0);
    logStream.markRisk(now - 1_000);
  } else {
    renameSync(config.logPath, `${config.logPath}.1`);
    closeSync(logFd);
    logFd = openSync(config.logPath, 'a', 0o640);
  }
  say({ k: 'rotated', mode, at: now });
}

function mark(id: unknown): void {
  say({
    k: 'mark',
    id,
    at: Date.now(),
    ami: { sent: amiStream.total, delivered: amiStream.delivered, crossings: amiStream.crossings, shortfall: amiStream.shortfall, ignored: ignoredAmi },
    log: { sent: logStream.total, delivered: logStream.delivered, crossings: logStream.crossings, shortfall: logStream.shortfall, ignored: ignoredLog },
    logins: ami.logins,
  });
}

const timer = setInterval(tick, 10);
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { op: string; mode?: string; id?: unknown };
  if (cmd.op === 'drop') {
    // Stop sending first: what was written is read before the socket goes.
    amiPaused = true;
    setTimeout(() => {
      loginsAtDrop = ami.logins;
      ami.kick();
      amiPaused = false;
      say({ k: 'dropped', at: Date.now() });
    }, 200);
  } else if (cmd.op === 'rotate') rotate(cmd.mode ?? 'rename');
  else if (cmd.op === 'mark') mark(cmd.id);
  else if (cmd.op === 'stop') {
    clearInterval(timer);
    mark('final');
    void ami.close().then(() => process.exit(0));
  }
});
say({ k: 'ready', port: ami.port });
