/**
 * Identity-mapped 4-level page tables for the 64-bit entry (IA-32e paging, Intel
 * SDM Vol. 3A 4.5). The boot protocol requires the kernel's [start, start +
 * init_size), the zero page and the command line to be identity-mapped; we map the
 * whole first 4 GiB, which holds all of them, the initrd and low RAM.
 *
 * 2 MiB pages rather than 1 GiB pages: 1 GiB pages need CPUID.80000001H:EDX.Page1GB
 * (SDM 4.1.4), which our software CPU and some WHP CPUID policies may not offer; 2 MiB
 * pages (PDE.PS) are architectural in IA-32e mode. Cost: 4 page directories (16 KiB).
 *
 * Layout at `base`: PML4, PDPT, then PD0..PD3 (one per GiB).
 * Entry formats (SDM Tables 4-15, 4-17, 4-18): P = bit 0, R/W = bit 1, PS = bit 7 (in a
 * PDE: maps a 2 MiB page), physical address in bits 51:12 (51:21 for a 2 MiB page).
 * U/S is clear (supervisor only); NX is clear (EFER.NXE is off at entry anyway).
 */
import { IDENTITY_MAP_SIZE, PAGE_TABLES_SIZE } from './boot-layout.ts';

export const PTE_PRESENT = 1n << 0n;
export const PTE_WRITABLE = 1n << 1n;
export const PTE_PAGE_SIZE = 1n << 7n;

const PAGE = 0x1000;
const ENTRIES = 512;
const LARGE_PAGE = 2 * 1024 * 1024;

/** Builds the PML4/PDPT/PD pages for the identity map of [0, IDENTITY_MAP_SIZE), to be placed at `base`. */
export function buildIdentityPageTables(base: number): Uint8Array {
  const gib = IDENTITY_MAP_SIZE / (1024 * 1024 * 1024);
  const bytes = new Uint8Array(PAGE_TABLES_SIZE);
  const dv = new DataView(bytes.buffer);
  const pml4 = 0;
  const pdpt = PAGE;
  const pd = 2 * PAGE;
  // PML4[0] → PDPT (covers the first 512 GiB).
  dv.setBigUint64(pml4, BigInt(base + pdpt) | PTE_PRESENT | PTE_WRITABLE, true);
  for (let g = 0; g < gib; g++) {
    // PDPT[g] → page directory g (covers GiB g).
    dv.setBigUint64(pdpt + g * 8, BigInt(base + pd + g * PAGE) | PTE_PRESENT | PTE_WRITABLE, true);
    for (let i = 0; i < ENTRIES; i++) {
      const phys = BigInt((g * ENTRIES + i) * LARGE_PAGE);
      dv.setBigUint64(pd + g * PAGE + i * 8, phys | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE, true);
    }
  }
  return bytes;
}
