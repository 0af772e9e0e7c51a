/**
 * krun-whp command-line entry. Owns global options, the logger, colour policy,
 * and the mapping from errors to one-line messages and exit codes:
 *   0 success, 2 usage or invalid input, 1 runtime or host failure.
 * Heavy modules (pino, koffi, ora) load lazily so `--version` and `--help`
 * start about as fast as Node itself.
 */
import { Command, CommanderError, Option } from 'commander';
import { Chalk } from 'chalk';
import { KrunError } from '../errors.ts';
import { LOG_LEVELS, silentLogger, type Logger, type LogLevel } from '../log.ts';
import type { CliContext, GlobalOptions } from './context.ts';
import { commands } from './commands/index.ts';
import { createLogger } from './logger.ts';

declare const KRUN_VERSION: string | undefined;

const PROG = 'krun-whp';

/**
 * Colour on a terminal only, unless asked otherwise: --no-color, NO_COLOR (no-color.org) and
 * FORCE_COLOR=0/false turn it off, TERM=dumb too; any other FORCE_COLOR turns it on even into
 * a pipe (the explicit opt-in chalk's users know; scripts that parse output should not set it).
 */
function colorAllowed(flag: boolean | undefined): boolean {
  if (flag === false) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (process.env.TERM === 'dumb') return false;
  return Boolean(process.stdout.isTTY);
}

let activeContext: CliContext | undefined;
let activeLogLevel: LogLevel = 'warn';

function buildProgram(version: string): Command {
  const program = new Command(PROG);
  program
    .description('Linux micro-VM launcher for the Windows Hypervisor Platform')
    .version(version, '-V, --version', 'print the version and exit')
    .addOption(
      new Option('--log-level <level>', 'log verbosity (logs go to stderr)').choices([...LOG_LEVELS]).default('warn'),
    )
    .option('--log-file <file>', 'write logs to FILE instead of stderr')
    .option('--json', 'print machine-readable JSON on stdout', false)
    .option('--no-color', 'disable colour (also NO_COLOR, or when stdout is not a terminal)')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: commanderErrorLine(PROG) });

  const getContext = async (): Promise<CliContext> => {
    if (activeContext) return activeContext;
    const raw = program.opts<{ logLevel: LogLevel; logFile?: string; json: boolean; color: boolean }>();
    const options: GlobalOptions = {
      logLevel: raw.logLevel,
      logFile: raw.logFile,
      json: Boolean(raw.json),
      color: colorAllowed(raw.color),
    };
    activeLogLevel = options.logLevel;
    // At debug level, stack traces are printed: map them back to the TypeScript sources.
    if (debugRequested()) process.setSourceMapsEnabled(true);
    const log: Logger = options.logLevel === 'silent' ? silentLogger : createLogger(options.logLevel, options.logFile);
    const chalk = new Chalk({ level: options.color ? 1 : 0 });
    const stderrColor = options.color && Boolean(process.stderr.isTTY);
    const warnChalk = new Chalk({ level: stderrColor ? 1 : 0 });
    activeContext = {
      options,
      log,
      chalk,
      printJson: (value) => process.stdout.write(JSON.stringify(value, jsonReplacer, 2) + '\n'),
      print: (line = '') => process.stdout.write(line + '\n'),
      warn: (message) => process.stderr.write(`${warnChalk.yellow(`${PROG}: warning:`)} ${message}\n`),
    };
    return activeContext;
  };

  for (const register of commands) register(program, getContext);
  // An error in a subcommand's options points at that subcommand's help.
  for (const sub of program.commands) sub.configureOutput({ outputError: commanderErrorLine(`${PROG} ${sub.name()}`) });
  return program;
}

/**
 * commander's own errors ("unknown option", "missing argument") in our one-line format. Its
 * "(Did you mean …?)" comes on a second line: joined, so the error stays one line.
 */
function commanderErrorLine(helpFor: string): (str: string, write: (s: string) => void) => void {
  return (str, write) => write(`${PROG}: error: ${str.replace(/^error:\s*/i, '').trim().replace(/\s*\n\s*/g, ' ')} (see '${helpFor} --help')\n`);
}

/** JSON cannot carry bigint; emit them as decimal strings when above 2^53, numbers otherwise. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  return value;
}

/**
 * The log level asked for on the command line, read before commander has parsed it
 * (an error may come from the parse itself): `--log-level X` or `--log-level=X`.
 */
function requestedLogLevel(argv: readonly string[]): string | undefined {
  let level: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--log-level') level = argv[i + 1];
    else if (a.startsWith('--log-level=')) level = a.slice('--log-level='.length);
  }
  return level;
}

function debugRequested(): boolean {
  const level = activeContext ? activeLogLevel : requestedLogLevel(process.argv);
  return level === 'debug' || level === 'trace';
}

function reportError(err: unknown): number {
  const debug = debugRequested();
  // With --log-file, the log keeps a record of why a run failed; on stderr the one
  // error line below is enough.
  if (activeContext?.options.logFile) activeContext.log.error({ err }, err instanceof Error ? err.message : String(err));
  if (err instanceof KrunError) {
    const hint = err.hint ? ` (hint: ${err.hint})` : '';
    process.stderr.write(`${PROG}: error: ${err.message}${hint}\n`);
    if (debug && err.stack) process.stderr.write(err.stack + '\n');
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${PROG}: error: internal error: ${message.split('\n')[0]} (hint: rerun with --log-level debug for details)\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  // `krun-whp … | head`: when the reader goes away, stop quietly (no EPIPE stack trace).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    // A full disk (ENOSPC) or a bad descriptor: one line and exit 1, as for any runtime failure.
    process.stderr.write(`${PROG}: error: cannot write to stdout (${err.code ?? err.message})\n`);
    process.exit(1);
  });
  const version = typeof KRUN_VERSION === 'string' ? KRUN_VERSION : '0.0.0-dev';
  const program = buildProgram(version);
  if (argv.length <= 2) {
    // No command is a usage error: the help goes to stderr, so stdout stays empty for scripts.
    program.outputHelp({ error: true });
    return 2;
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" to exitOverride; they already printed. commander.help with
      // a non-zero exitCode is help shown *instead* of a command (`krun-whp --json`, `help bogus`):
      // a usage error, like no arguments at all.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
      return 2;
    }
    return reportError(err);
  }
}


// Running as the bundle (bin/krun-whp) or directly (tsx src/cli/main.ts).
void main(process.argv).then(flushAndExit);

async function flushAndExit(code: number): Promise<void> {
  // Let stdout drain when piped (a large --json document must not be cut short).
  await new Promise<void>((resolve) => (process.stdout.writableNeedDrain ? process.stdout.once('drain', resolve) : resolve()));
  process.exitCode = code;
  if (activeContext === undefined || code !== 0) process.exit(code);
}
