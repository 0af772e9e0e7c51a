/**
 * Recognises a kernel file by its magic and parses it: an ELF vmlinux (7F 'E' 'L' 'F'
 * at 0) or a bzImage (0xAA55 at 0x1FE and "HdrS" at 0x202, boot.rst).
 */
import { InputError } from '../errors.ts';
import { BOOT_FLAG, HDR, looksLikeBzImage, parseBzImage } from './bzimage.ts';
import { looksLikeElf, parseElfKernel } from './elf.ts';
import type { KernelImage } from './kernel-image.ts';

export function parseKernel(bytes: Uint8Array, name = 'kernel'): KernelImage {
  const what = `kernel '${name}'`;
  if (bytes.length === 0) {
    throw new InputError(`${what} is empty`, { hint: 'pass a Linux bzImage or ELF vmlinux' });
  }
  if (looksLikeElf(bytes)) return parseElfKernel(bytes, name);
  if (looksLikeBzImage(bytes)) return parseBzImage(bytes, name);
  const hasBootFlag = bytes.length >= HDR.boot_flag + 2 && (bytes[HDR.boot_flag]! | (bytes[HDR.boot_flag + 1]! << 8)) === BOOT_FLAG;
  if (hasBootFlag && bytes.length >= HDR.header + 4) {
    throw new InputError(`${what} has a boot sector but no "HdrS" header: boot protocol before 2.00, far too old for 64-bit boot`, {
      hint: 'use an x86-64 kernel from Linux 3.8 or later',
    });
  }
  throw new InputError(
    bytes.length < HDR.header + 4
      ? `${what} is not a Linux kernel (only ${bytes.length} bytes, too short even for the boot header)`
      : `${what} is not a Linux kernel: neither an ELF vmlinux nor a bzImage (0xAA55 at 0x1FE, "HdrS" at 0x202)`,
    { hint: 'pass a Linux bzImage (arch/x86/boot/bzImage, /boot/vmlinuz-*) or an ELF vmlinux' },
  );
}
