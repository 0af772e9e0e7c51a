/**
 * The guest-physical memory map shared by every backend.
 *
 * RAM starts at 0 and runs up to the 32-bit MMIO hole; whatever does not fit
 * below the hole continues at 4 GiB. The hole holds the IOAPIC (0xFEC00000),
 * the local APIC (0xFEE00000) and room for future MMIO devices; the e820 map
 * the loader builds never reports RAM inside it.
 */
export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;
export const PAGE_SIZE = 4096;

/** Start of the 32-bit MMIO hole (3 GiB), as Firecracker and libkrun place it. */
export const MMIO_HOLE_START = 0xc000_0000;
/** End (exclusive) of the 32-bit MMIO hole. */
export const MMIO_HOLE_END = 0x1_0000_0000;
/** IOAPIC MMIO base (Intel 82093AA datasheet, default). */
export const IOAPIC_BASE = 0xfec0_0000;
/** Local APIC MMIO base (Intel SDM Vol. 3A, 11.4.1, IA32_APIC_BASE reset value). */
export const LAPIC_BASE = 0xfee0_0000;

/** Smallest guest we accept: enough for the zero page, page tables and a tiny kernel. */
export const MIN_GUEST_MEMORY = 16 * MIB;
/** Largest guest we lay out: 1 TiB keeps every GPA far below 2^52 and within 4-level paging. */
export const MAX_GUEST_MEMORY = 1024 * GIB;

export interface RamRange {
  gpa: number;
  size: number;
}

/** RAM ranges for a guest of `memoryBytes` bytes: low RAM below the hole, the rest from 4 GiB. */
export function ramLayout(memoryBytes: number): RamRange[] {
  const low = Math.min(memoryBytes, MMIO_HOLE_START);
  const ranges: RamRange[] = [{ gpa: 0, size: low }];
  if (memoryBytes > low) ranges.push({ gpa: MMIO_HOLE_END, size: memoryBytes - low });
  return ranges;
}
