/**
 * What the loader knows about a kernel file once parsed: the facts `inspect`
 * reports and the pieces `planBoot` places. Two formats: a bzImage (boot protocol
 * setup header + compressed payload that decompresses itself) and an ELF vmlinux
 * (PT_LOAD segments placed at their physical addresses, as libkrun and Firecracker do).
 */
import type { PayloadCompression } from './compression.ts';

interface KernelImageCommon {
  /** Boot protocol "major.minor" (e.g. "2.15"); null for an ELF, which has no setup header. */
  protocol: string | null;
  /** Kernel version string (bzImage: the `kernel_version` field; ELF: the "Linux version" banner), or null. */
  version: string | null;
  /** True when the image has a 64-bit entry point we can start in long mode. */
  entry64: boolean;
  /** May be loaded at any `alignment`-aligned address (bzImage relocatable_kernel). */
  relocatable: boolean;
  /** Load alignment in bytes (bzImage kernel_alignment; ELF: the first PT_LOAD's p_align). */
  alignment: number;
  /** Contiguous bytes the kernel needs from its runtime start before it reads the e820 map. */
  initSize: number;
  /** Preferred (bzImage pref_address) or fixed (ELF lowest p_paddr) physical load address. */
  prefAddress: number;
  /** Longest command line the kernel accepts, without the trailing NUL. */
  cmdlineSize: number;
  /** Highest address an initrd byte may occupy (bzImage initrd_addr_max). */
  initrdAddrMax: number;
  /** Compression of the payload, from its magic bytes ('none' for an ELF). */
  compression: PayloadCompression;
}

export interface BzImageKernel extends KernelImageCommon {
  format: 'bzImage';
  /** The setup header bytes as in the file, [0x1F1, header end): copied into boot_params. */
  setupHeader: Uint8Array;
  /** Size of the real-mode setup code, (setup_sects + 1) × 512. */
  setupSize: number;
  /** The protected-mode kernel: the file from setupSize to the end. */
  protectedMode: Uint8Array;
  loadflags: number;
  xloadflags: number;
  /** Offset of the compressed payload inside the protected-mode code (payload_offset) and its length. */
  payloadOffset: number;
  payloadLength: number;
}

export interface ElfSegment {
  /** Physical (load) address, p_paddr. */
  paddr: number;
  /** Virtual address, p_vaddr (a BigInt: kernel virtual addresses exceed 2^53). */
  vaddr: bigint;
  /** The p_filesz bytes from the file (a view, no copy). */
  data: Uint8Array;
  /** p_memsz: the segment's size in memory; the tail past `data` is zero-filled (.bss). */
  memSize: number;
}

export interface ElfKernel extends KernelImageCommon {
  format: 'elf';
  segments: ElfSegment[];
  /** e_entry translated to a physical address. */
  entry: number;
  /** e_entry as written in the file. */
  entryVirtual: bigint;
}

export type KernelImage = BzImageKernel | ElfKernel;

export function protocolString(version: number): string {
  return `${version >> 8}.${String(version & 0xff).padStart(2, '0')}`;
}
