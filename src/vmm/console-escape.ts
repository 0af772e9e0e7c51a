/**
 * The console's escape prefix, as in QEMU's character multiplexer: Ctrl-A
 * followed by a command key. Ctrl-A x quits, Ctrl-A h prints help, Ctrl-A Ctrl-A
 * sends one literal Ctrl-A to the guest. Any other key after Ctrl-A is passed to
 * the guest together with the Ctrl-A (nothing typed is silently eaten).
 *
 * Stateful across chunks: a Ctrl-A at the end of one read is completed by the
 * first byte of the next.
 */
export const ESCAPE_BYTE = 0x01; // Ctrl-A

export type EscapeCommand = 'quit' | 'help';

export const ESCAPE_HELP = [
  'krun-whp console escape keys:',
  '  Ctrl-A x       quit (stop the VM)',
  '  Ctrl-A h       show this help',
  '  Ctrl-A Ctrl-A  send Ctrl-A to the guest',
].join('\r\n');

export class ConsoleEscape {
  private pending = false;

  /**
   * Splits `chunk` into guest bytes and commands. Guest bytes are reported as
   * [start, end) slices of `chunk` (no copy) or, for the literal Ctrl-A, as a
   * one-byte buffer.
   */
  feed(chunk: Uint8Array, onBytes: (bytes: Uint8Array) => void, onCommand: (cmd: EscapeCommand) => void): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.pending) {
        this.pending = false;
        start = i + 1;
        if (b === 0x78 || b === 0x58) onCommand('quit'); // x / X
        else if (b === 0x68 || b === 0x48 || b === 0x3f) onCommand('help'); // h / H / ?
        else if (b === ESCAPE_BYTE) onBytes(LITERAL_ESCAPE);
        else {
          onBytes(LITERAL_ESCAPE);
          start = i; // the key itself goes to the guest too
        }
      } else if (b === ESCAPE_BYTE) {
        if (i > start) onBytes(chunk.subarray(start, i));
        this.pending = true;
        start = i + 1;
      }
    }
    if (!this.pending && start < chunk.length) onBytes(chunk.subarray(start));
  }
}

const LITERAL_ESCAPE = Uint8Array.of(ESCAPE_BYTE);
