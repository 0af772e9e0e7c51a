/**
 * Parses a bzImage's real-mode setup header (Documentation/x86/boot.rst, "The
 * Real-Mode Kernel Header"; arch/x86/boot/header.S) and checks that it can be
 * started through the 64-bit boot protocol.
 *
 * Offsets are file offsets, which equal the offsets inside struct boot_params
 * (the header is copied verbatim to boot_params + 0x1F1).
 */
import { InputError } from '../errors.ts';
import { detectCompression } from './compression.ts';
import { ImageReader } from './image-reader.ts';
import { protocolString, type BzImageKernel } from './kernel-image.ts';

/** Setup header field offsets (boot.rst table; identical in the file and in boot_params). */
export const HDR = {
  setup_sects: 0x1f1,
  syssize: 0x1f4,
  boot_flag: 0x1fe,
  jump: 0x200,
  header: 0x202,
  version: 0x206,
  kernel_version: 0x20e,
  type_of_loader: 0x210,
  loadflags: 0x211,
  code32_start: 0x214,
  ramdisk_image: 0x218,
  ramdisk_size: 0x21c,
  heap_end_ptr: 0x224,
  cmd_line_ptr: 0x228,
  initrd_addr_max: 0x22c,
  kernel_alignment: 0x230,
  relocatable_kernel: 0x234,
  min_alignment: 0x235,
  xloadflags: 0x236,
  cmdline_size: 0x238,
  hardware_subarch: 0x23c,
  payload_offset: 0x248,
  payload_length: 0x24c,
  setup_data: 0x250,
  pref_address: 0x258,
  init_size: 0x260,
  handover_offset: 0x264,
  kernel_info_offset: 0x268,
} as const;

/** 0xAA55 at 0x1FE: the boot sector signature every bzImage keeps. */
export const BOOT_FLAG = 0xaa55;
/** "HdrS" at 0x202, little-endian. */
export const HDRS_MAGIC = 0x53726448;
/** loadflags bit 0: the protected-mode code is loaded at 0x100000 (a bzImage, not a zImage). */
export const LOADED_HIGH = 0x01;
/** xloadflags bit 0: the kernel has the legacy 64-bit entry point at +0x200. */
export const XLF_KERNEL_64 = 0x01;
/** The first protocol with xloadflags, hence the first that can say "64-bit entry" (boot.rst). */
export const MIN_PROTOCOL_64 = 0x020c;
/** Offset of the 64-bit entry point (startup_64) from the start of the protected-mode code. */
export const ENTRY64_OFFSET = 0x200;
/**
 * End of the last header field we read (init_size, 0x260 + 4). The header itself may be
 * longer; setup_header is bounded by boot_params' layout (edd_mbr_sig_buffer at 0x290).
 */
const MIN_HEADER_END = HDR.init_size + 4;
const MAX_HEADER_END = 0x290;

/** True when the file carries the bzImage boot-sector signature and the "HdrS" magic. */
export function looksLikeBzImage(bytes: Uint8Array): boolean {
  if (bytes.length < HDR.header + 4) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return dv.getUint16(HDR.boot_flag, true) === BOOT_FLAG && dv.getUint32(HDR.header, true) === HDRS_MAGIC;
}

export function parseBzImage(bytes: Uint8Array, name = 'kernel'): BzImageKernel {
  const what = `kernel '${name}'`;
  const r = new ImageReader(bytes, what);
  if (r.u16(HDR.boot_flag, 'boot_flag') !== BOOT_FLAG || r.u32(HDR.header, 'header magic') !== HDRS_MAGIC) {
    throw new InputError(`${what} is not a bzImage: no 0xAA55 boot flag at 0x1FE and "HdrS" magic at 0x202`, {
      hint: 'pass a Linux bzImage (e.g. arch/x86/boot/bzImage or /boot/vmlinuz-*) or an ELF vmlinux',
    });
  }

  const version = r.u16(HDR.version, 'version');
  const protocol = protocolString(version);
  if (version < MIN_PROTOCOL_64) {
    throw new InputError(`${what} speaks boot protocol ${protocol}; 64-bit direct boot needs 2.12 or later (Linux 3.8+)`, {
      hint: 'use a newer x86-64 kernel',
    });
  }

  // The 2-byte jump at 0x200 is `jmp short start_of_setup`; its displacement gives the header length.
  const jumpOpcode = r.u8(HDR.jump, 'jump');
  const headerEnd = HDR.jump + 2 + r.u8(HDR.jump + 1, 'jump displacement');
  if (jumpOpcode !== 0xeb) {
    throw new InputError(
      `${what} has a malformed setup header: no short jump (0xEB) at 0x200, so its length (0x202 + the byte at 0x201) is unknown`,
      { hint: 'the file is corrupt or not a Linux kernel' },
    );
  }
  if (headerEnd < MIN_HEADER_END) {
    throw new InputError(
      `${what} has a malformed setup header: it ends at 0x${headerEnd.toString(16)} but protocol ${protocol} needs fields up to 0x${MIN_HEADER_END.toString(16)}`,
      { hint: 'the file is corrupt or not a Linux kernel' },
    );
  }

  r.need(HDR.setup_sects, headerEnd - HDR.setup_sects, 'setup header');
  const loadflags = r.u8(HDR.loadflags, 'loadflags');
  if ((loadflags & LOADED_HIGH) === 0) {
    throw new InputError(`${what} is a zImage (loadflags.LOADED_HIGH is clear), not a bzImage`, {
      hint: 'build the kernel with `make bzImage`',
    });
  }
  const xloadflags = r.u16(HDR.xloadflags, 'xloadflags');
  if ((xloadflags & XLF_KERNEL_64) === 0) {
    throw new InputError(`${what} has no 64-bit entry point (xloadflags.XLF_KERNEL_64 is clear): it is a 32-bit kernel`, {
      hint: 'use an x86-64 kernel (CONFIG_64BIT=y)',
    });
  }

  // (setup_sects + 1) × 512 bytes of real-mode code precede the protected-mode kernel; 0 means 4.
  const setupSects = r.u8(HDR.setup_sects, 'setup_sects') || 4;
  const setupSize = (setupSects + 1) * 512;
  // syssize (2.04+) is the protected-mode size in 16-byte paragraphs: a shorter file is truncated.
  const sysSize = r.u32(HDR.syssize, 'syssize') * 16;
  r.need(setupSize, Math.max(sysSize, 1), 'protected-mode code (setup_sects, syssize)');
  const protectedMode = bytes.subarray(setupSize);

  const kernelAlignment = r.u32(HDR.kernel_alignment, 'kernel_alignment');
  const relocatable = r.u8(HDR.relocatable_kernel, 'relocatable_kernel') !== 0;
  const cmdlineSize = r.u32(HDR.cmdline_size, 'cmdline_size');
  const initrdAddrMax = r.u32(HDR.initrd_addr_max, 'initrd_addr_max');
  const payloadOffset = r.u32(HDR.payload_offset, 'payload_offset');
  const payloadLength = r.u32(HDR.payload_length, 'payload_length');
  const prefAddress = r.u64(HDR.pref_address, 'pref_address');
  const initSize = r.u32(HDR.init_size, 'init_size');

  if (relocatable && !isPowerOfTwo(kernelAlignment)) {
    throw new InputError(`${what} has an invalid kernel_alignment 0x${kernelAlignment.toString(16)} (not a power of two)`, {
      hint: 'the setup header is corrupt',
    });
  }
  if (!Number.isFinite(prefAddress)) {
    throw new InputError(`${what} has a pref_address beyond 2^53`, { hint: 'the setup header is corrupt' });
  }
  if (payloadOffset + payloadLength > protectedMode.length) {
    throw new InputError(
      `${what} is truncated: its payload ends at 0x${(setupSize + payloadOffset + payloadLength).toString(16)} but the file has ${bytes.length} bytes`,
      { hint: 'the file is incomplete; download or build it again' },
    );
  }
  if (initSize < sysSize) {
    throw new InputError(`${what} has init_size 0x${initSize.toString(16)}, smaller than its own protected-mode code (0x${sysSize.toString(16)})`, {
      hint: 'the setup header is corrupt',
    });
  }

  // kernel_version points (less 0x200) at a NUL-terminated string inside the setup code.
  const kernelVersion = r.u16(HDR.kernel_version, 'kernel_version');
  const versionAt = kernelVersion + 0x200;
  const versionString = kernelVersion !== 0 && versionAt < setupSize ? r.cString(versionAt, setupSize, 'kernel version string') : null;

  const headerBytes = bytes.subarray(HDR.setup_sects, Math.min(headerEnd, MAX_HEADER_END));
  const payloadHead = protectedMode.subarray(payloadOffset, payloadOffset + Math.min(payloadLength, 16));
  return {
    format: 'bzImage',
    protocol,
    version: versionString === '' ? null : versionString,
    entry64: true,
    relocatable,
    alignment: kernelAlignment,
    initSize,
    prefAddress,
    cmdlineSize,
    initrdAddrMax,
    compression: payloadLength === 0 ? 'unknown' : detectCompression(payloadHead),
    setupHeader: headerBytes,
    setupSize,
    protectedMode,
    loadflags,
    xloadflags,
    payloadOffset,
    payloadLength,
  };
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
}
