/**
 * pino-backed Logger. pino is loaded on the first message that passes the level
 * filter, not at start-up: most runs log nothing at the default level, and
 * loading pino costs more start-up time than `--version` or a quick probe should pay.
 */
import { constants, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { UsageError } from '../errors.ts';
import { LOG_LEVELS, type Logger, type LogLevel } from '../log.ts';

type PinoLogger = import('pino').Logger;

/**
 * Opens the --log-file for appending now rather than at the first message, so a bad
 * path is a usage error before anything runs. Its folder must exist: creating
 * folders is not done (pino's `mkdir`, like Node 20's recursive mkdirSync, can spin
 * forever on a path it cannot create, e.g. under /proc).
 */
function openLogFile(file: string): number {
  try {
    // O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of blocking the CLI
    // before it starts; on a regular file the flag changes nothing.
    return openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`cannot open the log file '${file}' (${code})`, { hint: 'pass --log-file a writable file in an existing folder', cause: err });
  }
}

export function createLogger(level: LogLevel, file?: string): Logger {
  const fd = file === undefined ? 2 : openLogFile(file);
  const threshold = LOG_LEVELS.indexOf(level);
  const enabled = (l: LogLevel): boolean => l !== 'silent' && threshold > 0 && LOG_LEVELS.indexOf(l) <= threshold;
  let pinoLogger: PinoLogger | undefined;
  let broken = false;
  // A log that cannot be written (ENOSPC, EINVAL on /proc files, …) must not take the run down
  // or hide its real error line: say so once on stderr and stop logging.
  const fail = (err: unknown): void => {
    if (broken) return;
    broken = true;
    const code = (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);
    process.stderr.write(`krun-whp: warning: cannot write to the log${file === undefined ? '' : ` file '${file}'`} (${code}); logging stopped\n`);
  };
  const get = (): PinoLogger => {
    if (!pinoLogger) {
      const pino = createRequire(import.meta.url)('pino') as typeof import('pino').default;
      const destination = pino.destination({ fd, sync: true });
      destination.on('error', fail);
      pinoLogger = pino({ level, base: { pid: process.pid } }, destination);
    }
    return pinoLogger;
  };
  const emit = (l: 'debug' | 'info' | 'warn' | 'error') => (obj: object | string, msg?: string) => {
    if (broken || !enabled(l)) return;
    try {
      const p = get();
      if (typeof obj === 'string') p[l](obj);
      else p[l](obj, msg);
    } catch (err) {
      fail(err);
    }
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), isLevelEnabled: enabled };
}
