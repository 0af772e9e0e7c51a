/**
 * The BIOS-style e820 memory map handed to Linux in boot_params.e820_table
 * (Documentation/x86/zero-page.rst: e820_entries at 0x1E8, e820_table at 0x2D0,
 * 128 entries of struct boot_e820_entry { u64 addr; u64 size; u32 type; } packed,
 * arch/x86/include/uapi/asm/bootparam.h). Types from arch/x86/include/asm/e820/types.h.
 *
 * Built from the VM's RAM layout (src/memory/layout.ts): RAM below the MMIO hole and
 * above 4 GiB. The hole is simply absent. Like a PC (and Firecracker/libkrun), RAM
 * below 1 MiB stops at the EBDA (0x9FC00); [0x9FC00, 1 MiB) is reserved, which covers
 * the MP table and the legacy VGA/ROM window that no one should use as RAM.
 */
import { ramLayout, type RamRange } from '../memory/layout.ts';
import { HIMEM_START, LEGACY_RESERVED_END, LEGACY_RESERVED_START } from './boot-layout.ts';

export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;
export const E820_UNUSABLE = 5;

/** boot_params holds at most E820_MAX_ENTRIES_ZEROPAGE = 128 entries. */
export const E820_MAX_ENTRIES = 128;
export const E820_ENTRY_SIZE = 20;

export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

export function e820TypeName(type: number): string {
  switch (type) {
    case E820_RAM:
      return 'usable';
    case E820_RESERVED:
      return 'reserved';
    case E820_ACPI:
      return 'ACPI data';
    case E820_NVS:
      return 'ACPI NVS';
    case E820_UNUSABLE:
      return 'unusable';
    default:
      return `type ${type}`;
  }
}

/** The e820 map for a guest of `memoryBytes` (≥ 1 MiB), in ascending order. */
export function buildE820(memoryBytes: number): E820Entry[] {
  return e820FromRam(ramLayout(memoryBytes));
}

export function e820FromRam(ram: readonly RamRange[]): E820Entry[] {
  const out: E820Entry[] = [];
  for (const { gpa, size } of ram) {
    const end = gpa + size;
    if (gpa < HIMEM_START) {
      // Conventional memory up to the EBDA, then the reserved legacy area, then the rest.
      out.push({ addr: gpa, size: Math.min(end, LEGACY_RESERVED_START) - gpa, type: E820_RAM });
      if (end > LEGACY_RESERVED_START) {
        out.push({ addr: LEGACY_RESERVED_START, size: Math.min(end, LEGACY_RESERVED_END) - LEGACY_RESERVED_START, type: E820_RESERVED });
      }
      if (end > HIMEM_START) out.push({ addr: HIMEM_START, size: end - HIMEM_START, type: E820_RAM });
    } else {
      out.push({ addr: gpa, size, type: E820_RAM });
    }
  }
  return out.filter((e) => e.size > 0);
}
