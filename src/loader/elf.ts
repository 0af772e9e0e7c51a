/**
 * Parses an uncompressed x86-64 vmlinux (ELF64, System V gABI "ELF Header" and
 * "Program Header" chapters; x86-64 psABI for EM_X86_64 = 62).
 *
 * Like libkrun and Firecracker we place every PT_LOAD segment at its physical
 * address (p_paddr) and enter at e_entry translated to a physical address. Linux's
 * vmlinux.lds already sets e_entry to phys_startup_64, but an image whose entry is a
 * virtual address (inside some segment's [p_vaddr, p_vaddr + p_memsz)) is translated
 * through that segment, so both kinds work.
 */
import { InputError } from '../errors.ts';
import { ImageReader } from './image-reader.ts';
import type { ElfKernel, ElfSegment } from './kernel-image.ts';

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
export const EM_X86_64 = 62;
const PT_LOAD = 1;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;

/**
 * x86's COMMAND_LINE_SIZE is 2048 (arch/x86/include/asm/setup.h); header.S reports
 * COMMAND_LINE_SIZE - 1 as cmdline_size. An ELF has no header, so we assume the same.
 */
export const ELF_CMDLINE_SIZE = 2047;
/** header.S's initrd_addr_max for x86-64 kernels; an ELF has no header to say otherwise. */
export const ELF_INITRD_ADDR_MAX = 0x7fffffff;

export function looksLikeElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

export function parseElfKernel(bytes: Uint8Array, name = 'kernel'): ElfKernel {
  const what = `kernel '${name}'`;
  const r = new ImageReader(bytes, what);
  r.need(0, EHDR_SIZE, 'ELF header');
  const cls = r.u8(4, 'EI_CLASS');
  if (cls !== ELFCLASS64) {
    throw new InputError(`${what} is a ${cls === 1 ? '32-bit (ELFCLASS32)' : `class-${cls}`} ELF, not an x86-64 vmlinux`, {
      hint: 'use a 64-bit x86-64 kernel',
    });
  }
  if (r.u8(5, 'EI_DATA') !== ELFDATA2LSB) {
    throw new InputError(`${what} is a big-endian ELF, not an x86-64 vmlinux`, { hint: 'use an x86-64 kernel' });
  }
  const machine = r.u16(0x12, 'e_machine');
  if (machine !== EM_X86_64) {
    throw new InputError(`${what} is an ELF for machine ${machine}, not x86-64 (EM_X86_64 = 62)`, { hint: 'use an x86-64 kernel' });
  }
  const type = r.u16(0x10, 'e_type');
  if (type !== ET_EXEC) {
    throw new InputError(`${what} is not an executable ELF (e_type ${type}); a vmlinux is ET_EXEC`, {
      hint: 'pass the vmlinux from the top of the kernel build tree, not a module or object file',
    });
  }

  const entryVirtual = r.u64big(0x18, 'e_entry');
  const phoff = r.u64(0x20, 'e_phoff');
  const phentsize = r.u16(0x36, 'e_phentsize');
  const phnum = r.u16(0x38, 'e_phnum');
  if (phentsize < PHDR_SIZE || phnum === 0 || phnum === 0xffff) {
    throw new InputError(`${what} has no usable program headers (e_phnum ${phnum}, e_phentsize ${phentsize})`, {
      hint: 'the ELF is corrupt or stripped of program headers',
    });
  }
  r.need(phoff, phentsize * phnum, 'program headers');

  const segments: ElfSegment[] = [];
  let firstAlign = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (r.u32(ph, 'p_type') !== PT_LOAD) continue;
    const offset = r.u64(ph + 0x08, 'p_offset');
    const vaddr = r.u64big(ph + 0x10, 'p_vaddr');
    const paddr = r.u64(ph + 0x18, 'p_paddr');
    const fileSize = r.u64(ph + 0x20, 'p_filesz');
    const memSize = r.u64(ph + 0x28, 'p_memsz');
    const align = r.u64(ph + 0x30, 'p_align');
    if (memSize === 0) continue;
    if (fileSize > memSize || !Number.isFinite(paddr) || !Number.isSafeInteger(paddr + memSize)) {
      throw new InputError(`${what} has a malformed PT_LOAD segment #${i} (p_paddr 0x${paddr.toString(16)}, p_filesz ${fileSize}, p_memsz ${memSize})`, {
        hint: 'the ELF is corrupt',
      });
    }
    const data = r.slice(offset, fileSize, `PT_LOAD segment #${i}`);
    if (segments.length === 0) firstAlign = Number.isFinite(align) ? align : 0;
    segments.push({ paddr, vaddr, data, memSize });
  }
  if (segments.length === 0) {
    throw new InputError(`${what} has no PT_LOAD segments, so there is nothing to load`, { hint: 'the ELF is corrupt' });
  }
  segments.sort((a, b) => a.paddr - b.paddr);
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    if (prev.paddr + prev.memSize > segments[i]!.paddr) {
      throw new InputError(`${what} has overlapping PT_LOAD segments at physical 0x${segments[i]!.paddr.toString(16)}`, {
        hint: 'the ELF is corrupt',
      });
    }
  }

  const entry = translateEntry(entryVirtual, segments);
  if (entry === undefined) {
    throw new InputError(`${what} has its entry point 0x${entryVirtual.toString(16)} outside every PT_LOAD segment`, {
      hint: 'the ELF is corrupt or not a kernel',
    });
  }
  const start = segments[0]!.paddr;
  const last = segments[segments.length - 1]!;
  return {
    format: 'elf',
    protocol: null,
    version: findLinuxBanner(r),
    entry64: true,
    relocatable: false,
    alignment: firstAlign,
    initSize: last.paddr + last.memSize - start,
    prefAddress: start,
    cmdlineSize: ELF_CMDLINE_SIZE,
    initrdAddrMax: ELF_INITRD_ADDR_MAX,
    compression: 'none',
    segments,
    entry,
    entryVirtual,
  };
}

/** e_entry → physical: already physical if inside some [p_paddr, +p_memsz), else through the segment holding it virtually. */
function translateEntry(entry: bigint, segments: readonly ElfSegment[]): number | undefined {
  for (const s of segments) {
    if (entry >= BigInt(s.paddr) && entry < BigInt(s.paddr + s.memSize)) return Number(entry);
  }
  // Kernel virtual addresses (0xffffffff8…) exceed 2^53, hence BigInt.
  for (const s of segments) {
    if (entry >= s.vaddr && entry < s.vaddr + BigInt(s.memSize)) return s.paddr + Number(entry - s.vaddr);
  }
  return undefined;
}

const BANNER = 'Linux version ';

/**
 * The kernel's linux_banner ("Linux version 6.1.0 (user@host) (gcc …) #1 SMP …"), without
 * the prefix. A vmlinux can hold more than one copy (init/version.c and
 * init/version-timestamp.c); prefer one with a build number ("#1"), else the first.
 * Decoded with ImageReader.cString, as the bzImage version string is: the file is
 * untrusted and `inspect` prints this, so control bytes (ESC sequences, BEL, CR) must
 * become '?' rather than reach the terminal.
 */
function findLinuxBanner(r: ImageReader): string | null {
  const buf = Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
  let first: string | null = null;
  let at = buf.indexOf(BANNER);
  for (let hits = 0; at >= 0 && hits < 8; hits++) {
    const c = buf[at + BANNER.length];
    // The banner proper is followed by a release that starts with a digit (other hits are format strings).
    if (c !== undefined && c >= 0x30 && c <= 0x39) {
      let end = at + BANNER.length;
      while (end < buf.length && end - at < 512 && buf[end] !== 0 && buf[end] !== 0x0a) end++;
      const text = r.cString(at + BANNER.length, end, 'kernel version string');
      if (/#\d/.test(text)) return text;
      first ??= text;
    }
    at = buf.indexOf(BANNER, at + 1);
  }
  return first;
}
