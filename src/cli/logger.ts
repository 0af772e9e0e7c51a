/** pino-backed Logger. Loaded lazily: pino costs start-up time that `--version` should not pay. */
import type { Logger, LogLevel } from '../log.ts';

export async function createLogger(level: LogLevel, file?: string): Promise<Logger> {
  const { default: pino } = await import('pino');
  const destination = file ? pino.destination({ dest: file, sync: true, mkdir: true }) : pino.destination({ fd: 2, sync: true });
  const p = pino({ level, base: { pid: process.pid } }, destination);
  return {
    debug: (obj, msg) => (typeof obj === 'string' ? p.debug(obj) : p.debug(obj, msg)),
    info: (obj, msg) => (typeof obj === 'string' ? p.info(obj) : p.info(obj, msg)),
    warn: (obj, msg) => (typeof obj === 'string' ? p.warn(obj) : p.warn(obj, msg)),
    error: (obj, msg) => (typeof obj === 'string' ? p.error(obj) : p.error(obj, msg)),
    isLevelEnabled: (l) => l !== 'silent' && p.isLevelEnabled(l),
  };
}
