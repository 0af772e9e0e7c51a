/**
 * The logging contract every layer may depend on. Pure modules take a Logger as a
 * parameter (defaulting to `silentLogger`) so they never import pino or touch
 * stderr themselves; the CLI supplies a pino-backed implementation.
 */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  isLevelEnabled(level: LogLevel): boolean;
}

export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const noop = (): void => {};
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  isLevelEnabled: () => false,
};
