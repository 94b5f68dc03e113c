import { AsteriskBanError, isAsteriskBanError } from '../core/errors.js';
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../control/version.js';
import {
  alertsCommand, banCommand, fleetStatusCommand, bannedCommand, getCommand, listCommand, reloadCommand, setCommand, statusCommand, unbanCommand, versionCommand, type ClientContext,
} from './client-commands.js';
import { EXIT, EXIT_CODES_HELP, UsageError, describeError, exitCodeFor, processIo, type CliIo } from './io.js';
import { locateDaemon, resolveConfigDir, type DaemonLocation } from './locate.js';

/**
 * The command line. A thin client: everything but `run`, `check-config` and
 * `test-filter` is one request over the control socket. Exit codes are listed
 * in io.ts (EXIT) and printed at the end of --help.
 */

interface Globals {
  config?: string;
  socket?: string;
}

function configDir(cmd: Command, io: CliIo): string {
  return resolveConfigDir(cmd.optsWithGlobals<Globals>().config, io.env, io.cwd);
}

function buildProgram(io: CliIo, setCode: (code: number) => void, located: (where: DaemonLocation) => void = () => {}): Command {
  const program = new Command('asterisk-ban');
  program
    .description('Intrusion prevention for Asterisk: bans attackers seen in AMI security events or logs')
    .version(packageVersion(), '-V, --version', 'print the client version')
    .option('--config <dir>', 'configuration directory (env ASTERISK_BAN_CONFIG; default ./config if it exists, else /etc/asterisk-ban)')
    .option('--socket <path>', "the daemon's control socket (env ASTERISK_BAN_SOCKET; default: `socket` in asterisk-ban.conf, else /run/asterisk-ban/asterisk-ban.sock)")
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(see asterisk-ban --help)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  // Commander calls actions with (...arguments, options, command). Each returns its
  // exit code; errors propagate to main() for one-line reporting.
  const act = <A extends unknown[]>(fn: (cmd: Command, ...args: A) => Promise<number>) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      setCode(await fn(cmd, ...(args.slice(0, -1) as A)));
    };
  // Only the client commands look for the socket (it may mean reading .env and asterisk-ban.conf).
  const client = (cmd: Command): ClientContext => {
    const g = cmd.optsWithGlobals<Globals>();
    const where = locateDaemon(g.socket, g.config, io.env, io.cwd);
    located(where);
    return { socket: where.socket, io };
  };

  program.command('run')
    .description('run the daemon in the foreground (systemd runs it so; npm start runs this)')
    .action(act(async (cmd) => {
      const config = configDir(cmd, io);
      // Only an explicit --socket or ASTERISK_BAN_SOCKET; otherwise the daemon reads its own settings.
      const socket = cmd.optsWithGlobals<Globals>().socket ?? (io.env.ASTERISK_BAN_SOCKET || undefined);
      // Loaded only here: the client commands never pay for the daemon's modules.
      const { runDaemon } = await import('../daemon/run.js');
      return runDaemon(socket === undefined ? { config } : { config, socket });
    }));

  program.command('check-config')
    .description('validate the whole configuration; non-zero exit with file:line messages')
    .option('--dump', 'print the effective settings of every jail, one JSON object per line (secrets hidden)')
    .action(act(async (cmd, opts: { dump?: boolean }) => {
      const { checkConfigCommand } = await import('./check-config.js');
      return checkConfigCommand({ config: configDir(cmd, io), dump: opts.dump === true }, io.stdout, io.stderr);
    }));

  program.command('test-filter')
    .description('run a filter over a log file and report what it matches')
    .argument('<log>', 'a log file (or a single line)')
    .argument('<filter>', 'a filter name from filter.d, or a filter file')
    .option('--json', 'one JSON object per line')
    .option('--print-all-missed', 'print every line no failregex matched')
    .option('--print-all-matched', 'print every matched line')
    .option('--jobs <n>', 'threads for a big log\'s summary (default: one per two CPUs, at most 4)')
    .action(act(async (cmd, log: string, filter: string, opts: { json?: boolean; printAllMissed?: boolean; printAllMatched?: boolean; jobs?: string }) => {
      let jobs: number | undefined;
      if (opts.jobs !== undefined) {
        jobs = Number(opts.jobs);
        if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs: expected a whole number from 1 to 64, got ${JSON.stringify(opts.jobs)}`);
      }
      const { testFilterCommand } = await import('./test-filter.js');
      return testFilterCommand(log, filter, { json: opts.json, printAllMissed: opts.printAllMissed, printAllMatched: opts.printAllMatched, jobs, config: configDir(cmd, io) }, io.stdout, io.stderr);
    }));

  program.command('status')
    .description('per-jail counters, banned addresses and source state')
    .argument('[jail]', 'only this jail')
    .option('--json', 'one JSON object per jail per line')
    .action(act(async (cmd, jail: string | undefined, opts: { json?: boolean }) => statusCommand(client(cmd), jail, opts)));

  program.command('list')
    .description('active bans: address, jail, since, until, count, reason')
    .option('--json', 'one JSON object per ban per line')
    .action(act(async (cmd, opts: { json?: boolean }) => listCommand(client(cmd), opts)));

  program.command('alerts')
    .description('recent alerts (compromise, new_network, wave, health), oldest first')
    .option('--since <duration>', 'how far back: 10m, 1h, 3d, 1w, or all (default 24h)')
    .option('--json', 'one JSON object per alert per line')
    .action(act(async (cmd, opts: { json?: boolean; since?: string }) => alertsCommand(client(cmd), opts)));

  program.command('ban')
    .description('ban addresses in a jail now (one already banned says so)')
    .argument('<jail>', 'the jail whose actions apply the ban')
    .argument('<address...>', 'IPv4 or IPv6 addresses, or IPv6 prefixes (2001:db8:1:2::/64, /48 to /128)')
    .option('--time <duration>', "ban length: 600, 10m, 1h, 3d, 1w; -1 permanent (default: the jail's bantime)")
    .option('--force', 'ban even an ignored address and skip verification')
    .option('--json', 'one JSON object per ban per line')
    .action(act(async (cmd, jail: string, ips: string[], opts: { time?: string; force?: boolean; json?: boolean }) => banCommand(client(cmd), jail, ips, opts)));

  program.command('unban')
    .description('lift bans (in every jail unless --jail), or all bans with --all')
    .argument('[address...]', 'IPv4 or IPv6 addresses, or banned IPv6 prefixes')
    .option('--jail <jail>', 'only in this jail')
    .option('--all', 'lift every ban')
    .option('--node <name>', 'lift every ban that came from this fleet node (here only)')
    .option('--json', 'one JSON object per lifted ban per line')
    .action(act(async (cmd, ips: string[], opts: { jail?: string; all?: boolean; node?: string; json?: boolean }) => unbanCommand(client(cmd), ips, opts)));

  program.command('fleet')
    .description('fleet mode (shared bans through Redis)')
    .command('status')
    .description('the Redis connection, the nodes seen and their heartbeats, stream lag, outbox, remote bans')
    .option('--json', 'one JSON object')
    .action(act(async (cmd, opts: { json?: boolean }) => fleetStatusCommand(client(cmd), opts)));

  program.command('banned')
    .description('which jails ban each address (fail2ban-client banned)')
    .argument('<address...>', 'IPv4 or IPv6 addresses (a ban of a prefix holding one counts)')
    .option('--json', 'one JSON object per address per line')
    .action(act(async (cmd, ips: string[], opts: { json?: boolean }) => bannedCommand(client(cmd), ips, opts)));

  program.command('get')
    .description('a jail option as the running jail has it: maxretry, findtime, bantime, ignoreip, logpath, action...')
    .argument('<jail>', 'the jail')
    .argument('<option>', 'the option')
    .option('--json', 'one JSON object')
    .action(act(async (cmd, jail: string, option: string, opts: { json?: boolean }) => getCommand(client(cmd), jail, option, opts)));

  program.command('set')
    .description('change a daemon setting while it runs: loglevel')
    .argument('<option>', 'loglevel')
    .argument('<value>', 'CRITICAL, ERROR, WARNING, NOTICE, INFO or DEBUG')
    .action(act(async (cmd, option: string, value: string) => setCommand(client(cmd), option, value)));

  program.command('reload')
    .description('re-read the configuration (all jails, or one)')
    .argument('[jail]', 'only this jail')
    .action(act(async (cmd, jail: string | undefined) => reloadCommand(client(cmd), jail)));

  program.command('version')
    .description("print this client's version and the running daemon's")
    .action(act(async (cmd) => versionCommand(client(cmd))));

  return program;
}

function commanderExit(err: CommanderError): number {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.OK;
  return EXIT.USAGE;
}

/**
 * Runs the CLI and resolves with the exit code. `argv` is process.argv-shaped
 * (node, script, args...); `io` is injectable so tests run this in-process.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let code: number = EXIT.OK;
  let where: DaemonLocation | null = null;
  const program = buildProgram(io, (c) => {
    code = c;
  }, (w) => {
    where = w;
  });
  try {
    await program.parseAsync(argv, { from: 'node' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err);
    io.stderr.write(`${describeError(err)}\n`);
    // A script that asked for --json reads the error as JSON too, on stdout.
    if (argv.includes('--json')) io.stdout.write(`${JSON.stringify({ error: errorJson(err) })}\n`);
    const w = where as DaemonLocation | null;
    if (w !== null && isAsteriskBanError(err, 'E_NOT_RUNNING')) {
      io.stderr.write(`  hint: tried ${w.socket} (from ${w.from}); --config DIR or --socket PATH reaches another daemon\n`);
    }
    return exitCodeFor(err);
  }
}

function errorJson(err: unknown): { code: string; message: string; hint?: string } {
  if (err instanceof AsteriskBanError) return err.hint ? { code: err.code, message: err.message, hint: err.hint } : { code: err.code, message: err.message };
  if (err instanceof UsageError) return err.hint ? { code: 'E_USAGE', message: err.message, hint: err.hint } : { code: 'E_USAGE', message: err.message };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
