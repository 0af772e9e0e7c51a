/**
 * What every command receives: the resolved global options, a logger, and the
 * output helpers (colour decision, JSON printing). Built once in main.ts from
 * commander's global options.
 */
import type { ChalkInstance } from 'chalk';
import type { Logger, LogLevel } from '../log.ts';

export interface GlobalOptions {
  logLevel: LogLevel;
  logFile?: string;
  json: boolean;
  color: boolean;
}

export interface CliContext {
  readonly options: GlobalOptions;
  readonly log: Logger;
  /** chalk with colour forced off for --no-color, NO_COLOR and non-TTY stdout. */
  readonly chalk: ChalkInstance;
  /** Print a value as pretty JSON on stdout (the `--json` contract: one JSON document, nothing else on stdout). */
  printJson(value: unknown): void;
  /** Print a line on stdout. */
  print(line?: string): void;
  /** Print a warning line on stderr (`krun-whp: warning: …`), coloured when allowed. */
  warn(message: string): void;
}
