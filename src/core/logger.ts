import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import winston from 'winston';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LoggerOptions {
  level?: LogLevel;
  /**
   * `console` (stderr; under systemd, when stderr is the journal, as
   * `journal`), `stdout`, `journal` (stderr, `<3>`-style priority prefixes
   * and no timestamp of our own: journald keeps the priority and forwards
   * to syslog), `syslog` (the system logger, through logger(1)), or a file.
   */
  target?: string;
  json?: boolean;
  /** The environment that says whether stderr is the journal (JOURNAL_STREAM). */
  env?: NodeJS.ProcessEnv;
}

export type Logger = winston.Logger;

// fail2ban accepts CRITICAL/NOTICE/...; map them onto winston's npm levels.
const LEVEL_ALIASES: Record<string, LogLevel> = {
  critical: 'error', error: 'error', warning: 'warn', warn: 'warn', notice: 'info', info: 'info', debug: 'debug', trace: 'debug',
};

export function parseLogLevel(text: string): LogLevel | null {
  return LEVEL_ALIASES[text.trim().toLowerCase()] ?? null;
}

const SYSLOG_PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

function textFormat(prefixPriority: boolean): winston.Logform.Format {
  return winston.format.printf((info) => {
    const { level, message, timestamp, ...meta } = info as Record<string, unknown> & { level: string; message: unknown };
    const ctx = Object.entries(meta)
      .filter(([k]) => typeof k === 'string')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const body = `${String(message)}${ctx ? ` [${ctx}]` : ''}`;
    if (prefixPriority) return `<${SYSLOG_PRIORITY[level] ?? 6}>${body}`;
    return `${String(timestamp)} ${level.toUpperCase().padEnd(5)} ${body}`;
  });
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const target = (opts.target ?? 'console').trim();
  let upper = target.toUpperCase();
  if ((upper === 'CONSOLE' || upper === 'STDERR') && stderrIsJournal(opts.env ?? process.env)) upper = 'JOURNAL';
  const prefixed = upper === 'JOURNAL' || upper === 'SYSLOG';
  const format = opts.json
    ? winston.format.combine(winston.format.timestamp(), winston.format.json())
    : winston.format.combine(winston.format.timestamp(), textFormat(prefixed));
  const stderr = (): winston.transport => new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] });
  let transport: winston.transport;
  let fallback: string | null = null;
  if (logsToStderr(upper)) {
    transport = stderr();
  } else if (upper === 'SYSLOG') {
    const sys = syslogStream();
    fallback = sys.error;
    transport = sys.stream ? new winston.transports.Stream({ stream: sys.stream }) : stderr();
  } else if (upper === 'STDOUT') {
    transport = new winston.transports.Console();
  } else {
    // winston opens the file later and drops what it cannot write: find out now, and say it on stderr.
    fallback = cannotAppend(target);
    transport = fallback === null ? new winston.transports.File({ filename: target }) : stderr();
  }
  const logger = winston.createLogger({ level: opts.level ?? 'info', format, transports: [transport] });
  if (fallback !== null) logger.error(`cannot write to logtarget ${target}: ${fallback}; logging to stderr instead`);
  return logger;
}

/** Whether a logtarget writes to stderr (console, stderr, journal). */
export function logsToStderr(target: string): boolean {
  const upper = target.toUpperCase();
  return upper === 'CONSOLE' || upper === 'STDERR' || upper === 'JOURNAL';
}

/** systemd connects stderr to the journal and says so in JOURNAL_STREAM (device:inode of that stream). */
function stderrIsJournal(env: NodeJS.ProcessEnv): boolean {
  const js = env.JOURNAL_STREAM;
  if (!js) return false;
  try {
    const st = fstatSync(2);
    return js === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/**
 * The system logger: one long-lived logger(1) reading `<N>message` lines on
 * its stdin (Node has no unix datagram socket for /dev/log). It must not
 * keep the process alive, and it ends with our stdin pipe.
 */
function syslogStream(): { stream: NodeJS.WritableStream | null; error: string | null } {
  try {
    const child = spawn('logger', ['--prio-prefix', '-t', 'asterisk-ban'], { stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', () => {});
    child.stdin.on('error', () => {});
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    return { stream: child.stdin, error: null };
  } catch (err) {
    return { stream: null, error: `cannot run logger(1): ${(err as Error).message}` };
  }
}

function cannotAppend(path: string): string | null {
  try {
    closeSync(openSync(path, 'a', 0o600));
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Opens the log files again (SIGUSR1, after logrotate moved them away), so
 * new lines go to a file of the old name. Other targets are left as they are.
 */
export function reopenLogFiles(logger: Logger): number {
  let n = 0;
  for (const t of [...logger.transports]) {
    if (!(t instanceof winston.transports.File)) continue;
    const filename = (t as unknown as { filename: string; dirname: string }).filename;
    const dirname = (t as unknown as { dirname: string }).dirname;
    logger.remove(t);
    t.close?.();
    logger.add(new winston.transports.File({ filename: `${dirname}/${filename}` }));
    n++;
  }
  return n;
}

/** A logger that prints nothing: for tests and library use. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}

/**
 * The same warning at most once per interval, with the number suppressed in
 * between: attackers can otherwise fill the disk through our own log.
 */
export class ThrottledLog {
  private readonly seen = new Map<string, { last: number; suppressed: number }>();
  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
    private readonly clock: Clock = systemClock,
    private readonly maxKeys = 10_000,
  ) {}

  warn(key: string, message: string, meta: Record<string, unknown> = {}): void {
    this.emit('warn', key, message, meta);
  }

  info(key: string, message: string, meta: Record<string, unknown> = {}): void {
    this.emit('info', key, message, meta);
  }

  error(key: string, message: string, meta: Record<string, unknown> = {}): void {
    this.emit('error', key, message, meta);
  }

  private emit(level: LogLevel, key: string, message: string, meta: Record<string, unknown>): void {
    const now = this.clock.now();
    const entry = this.seen.get(key);
    if (entry && now - entry.last < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    if (!entry && this.seen.size >= this.maxKeys) {
      this.seen.delete(this.seen.keys().next().value as string);
    }
    const suppressed = entry?.suppressed ?? 0;
    this.seen.set(key, { last: now, suppressed: 0 });
    this.logger.log(level, suppressed > 0 ? `${message} (${suppressed} more like it suppressed)` : message, meta);
  }
}
