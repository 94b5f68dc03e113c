import { killChildren } from '../actions/exec.js';
import { systemClock } from '../core/clock.js';
import { AsteriskBanError } from '../core/errors.js';
import { createLogger, logsToStderr, reopenLogFiles, type Logger } from '../core/logger.js';
import { checkConfig } from '../cli/check-config.js';
import { ControlServer } from '../control/server.js';
import { startMetricsServer, type MetricsServer } from '../control/metrics-server.js';
import { daemonApi } from './api.js';
import { notifySystemd } from './notify.js';
import { Daemon } from './daemon.js';

const STOP_DEADLINE_MS = 10_000;

export interface RunOptions {
  config: string;
  socket?: string;
}

/**
 * `asterisk-ban run`: validate, open state, restore bans, start jails, serve
 * the control socket; SIGHUP reloads, SIGTERM/SIGINT stop within 10 s.
 */
export async function runDaemon(opts: RunOptions): Promise<number> {
  const check = checkConfig(opts.config);
  if (check.errors.length > 0 || !check.settings) {
    for (const e of check.errors) process.stderr.write(`error: ${e.describe()}\n`);
    process.stderr.write(`asterisk-ban: refusing to start: ${check.errors.length} configuration error(s) in ${opts.config}\n`);
    return 1;
  }
  const settings = check.settings;
  if (opts.socket) settings.daemon.socket = opts.socket;
  const ds = settings.daemon;
  const logger = createLogger({ level: ds.loglevel, target: ds.logtarget, json: ds.logjson });
  for (const w of check.warnings) logger.warn(w);

  let daemon: Daemon;
  try {
    daemon = new Daemon({ configDir: opts.config, settings, compiled: check.compiled, clock: systemClock, logger });
  } catch (err) {
    return fatal(logger, err, 'cannot open the state database', ds.logtarget);
  }
  const control = new ControlServer({ path: ds.socket, api: daemonApi(daemon, () => systemClock.now()), logger: logger.child({ source: 'control' }) });
  let metrics: MetricsServer | null = null;
  try {
    await control.start();
    await daemon.start();
    if (ds.metrics) {
      metrics = await startMetricsServer({ host: ds.metrics.host, port: ds.metrics.port, logger, health: () => daemon.problems() });
    }
  } catch (err) {
    await Promise.allSettled([control.close(), daemon.stop()]);
    return fatal(logger, err, 'start-up failed', ds.logtarget);
  }
  logger.info(`control socket ${ds.socket}`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    let ready: Promise<void> = Promise.resolve();
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info(`${signal}: stopping`);
      // Awaited before exiting: a process gone first leaves systemd-notify nothing to speak for. After READY=1, never before it.
      const told = ready.then(() => notifySystemd(logger, { stopping: true, status: 'stopping' }));
      const deadline = setTimeout(() => {
        const killed = killChildren();
        logger.error(`clean stop took over ${STOP_DEADLINE_MS / 1000} s; exiting anyway${killed ? ` (killed ${killed} command(s) still running)` : ''}`);
        resolve(1);
        // Whatever still holds the event loop (a socket, a stuck call) must not outlive the promise to stop.
        setTimeout(() => process.exit(1), 200);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      void (async () => {
        await Promise.allSettled([control.close(), metrics?.close()]);
        await daemon.stop().catch((err: Error) => logger.error(`stop: ${err.message}`));
        clearTimeout(deadline);
        // A mail or whois still running after the actions gave up on it would keep the process alive.
        await told;
        const killed = killChildren();
        logger.info(`stopped${killed ? ` (killed ${killed} command(s) still running)` : ''}`);
        resolve(0);
      })();
    };
    const reload = () => {
      daemon.reload().catch((err: unknown) => {
        const msg = err instanceof AsteriskBanError ? err.describe() : String(err);
        logger.error(`reload refused, running configuration kept:\n${msg}`);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', reload);
    process.on('SIGUSR1', () => {
      if (reopenLogFiles(logger) > 0) logger.info('SIGUSR1: log file reopened');
    });
    // Every jail's source has started or said why it could not: ready, for systemd too. Only
    // now that SIGTERM is handled: systemd may send it the moment it hears READY=1, and
    // before, it would have killed the daemon without a clean stop.
    ready = notifySystemd(logger, { ready: true, status: `${daemon.runtimes.size} jail(s) running` });
  });
}

function fatal(logger: Logger, err: unknown, what: string, target: string): number {
  const msg = err instanceof AsteriskBanError ? `${err.code}: ${err.describe()}` : err instanceof Error ? err.message : String(err);
  logger.error(`${what}: ${msg}`);
  // systemd shows stderr when it restarts us; a log file or syslog alone would hide why.
  if (!logsToStderr(target)) process.stderr.write(`asterisk-ban: ${what}: ${msg}\n`);
  return 1;
}
