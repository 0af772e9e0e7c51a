/**
 * `--serial-log FILE`: the guest's serial output exactly as the UART sent it
 * (raw bytes: no decoding, no newline translation, no colour stripping).
 * Writes are synchronous so the file is complete up to the last byte even if
 * the VMM dies right after, and ordering with the terminal output is trivial.
 */
import { openSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { HostError } from '../errors.ts';

export class SerialLog {
  readonly path: string;
  private fd: number;
  bytesWritten = 0;

  constructor(path: string) {
    this.path = path;
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new HostError(`cannot open serial log ${path}: ${e.code ?? e.message}`, {
        hint: 'check that the directory exists and is writable',
        cause: err,
      });
    }
  }

  write(bytes: Uint8Array): void {
    if (this.fd < 0) return;
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.bytesWritten += bytes.length;
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      fsyncSync(this.fd);
    } catch {
      // fsync is best effort (e.g. /dev/stdout or a pipe); the data is already written.
    }
    closeSync(this.fd);
    this.fd = -1;
  }
}
