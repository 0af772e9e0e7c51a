/**
 * pino-backed Logger. pino is loaded on the first message that passes the level
 * filter, not at start-up: most runs log nothing at the default level, and
 * loading pino costs more start-up time than `--version` or a quick probe should pay.
 */
import { createRequire } from 'node:module';
import { LOG_LEVELS, type Logger, type LogLevel } from '../log.ts';

type PinoLogger = import('pino').Logger;

export function createLogger(level: LogLevel, file?: string): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const enabled = (l: LogLevel): boolean => l !== 'silent' && threshold > 0 && LOG_LEVELS.indexOf(l) <= threshold;
  let pinoLogger: PinoLogger | undefined;
  const get = (): PinoLogger => {
    if (!pinoLogger) {
      const pino = createRequire(import.meta.url)('pino') as typeof import('pino').default;
      const destination = file ? pino.destination({ dest: file, sync: true, mkdir: true }) : pino.destination({ fd: 2, sync: true });
      pinoLogger = pino({ level, base: { pid: process.pid } }, destination);
    }
    return pinoLogger;
  };
  const emit = (l: 'debug' | 'info' | 'warn' | 'error') => (obj: object | string, msg?: string) => {
    if (!enabled(l)) return;
    const p = get();
    if (typeof obj === 'string') p[l](obj);
    else p[l](obj, msg);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), isLevelEnabled: enabled };
}
