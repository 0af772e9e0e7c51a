/**
 * Fixed guest-physical addresses of everything the loader (and the MP table) puts
 * in low memory before the kernel runs. One place, so the loader, the devices
 * (MP table) and `inspect` agree, and so the ordering can be checked (below).
 *
 *   0x0000_0500  GDT (6 descriptors: null, null, __BOOT_CS, __BOOT_DS, 16-byte TSS)
 *   0x0000_0580  TSS (104 bytes, zeroed; only there so TR is a valid busy TSS)
 *   0x0000_7000  zero page (struct boot_params, 4 KiB)       — as Firecracker/libkrun
 *   0x0000_8000  boot stack page (RSP = 0x8ff0)                — as Firecracker/libkrun
 *   0x0000_9000  PML4, 0xA000 PDPT, 0xB000–0xEFFF four PDs     — identity map of 4 GiB
 *   0x0002_0000  kernel command line (≤ 64 KiB, capped by the kernel's cmdline_size)
 *   0x0009_FC00  MP table (devices); e820 reserves [0x9FC00, 0x100000) like a PC's
 *                EBDA + VGA + BIOS area
 *   0x0010_0000+ kernel (bzImage at pref_address, normally 16 MiB; ELF at p_paddr)
 *   top of RAM below initrd_addr_max: initrd
 *
 * Everything here sits below 1 MiB and inside the first 4 GiB, which the boot page
 * tables identity-map, as the 64-bit boot protocol requires for the zero page and
 * command line (Documentation/x86/boot.rst, "64-bit Boot Protocol").
 */

/** GDT base. Linux replaces it at once; it only has to hold __BOOT_CS/__BOOT_DS. */
export const GDT_ADDR = 0x500;
/** Space reserved for the GDT (6 × 8 bytes used). */
export const GDT_SIZE = 0x40;
/** A zeroed 64-bit TSS, so TR can hold a valid busy-TSS descriptor (VM-entry checks, Intel SDM Vol. 3C 26.3.1.2). */
export const TSS_ADDR = 0x580;
/** Size of a 64-bit TSS without an I/O bitmap (Intel SDM Vol. 3A 8.7, Figure 8-11). */
export const TSS_SIZE = 0x68;

/** struct boot_params ("zero page"), Documentation/x86/zero-page.rst. */
export const ZERO_PAGE_ADDR = 0x7000;
export const ZERO_PAGE_SIZE = 0x1000;

/** One page of stack. Linux's entry code sets up its own stack first, but a sane RSP costs nothing. */
export const BOOT_STACK_ADDR = 0x8000;
export const BOOT_STACK_SIZE = 0x1000;
/** Initial RSP/RBP: 16 bytes below the top of the boot stack page. */
export const BOOT_STACK_POINTER = BOOT_STACK_ADDR + BOOT_STACK_SIZE - 0x10;

/** PML4 (CR3), then the PDPT, then one page directory per mapped GiB. */
export const PAGE_TABLES_ADDR = 0x9000;
/** How much the boot page tables identity-map: the whole 32-bit space (2 MiB pages). */
export const IDENTITY_MAP_SIZE = 4 * 1024 * 1024 * 1024;
/** PML4 + PDPT + 4 page directories. */
export const PAGE_TABLES_SIZE = 6 * 0x1000;

/** Kernel command line buffer, as Firecracker/libkrun place it. */
export const CMDLINE_ADDR = 0x20000;
/** Largest command line buffer we lay out (the kernel's own cmdline_size is usually far smaller). */
export const CMDLINE_MAX_SIZE = 0x10000;

/**
 * The MP floating pointer + configuration table (written by the devices side,
 * src/loader/mp-table.ts). Linux scans "639K–640K" (0x9FC00, the usual EBDA) for the
 * floating pointer (arch/x86/kernel/mpparse.c, default_find_smp_config), and the
 * e820 map marks it reserved. The table may grow up to MP_TABLE_END (exclusive); the
 * rest of the reserved area up to 1 MiB is left free (e.g. for an ACPI RSDP at 0xE0000).
 */
export const MP_TABLE_ADDR = 0x9fc00;
export const MP_TABLE_END = 0xe0000;

/** Start of the legacy reserved area (EBDA, VGA window, option ROMs, BIOS) in the e820 map. */
export const LEGACY_RESERVED_START = 0x9fc00;
/** End of the legacy reserved area: 1 MiB, where "high memory" begins. */
export const LEGACY_RESERVED_END = 0x100000;

/** Nothing of the kernel may be placed below this (the classic bzImage load address). */
export const HIMEM_START = 0x100000;

/** Boot code/data selectors required by the boot protocol (boot.rst: __BOOT_CS 0x10, __BOOT_DS 0x18). */
export const BOOT_CS_SELECTOR = 0x10;
export const BOOT_DS_SELECTOR = 0x18;
/** TR selector: the 16-byte TSS descriptor in GDT slots 4–5. */
export const BOOT_TSS_SELECTOR = 0x20;

// The layout above must not overlap; a broken edit fails at import time, not in a guest.
const regions: [string, number, number][] = [
  ['gdt', GDT_ADDR, GDT_SIZE],
  ['tss', TSS_ADDR, TSS_SIZE],
  ['zero page', ZERO_PAGE_ADDR, ZERO_PAGE_SIZE],
  ['boot stack', BOOT_STACK_ADDR, BOOT_STACK_SIZE],
  ['page tables', PAGE_TABLES_ADDR, PAGE_TABLES_SIZE],
  ['command line', CMDLINE_ADDR, CMDLINE_MAX_SIZE],
  ['mp table', MP_TABLE_ADDR, MP_TABLE_END - MP_TABLE_ADDR],
];
for (let i = 1; i < regions.length; i++) {
  const [name, start] = regions[i]!;
  const [prevName, prevStart, prevSize] = regions[i - 1]!;
  if (prevStart + prevSize > start) throw new Error(`boot layout: ${prevName} overlaps ${name}`);
}
if (MP_TABLE_END > LEGACY_RESERVED_END || LEGACY_RESERVED_END > HIMEM_START) throw new Error('boot layout: legacy area');
