/**
 * Reads a kernel or initrd file for the loader, turning every file-system failure
 * into an InputError (exit 2) with one clear line: missing, a directory, not
 * readable. Used by the CLI (`inspect`, `run`); the parsing modules never touch files.
 */
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../errors.ts';

/** Files above this are certainly not a kernel/initrd we could place (2 GiB is beyond initrd_addr_max anyway). */
const MAX_BOOT_FILE = 2 ** 31 - 1;

export function readBootFile(path: string, role: 'kernel' | 'initrd'): Uint8Array {
  const option = role === 'kernel' ? '--kernel' : '--initrd';
  try {
    const st = statSync(path);
    if (st.isDirectory()) {
      throw new InputError(`${role} '${path}' is a directory, not a file`, { hint: `pass a file to ${option}` });
    }
    if (st.size > MAX_BOOT_FILE) {
      throw new InputError(`${role} '${path}' is ${st.size} bytes, larger than any guest could load below 2 GiB`, {
        hint: `check the path given to ${option}`,
      });
    }
    const buf = readFileSync(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'does not exist'
      : code === 'EACCES' || code === 'EPERM' ? 'is not readable (permission denied)'
      : code === 'EISDIR' ? 'is a directory, not a file'
      : code === 'ENOTDIR' ? 'is not a valid path (a parent is not a directory)'
      : `cannot be read (${code ?? (err as Error).message})`;
    throw new InputError(`${role} '${path}' ${reason}`, { hint: `check the path given to ${option}`, cause: err });
  }
}
