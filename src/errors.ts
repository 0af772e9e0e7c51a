/**
 * Typed errors shared by every layer. Each carries the process exit code the CLI
 * should use, so pure modules (loader, x86, devices) can say "this is the user's
 * input" without knowing anything about the terminal.
 *
 * Exit codes (README, "Exit codes"): 2 = usage error or invalid input file,
 * 1 = runtime or host failure.
 */
export type ErrorExitCode = 1 | 2;

export interface KrunErrorOptions {
  /** A short suggestion of what to do; printed after the message. */
  hint?: string;
  cause?: unknown;
}

export class KrunError extends Error {
  readonly exitCode: ErrorExitCode;
  readonly hint: string | undefined;
  constructor(message: string, exitCode: ErrorExitCode, options: KrunErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

/** Bad command-line usage: unknown option, malformed number, conflicting flags. Exit 2. */
export class UsageError extends KrunError {
  constructor(message: string, options?: KrunErrorOptions) {
    super(message, 2, options);
  }
}

/** An input file (kernel, initrd) or parameter that cannot be used as given. Exit 2. */
export class InputError extends KrunError {
  constructor(message: string, options?: KrunErrorOptions) {
    super(message, 2, options);
  }
}

/** The host or the VM failed at run time (hypervisor call, device, guest crash). Exit 1. */
export class HostError extends KrunError {
  constructor(message: string, options?: KrunErrorOptions) {
    super(message, 1, options);
  }
}
