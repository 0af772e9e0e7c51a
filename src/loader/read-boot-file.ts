/**
 * Reads a kernel or initrd file for the loader, turning every file-system failure
 * into an InputError (exit 2) with one clear line: missing, a directory, not
 * readable, too large, a pipe nobody writes to, a path Node could not decode.
 * Used by the CLI (`inspect`, `run`); the parsing modules never touch files.
 *
 * Regular files are sized by stat; devices are refused. A pipe (`/dev/stdin` under
 * `cat bzImage |`, a FIFO) reports size 0, so it is read in chunks up to
 * MAX_BOOT_FILE + 1 bytes: an endless writer fails at the cap instead of growing
 * without bound, and a FIFO with no writer fails instead of blocking.
 */
import { closeSync, constants, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { InputError } from '../errors.ts';

/** Files above this are certainly not a kernel/initrd we could place (2 GiB is beyond initrd_addr_max anyway). */
const MAX_BOOT_FILE = 2 ** 31 - 1;

/**
 * Chunks for pipes (no size): each is filled before the next is allocated, and sizes
 * double from 1 MiB to 64 MiB, so a small pipe wastes little and an endless one reaches
 * the cap in a couple of seconds (1 MiB chunks took about three times as long).
 */
const FIRST_CHUNK = 1 << 20;
const LAST_CHUNK = 1 << 26;

/**
 * How long a FIFO that reads as "no writer" gets before we say so. A writer started
 * first (`cat bzImage > fifo &`) sits in open(2) until a reader appears; our open wakes
 * it, but its open completes a moment later, and a read in between sees no writer yet.
 */
const FIFO_WRITER_GRACE_MS = 250;

/** Sleeps between reads of a FIFO whose writer has no data yet: short while data flows, longer while it does not. */
const POLL_MIN_MS = 0.1;
const POLL_MAX_MS = 10;

/**
 * `guestMemoryBytes`: a regular file larger than the guest's memory can never be placed, so it
 * is refused from its size before a byte is read (a sparse 2 GiB initrd took seconds to read
 * only to fail the placement check).
 */
export function readBootFile(path: string, role: 'kernel' | 'initrd', guestMemoryBytes?: number): Uint8Array {
  const option = role === 'kernel' ? '--kernel' : '--initrd';
  try {
    const st = statSync(path);
    if (st.isDirectory()) {
      throw new InputError(`${role} '${path}' is a directory, not a file`, { hint: `pass a file to ${option}` });
    }
    // A device is never a kernel: /dev/zero would be read for 2 GiB before the cap stopped it,
    // and a terminal (/dev/stdin without a pipe) would wait for typing.
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      throw new InputError(`${role} '${path}' is a ${st.isCharacterDevice() ? 'character' : 'block'} device, not a file`, {
        hint: `pass ${option} a regular file, or pipe one in: cat FILE | krun-whp … ${option} /dev/stdin`,
      });
    }
    if (!st.isFile()) return readUnsized(path, st.isFIFO(), role, option);
    if (st.size > MAX_BOOT_FILE) {
      throw new InputError(`${role} '${path}' is ${st.size} bytes, larger than any guest could load below 2 GiB`, {
        hint: `check the path given to ${option}`,
      });
    }
    if (guestMemoryBytes !== undefined && st.size > guestMemoryBytes) {
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      throw new InputError(`${role} '${path}' is ${mib(st.size)}, larger than the guest's ${mib(guestMemoryBytes)} of memory`, {
        hint: `give the guest more memory with --mem, or pass ${option} a smaller file`,
      });
    }
    const buf = readFileSync(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // Node decodes argv as UTF-8 and replaces invalid bytes with U+FFFD, so a file whose
    // name is not UTF-8 can never be opened by the name we were given: saying "does not
    // exist" would send the user looking for a file that is right there.
    if (code === 'ENOENT' && path.includes('\uFFFD')) {
      throw new InputError(`${role} path '${path}' is not valid UTF-8 (the bytes shown as \uFFFD), so it cannot be opened`, {
        hint: `rename the file to a UTF-8 name, or pass ${option} a path without such bytes (e.g. a symlink)`,
        cause: err,
      });
    }
    const reason =
      code === 'ENOENT' ? 'does not exist'
      : code === 'EACCES' || code === 'EPERM' ? 'is not readable (permission denied)'
      : code === 'EISDIR' ? 'is a directory, not a file'
      : code === 'ENOTDIR' ? 'is not a valid path (a parent is not a directory)'
      : `cannot be read (${code ?? (err as Error).message})`;
    throw new InputError(`${role} '${path}' ${reason}`, { hint: `check the path given to ${option}`, cause: err });
  }
}

/**
 * Reads a pipe, FIFO or device to EOF, failing past MAX_BOOT_FILE bytes.
 *
 * A FIFO is opened O_NONBLOCK because a blocking open(2) waits for a writer forever.
 * Reads then return EAGAIN while a writer exists but has sent nothing yet (we sleep
 * and retry, so a slow writer is waited for), and 0 bytes when there is no writer
 * (EOF). We poll rather than re-open without O_NONBLOCK: if the writer closed between
 * the EAGAIN and the re-open, that open would block forever.
 */
function readUnsized(path: string, fifo: boolean, role: string, option: string): Uint8Array {
  const fd = openSync(path, fifo ? constants.O_RDONLY | constants.O_NONBLOCK : constants.O_RDONLY);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    let chunk = Buffer.allocUnsafe(FIRST_CHUNK);
    let filled = 0;
    let pollMs = POLL_MIN_MS;
    const openedAt = Date.now();
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, filled, Math.min(chunk.length - filled, MAX_BOOT_FILE + 1 - total), null);
      } catch (err) {
        if (!fifo || (err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        sleep(pollMs);
        pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
        continue;
      }
      if (n === 0) {
        if (total > 0 || !fifo) break;
        if (Date.now() - openedAt < FIFO_WRITER_GRACE_MS) {
          sleep(POLL_MAX_MS);
          continue;
        }
        throw new InputError(`${role} '${path}' is a pipe with nothing to read (no program is writing to it)`, {
          hint: `start the program that writes the ${role} into it first, or pass ${option} a regular file`,
        });
      }
      pollMs = POLL_MIN_MS;
      filled += n;
      total += n;
      if (total > MAX_BOOT_FILE) {
        throw new InputError(`${role} '${path}' is a pipe that did not end within 2 GiB (read stopped there), larger than any guest could load`, {
          hint: `pass ${option} a regular file, not an endless stream`,
        });
      }
      if (filled === chunk.length) {
        chunks.push(chunk);
        chunk = Buffer.allocUnsafe(Math.min(chunk.length * 2, LAST_CHUNK));
        filled = 0;
      }
    }
    chunks.push(chunk.subarray(0, filled));
    // Always a copy of exactly `total` bytes, so no half-empty chunk stays alive with the result.
    const buf = Buffer.concat(chunks, total);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } finally {
    closeSync(fd);
  }
}

/** Never notified: Atomics.wait on it is a synchronous sleep (the loader API is synchronous; the main thread may wait). */
const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));

function sleep(ms: number): void {
  Atomics.wait(SLEEP_CELL, 0, 0, ms);
}
