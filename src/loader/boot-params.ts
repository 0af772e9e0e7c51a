/**
 * struct boot_params, the "zero page" (Documentation/x86/zero-page.rst,
 * arch/x86/include/uapi/asm/bootparam.h). For the 64-bit boot protocol the loader
 * zeroes 4 KiB, copies the kernel's setup header in at 0x1F1, then fills in the
 * fields boot.rst marks "write (obligatory)" plus the e820 map.
 */
import { InputError } from '../errors.ts';
import { BOOT_FLAG, HDR, HDRS_MAGIC, LOADED_HIGH, MIN_PROTOCOL_64 } from './bzimage.ts';
import { E820_ENTRY_SIZE, E820_MAX_ENTRIES, type E820Entry } from './e820.ts';

/** boot_params offsets outside the setup header (zero-page.rst). */
export const BP = {
  ext_ramdisk_image: 0x0c0,
  ext_ramdisk_size: 0x0c4,
  ext_cmd_line_ptr: 0x0c8,
  e820_entries: 0x1e8,
  sentinel: 0x1ef,
  hdr: 0x1f1,
  e820_table: 0x2d0,
} as const;

export const BOOT_PARAMS_SIZE = 0x1000;
/** No boot loader ID assigned to us: 0xFF "undefined" (boot.rst, type_of_loader). Linux ignores the initrd when this is 0. */
export const TYPE_OF_LOADER_UNDEFINED = 0xff;
/** loadflags bits we must clear: QUIET_FLAG (5) would silence early messages; CAN_USE_HEAP (7) is real-mode only. */
const LOADFLAGS_CLEAR = (1 << 5) | (1 << 7);

export interface BootParamsInput {
  /**
   * The kernel's setup header as in its file ([0x1F1, header end)), or null for an ELF
   * vmlinux, which has none: then a minimal header is written (boot flag, "HdrS",
   * protocol version — Linux checks version ≠ 0 to know boot_params was filled in,
   * arch/x86/kernel/head64.c x86_64_start_reservations).
   */
  setupHeader: Uint8Array | null;
  /** Where the protected-mode kernel was loaded (bzImage): code32_start. */
  loadAddress: number;
  cmdlineAddr: number;
  initrd: { addr: number; size: number } | null;
  e820: readonly E820Entry[];
}

export function buildBootParams(input: BootParamsInput): Uint8Array {
  const bytes = new Uint8Array(BOOT_PARAMS_SIZE);
  const dv = new DataView(bytes.buffer);

  if (input.setupHeader) {
    bytes.set(input.setupHeader, BP.hdr);
  } else {
    dv.setUint16(HDR.boot_flag, BOOT_FLAG, true);
    dv.setUint32(HDR.header, HDRS_MAGIC, true);
    dv.setUint16(HDR.version, MIN_PROTOCOL_64, true);
    dv.setUint8(HDR.loadflags, LOADED_HIGH);
  }

  dv.setUint8(HDR.type_of_loader, TYPE_OF_LOADER_UNDEFINED);
  dv.setUint8(HDR.loadflags, (dv.getUint8(HDR.loadflags) & ~LOADFLAGS_CLEAR) | LOADED_HIGH);
  // A relocating loader without a 32-bit hook points code32_start at the loaded code (boot.rst).
  dv.setUint32(HDR.code32_start, input.loadAddress >>> 0, true);

  setSplit64(dv, HDR.cmd_line_ptr, BP.ext_cmd_line_ptr, input.cmdlineAddr);
  setSplit64(dv, HDR.ramdisk_image, BP.ext_ramdisk_image, input.initrd?.addr ?? 0);
  setSplit64(dv, HDR.ramdisk_size, BP.ext_ramdisk_size, input.initrd?.size ?? 0);

  if (input.e820.length > E820_MAX_ENTRIES) {
    throw new InputError(`the memory map needs ${input.e820.length} e820 entries; boot_params holds ${E820_MAX_ENTRIES}`);
  }
  dv.setUint8(BP.e820_entries, input.e820.length);
  input.e820.forEach((e, i) => {
    const at = BP.e820_table + i * E820_ENTRY_SIZE;
    dv.setBigUint64(at, BigInt(e.addr), true);
    dv.setBigUint64(at + 8, BigInt(e.size), true);
    dv.setUint32(at + 16, e.type, true);
  });
  return bytes;
}

/** Writes a 64-bit value as a low 32-bit half (setup header) and a high half (boot_params ext_* field). */
function setSplit64(dv: DataView, lowOffset: number, highOffset: number, value: number): void {
  dv.setUint32(lowOffset, value % 2 ** 32, true);
  dv.setUint32(highOffset, Math.floor(value / 2 ** 32), true);
}
