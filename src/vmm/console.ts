/**
 * The host end of the guest's serial console: terminal (or pipe) ↔ byte rings
 * ↔ UART. The UART side of the rings may live on this thread or in a vCPU
 * Worker; the console only touches the rings, so it works the same either way.
 *
 *   stdin ─► escape keys (TTY only) ─► toGuest ring ─► Uart16550 RX FIFO
 *   stdout ◄─┬─ fromGuest ring ◄─ Uart16550 TX FIFO
 *   --serial-log ◄┘ (raw bytes)
 *
 * Back-pressure, both ways, with no byte dropped:
 * - input: when toGuest is full (the guest is not reading), stdin is paused, so
 *   the kernel pipe / tty buffer fills and the writer blocks; reading resumes
 *   when the guest side frees room.
 * - output: when stdout cannot keep up ('drain' pending), the console stops
 *   draining fromGuest; the ring fills; the UART keeps THRE low and the guest
 *   driver waits.
 *
 * When stdin is a TTY: raw mode (restored on every exit path, see
 * console-terminal.ts), and the Ctrl-A escape keys (console-escape.ts). When
 * stdin is not a TTY (pipe, file, /dev/null): no raw mode, no escape
 * processing, bytes pass through untouched. Output is written as soon as it is
 * read from the ring (stdout to a file, pipe or TTY is synchronous on Linux),
 * so CI logs see guest output promptly.
 */
import type { ByteRing } from '../devices/byte-ring.ts';
import { ConsoleEscape, ESCAPE_HELP } from './console-escape.ts';
import type { EscapeCommand } from './console-escape.ts';
import { TerminalRawMode } from './console-terminal.ts';
import type { RawModeInput, TerminalSignal } from './console-terminal.ts';
import type { SerialLog } from './console-serial-log.ts';

export type ConsoleInput = NodeJS.ReadableStream & RawModeInput;
export type ConsoleOutput = NodeJS.WritableStream & { isTTY?: boolean };

export interface ConsoleOptions {
  /** Bytes typed by the user, for the guest (the console is the producer). */
  toGuest: ByteRing;
  /** Bytes sent by the guest (the console is the consumer). */
  fromGuest: ByteRing;
  input?: ConsoleInput;
  output?: ConsoleOutput;
  /** Raw copy of guest output; closed by `stop()`. */
  serialLog?: SerialLog;
  /** Ctrl-A escape keys; default: on when the input is a TTY. */
  escapeKeys?: boolean;
  /** Ctrl-A x. The owner stops the VM and then calls `stop()`. */
  onQuit?: () => void;
  /** New bytes are in toGuest: wake the device side (kick the vCPU). */
  onGuestInput?: () => void;
  /** Room appeared in fromGuest: the device side may push held-back TX bytes. */
  onOutputDrained?: () => void;
  /** stdin reached end of file (pipes); toGuest is closed after the last byte. */
  onInputEnd?: () => void;
  /** SIGINT/SIGTERM/SIGHUP while in raw mode; default: restore the terminal and re-raise. */
  onSignal?: (signal: TerminalSignal) => void;
}

const OUTPUT_CHUNK = 64 * 1024;

export class Console {
  private readonly toGuest: ByteRing;
  private readonly fromGuest: ByteRing;
  private readonly input: ConsoleInput;
  private readonly output: ConsoleOutput;
  private readonly serialLog: SerialLog | undefined;
  private readonly options: ConsoleOptions;
  private readonly escape: ConsoleEscape | undefined;
  readonly terminal: TerminalRawMode;

  private started = false;
  private stopping = false;
  private pump: Promise<void> | undefined;
  private pendingIn: Uint8Array[] = [];
  private waitingForSpace = false;
  private inputEnded = false;
  private outputBroken = false;
  /** Bytes written to the output stream. */
  bytesOut = 0;
  /** Bytes queued for the guest. */
  bytesIn = 0;

  private readonly onData = (chunk: Buffer | string) => this.handleInput(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  private readonly onEnd = () => {
    this.inputEnded = true;
    this.flushInput();
  };
  private readonly onOutputError = () => {
    // EPIPE and friends: the reader of our stdout went away. Keep the VM (and the serial log) going.
    this.outputBroken = true;
  };

  constructor(options: ConsoleOptions) {
    this.options = options;
    this.toGuest = options.toGuest;
    this.fromGuest = options.fromGuest;
    this.input = options.input ?? (process.stdin as ConsoleInput);
    this.output = options.output ?? process.stdout;
    this.serialLog = options.serialLog;
    this.terminal = new TerminalRawMode(this.input, options.onSignal);
    const escapeKeys = options.escapeKeys ?? this.terminal.applicable;
    this.escape = escapeKeys ? new ConsoleEscape() : undefined;
  }

  /** True when stdin is a terminal that the console put in raw mode. */
  get raw(): boolean {
    return this.terminal.isRaw;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.terminal.enter();
    this.output.on('error', this.onOutputError);
    this.input.on('data', this.onData);
    this.input.on('end', this.onEnd);
    this.pump = this.pumpOutput();
  }

  /**
   * Writes whatever guest output is still in the ring, stops reading stdin,
   * restores the terminal and closes the serial log. Safe to call more than once.
   */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    this.input.removeListener('data', this.onData);
    this.input.removeListener('end', this.onEnd);
    this.input.pause();
    this.fromGuest.wakeConsumer();
    this.toGuest.wakeProducer();
    await this.pump;
    this.drainOutputSync();
    await this.flushOutputStream();
    this.terminal.restore();
    this.output.removeListener('error', this.onOutputError);
    this.serialLog?.close();
    // Let the process exit: a paused stdin may still hold a reference to its handle.
    const handle = this.input as { unref?: () => void };
    handle.unref?.();
  }

  // --- guest → host ----------------------------------------------------------

  private async pumpOutput(): Promise<void> {
    const buf = new Uint8Array(OUTPUT_CHUNK);
    while (!this.stopping) {
      const n = this.fromGuest.read(buf);
      if (n === 0) {
        // closed is stored after the producer's last byte: seen closed, one more look finds any
        // byte written between our read and this check.
        if (this.fromGuest.closed) {
          if (this.fromGuest.available() === 0) return;
          continue;
        }
        await this.fromGuest.waitForDataAsync();
        continue;
      }
      const flushed = this.emit(buf.subarray(0, n));
      this.options.onOutputDrained?.();
      if (!flushed) await this.waitForDrain();
    }
  }

  /** Synchronous final drain at stop: whatever the guest wrote before it stopped is shown. */
  private drainOutputSync(): void {
    const buf = new Uint8Array(OUTPUT_CHUNK);
    for (let n; (n = this.fromGuest.read(buf)) > 0; ) this.emit(buf.subarray(0, n));
  }

  /**
   * Waits until the output stream has handed every byte we wrote to its sink: a
   * slow pipe may still hold buffered chunks when the guest has stopped, and the
   * guest's last words must not be lost at exit. A zero-length write's callback
   * runs only after every earlier write has completed (Writable keeps order).
   */
  private flushOutputStream(): Promise<void> {
    if (this.outputBroken) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.output.removeListener('error', done);
        this.output.removeListener('close', done);
        resolve();
      };
      this.output.once('error', done);
      this.output.once('close', done);
      this.output.write(new Uint8Array(0), () => done());
    });
  }

  /** Returns false when the output stream asked us to wait for 'drain'. */
  private emit(bytes: Uint8Array): boolean {
    const chunk = Buffer.from(bytes); // the stream may keep it; the ring buffer is reused
    this.serialLog?.write(chunk);
    if (this.outputBroken) return true;
    this.bytesOut += chunk.length;
    return this.output.write(chunk);
  }

  private waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.output.removeListener('drain', done);
        this.output.removeListener('error', done);
        this.output.removeListener('close', done);
        resolve();
      };
      this.output.once('drain', done);
      this.output.once('error', done);
      this.output.once('close', done);
    });
  }

  // --- host → guest ----------------------------------------------------------

  private handleInput(chunk: Uint8Array): void {
    if (this.escape !== undefined) {
      this.escape.feed(
        chunk,
        (bytes) => this.pendingIn.push(bytes),
        (cmd) => this.command(cmd),
      );
    } else {
      this.pendingIn.push(chunk);
    }
    this.flushInput();
  }

  private command(cmd: EscapeCommand): void {
    if (cmd === 'help') {
      this.output.write(`\r\n${ESCAPE_HELP}\r\n`);
    } else if (cmd === 'quit') {
      this.options.onQuit?.();
    }
  }

  private flushInput(): void {
    let wrote = 0;
    while (this.pendingIn.length > 0) {
      const head = this.pendingIn[0]!;
      const n = this.toGuest.write(head);
      wrote += n;
      if (n === head.length) this.pendingIn.shift();
      else {
        this.pendingIn[0] = head.subarray(n);
        break;
      }
    }
    this.bytesIn += wrote;
    if (wrote > 0) this.options.onGuestInput?.();
    if (this.pendingIn.length > 0) {
      if (!this.waitingForSpace && !this.stopping) {
        // The guest is behind: stop reading stdin until it catches up (no byte dropped).
        this.waitingForSpace = true;
        this.input.pause();
        void this.toGuest.waitForSpaceAsync().then(() => {
          this.waitingForSpace = false;
          if (this.stopping) return;
          this.flushInput();
          if (this.pendingIn.length === 0 && !this.inputEnded) this.input.resume();
        });
      }
      return;
    }
    if (this.inputEnded && !this.toGuest.closed) {
      this.toGuest.close();
      this.options.onInputEnd?.();
    }
  }
}
