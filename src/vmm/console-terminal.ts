/**
 * Raw mode for the host terminal, restored on every way out of the process.
 *
 * Raw mode (libuv's UV_TTY_MODE_RAW: no echo, no line editing, no ICRNL, no
 * signals from the keyboard) lets every key reach the guest unchanged: Enter
 * arrives as CR (0x0D), as a serial terminal sends it, and Ctrl-C goes to the
 * guest instead of killing the VMM. libuv saves the original termios at the
 * first mode change and puts it back when the mode is set to normal again, so
 * `stty -g` reads the same before and after.
 *
 * Paths that restore the terminal:
 * - `restore()` (normal end, and the caller's finally block on error);
 * - SIGINT, SIGTERM, SIGHUP: restore, then re-raise the signal with Node's
 *   default action (so the exit status still says "killed by SIGTERM"), unless
 *   the owner passes `onSignal` to shut down in its own way;
 * - an uncaught exception or unhandled rejection ('uncaughtExceptionMonitor',
 *   which observes without changing Node's crash behaviour);
 * - process 'exit' (process.exit() from anywhere).
 */
export interface RawModeInput {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export type TerminalSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
const SIGNALS: readonly TerminalSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export class TerminalRawMode {
  private readonly input: RawModeInput;
  private active = false;
  private readonly onSignalOption: ((signal: TerminalSignal) => void) | undefined;
  private readonly signalHandlers = new Map<TerminalSignal, () => void>();
  private readonly onExit = () => this.restore();
  private readonly onUncaught = () => this.restore();

  constructor(input: RawModeInput, onSignal?: (signal: TerminalSignal) => void) {
    this.input = input;
    this.onSignalOption = onSignal;
  }

  /** True when the input is a terminal (raw mode applies). */
  get applicable(): boolean {
    return this.input.isTTY === true && typeof this.input.setRawMode === 'function';
  }

  get isRaw(): boolean {
    return this.active;
  }

  /** Enters raw mode (no-op when the input is not a TTY) and installs the restore hooks. */
  enter(): void {
    if (this.active || !this.applicable) return;
    this.input.setRawMode!(true);
    this.active = true;
    process.on('exit', this.onExit);
    process.on('uncaughtExceptionMonitor', this.onUncaught);
    for (const sig of SIGNALS) {
      const handler = () => this.handleSignal(sig);
      this.signalHandlers.set(sig, handler);
      process.on(sig, handler);
    }
  }

  /** Leaves raw mode and removes the hooks. Idempotent; safe inside 'exit' handlers (synchronous). */
  restore(): void {
    if (!this.active) return;
    this.active = false;
    try {
      this.input.setRawMode!(false);
    } catch {
      // The terminal may already be gone (SIGHUP); there is nothing left to restore.
    }
    process.removeListener('exit', this.onExit);
    process.removeListener('uncaughtExceptionMonitor', this.onUncaught);
    for (const [sig, handler] of this.signalHandlers) process.removeListener(sig, handler);
    this.signalHandlers.clear();
  }

  private handleSignal(sig: TerminalSignal): void {
    this.restore();
    if (this.onSignalOption !== undefined) {
      this.onSignalOption(sig);
      return;
    }
    // Our listener is gone; if nobody else listens, Node's default action terminates the process.
    process.kill(process.pid, sig);
  }
}
