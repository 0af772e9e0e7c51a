/**
 * BootPlan: everything needed to start a Linux guest through the 64-bit boot
 * protocol, as hypervisor-neutral data: the bytes to place in guest memory, the
 * resulting layout (for `inspect` and logs) and the initial vCPU state.
 *
 *   planBoot(kernelFile, options)  parses and lays out; writes nothing
 *   applyBootPlan(plan, memory)    copies the plan's bytes into a GuestMemory
 *
 * Both the WHP and the software backends take the same plan.
 */
import { InputError, HostError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { GuestMemory } from '../memory/guest-memory.ts';
import { MAX_GUEST_MEMORY, MIB, MIN_GUEST_MEMORY, MMIO_HOLE_START, PAGE_SIZE, ramLayout, type RamRange } from '../memory/layout.ts';
import {
  BOOT_STACK_ADDR,
  BOOT_STACK_POINTER,
  BOOT_STACK_SIZE,
  CMDLINE_ADDR,
  CMDLINE_MAX_SIZE,
  GDT_ADDR,
  HIMEM_START,
  IDENTITY_MAP_SIZE,
  MP_TABLE_ADDR,
  MP_TABLE_END,
  PAGE_TABLES_ADDR,
  TSS_ADDR,
  TSS_SIZE,
  ZERO_PAGE_ADDR,
} from './boot-layout.ts';
import { buildBootParams } from './boot-params.ts';
import { ENTRY64_OFFSET } from './bzimage.ts';
import { buildCmdline, encodeCmdline } from './cmdline.ts';
import { CR0_ET, CR0_NE, CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME, RFLAGS_RESERVED, type InitialCpuState } from './cpu-state.ts';
import { buildE820, type E820Entry } from './e820.ts';
import { bootCodeSegment, bootDataSegment, bootGdtr, bootIdtr, bootLdtSegment, bootTaskSegment, buildGdt } from './gdt.ts';
import type { KernelImage } from './kernel-image.ts';
import { parseKernel } from './load-kernel.ts';
import { buildIdentityPageTables } from './page-tables.ts';

export interface BootOptions {
  /** Guest RAM in bytes (MIN_GUEST_MEMORY..MAX_GUEST_MEMORY, whole pages). */
  memoryBytes: number;
  /** The initrd file contents, if any. */
  initrd?: Uint8Array | null;
  /** Names used in error messages. */
  kernelName?: string;
  initrdName?: string;
  /** The user's command-line additions (appended to the defaults). */
  cmdline?: string;
  /** Use only `cmdline`, without our defaults. */
  noDefaultCmdline?: boolean;
  /** The VM has PCI devices: don't add pci=off. */
  pci?: boolean;
  logger?: Logger;
}

export interface Region {
  addr: number;
  size: number;
}

export interface BootLayout {
  gdt: Region;
  tss: Region;
  zeroPage: Region;
  bootStack: Region;
  pageTables: Region;
  /** The NUL-terminated command line as placed. */
  cmdline: Region;
  /** Reserved for the MP table (written by the devices side, not by the plan). */
  mpTable: Region;
  /** The kernel bytes loaded (bzImage protected-mode code, or ELF PT_LOAD span incl. .bss). */
  kernel: Region;
  /** What the kernel may use before it reads the e820 map: [runtime start, + max(init_size, image)). */
  kernelFootprint: Region;
  initrd: Region | null;
  /** 64-bit entry point (RIP). */
  entry: number;
  /** Identity-mapped by the boot page tables: [0, identityMapped). */
  identityMapped: number;
  ram: RamRange[];
  e820: E820Entry[];
}

export type MemoryWrite = { gpa: number; data: Uint8Array } | { gpa: number; zero: number };

export interface BootPlan {
  kernel: KernelImage;
  memoryBytes: number;
  cmdline: string;
  layout: BootLayout;
  /** In the order applyBootPlan performs them. */
  writes: MemoryWrite[];
  cpu: InitialCpuState;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
const alignDown = (v: number, a: number): number => Math.floor(v / a) * a;
const mib = (bytes: number): string => {
  const v = bytes / MIB;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} MiB`;
};
const hex = (v: number): string => '0x' + v.toString(16);

export function checkMemorySize(memoryBytes: number): void {
  if (!Number.isSafeInteger(memoryBytes) || memoryBytes % PAGE_SIZE !== 0) {
    throw new InputError(`guest memory size ${memoryBytes} is not a whole number of 4 KiB pages`, { hint: 'give --mem in MiB' });
  }
  if (memoryBytes < MIN_GUEST_MEMORY) {
    throw new InputError(`guest memory of ${mib(memoryBytes)} is below the minimum of ${mib(MIN_GUEST_MEMORY)}`, {
      hint: `use --mem ${MIN_GUEST_MEMORY / MIB} or more`,
    });
  }
  if (memoryBytes > MAX_GUEST_MEMORY) {
    throw new InputError(`guest memory of ${mib(memoryBytes)} is above the maximum of ${mib(MAX_GUEST_MEMORY)}`, {
      hint: `use --mem ${MAX_GUEST_MEMORY / MIB} or less`,
    });
  }
}

/** Parses `kernelFile` and lays out a boot; writes nothing. Throws InputError for anything wrong with the inputs. */
export function planBoot(kernelFile: Uint8Array, options: BootOptions): BootPlan {
  const log = options.logger ?? silentLogger;
  const kernelName = options.kernelName ?? 'kernel';
  checkMemorySize(options.memoryBytes);
  const kernel = parseKernel(kernelFile, kernelName);
  const memoryBytes = options.memoryBytes;
  const ram = ramLayout(memoryBytes);
  const lowRamEnd = Math.min(memoryBytes, MMIO_HOLE_START);

  // --- Kernel placement ---------------------------------------------------------------
  const writes: MemoryWrite[] = [];
  let kernelRegion: Region;
  let footprint: Region;
  let entry: number;
  let loadAddress: number;
  if (kernel.format === 'bzImage') {
    // Load the protected-mode code where it will run, so init_size counts from the load
    // address. A relocatable kernel runs at max(align_up(load, kernel_alignment),
    // LOAD_PHYSICAL_ADDR) (arch/x86/boot/compressed/head_64.S, startup_64), and
    // pref_address is LOAD_PHYSICAL_ADDR (header.S); a non-relocatable one always runs at
    // pref_address (boot.rst, init_size).
    if (kernel.relocatable) {
      loadAddress = alignUp(Math.max(kernel.prefAddress, HIMEM_START), kernel.alignment);
    } else {
      loadAddress = kernel.prefAddress;
      if (loadAddress < HIMEM_START) {
        throw new InputError(`kernel '${kernelName}' is not relocatable and wants to run at ${hex(loadAddress)}, below 1 MiB`, {
          hint: 'the setup header is corrupt, or use a relocatable kernel',
        });
      }
    }
    kernelRegion = { addr: loadAddress, size: kernel.protectedMode.length };
    footprint = { addr: loadAddress, size: Math.max(kernel.initSize, kernel.protectedMode.length) };
    entry = loadAddress + ENTRY64_OFFSET;
    writes.push({ gpa: loadAddress, data: kernel.protectedMode });
  } else {
    const first = kernel.segments[0]!;
    const last = kernel.segments[kernel.segments.length - 1]!;
    loadAddress = first.paddr;
    if (first.paddr < HIMEM_START) {
      throw new InputError(`kernel '${kernelName}' has a PT_LOAD segment at ${hex(first.paddr)}, below 1 MiB where the boot structures live`, {
        hint: 'link the kernel at 1 MiB or above (CONFIG_PHYSICAL_START)',
      });
    }
    kernelRegion = { addr: first.paddr, size: last.paddr + last.memSize - first.paddr };
    footprint = kernelRegion;
    entry = kernel.entry;
    for (const s of kernel.segments) {
      writes.push({ gpa: s.paddr, data: s.data });
      if (s.memSize > s.data.length) writes.push({ gpa: s.paddr + s.data.length, zero: s.memSize - s.data.length });
    }
  }
  const kernelEnd = footprint.addr + footprint.size;
  const initrdBytes = options.initrd ?? null;
  const initrdPages = initrdBytes ? alignUp(initrdBytes.length, PAGE_SIZE) : 0;
  if (kernelEnd > lowRamEnd) {
    const needed = alignUp(kernelEnd + initrdPages, MIB);
    throw new InputError(
      kernelEnd > MMIO_HOLE_START
        ? `kernel '${kernelName}' needs memory up to ${hex(kernelEnd)}, which runs into the MMIO hole at ${hex(MMIO_HOLE_START)}`
        : `guest memory of ${mib(memoryBytes)} is too small for kernel '${kernelName}': it needs ${hex(footprint.addr)}..${hex(kernelEnd)} (${kernel.format === 'bzImage' ? 'init_size' : 'PT_LOAD span'} ${mib(footprint.size)} from ${mib(footprint.addr)})${initrdBytes ? ` plus ${mib(initrdPages)} of initrd` : ''}`,
      { hint: kernelEnd > MMIO_HOLE_START ? 'the kernel image is corrupt' : `use --mem ${needed / MIB} or more` },
    );
  }

  // --- initrd: as high as allowed, page-aligned, above the kernel ---------------------------
  let initrd: Region | null = null;
  if (initrdBytes) {
    const initrdName = options.initrdName ?? 'initrd';
    if (initrdBytes.length === 0) {
      throw new InputError(`initrd '${initrdName}' is empty`, { hint: 'pass a cpio archive (optionally compressed), or omit --initrd' });
    }
    // initrd_addr_max is the highest byte the initrd may occupy (boot.rst).
    const ceiling = Math.min(lowRamEnd, kernel.initrdAddrMax + 1);
    const floor = alignUp(kernelEnd, PAGE_SIZE);
    const addr = alignDown(ceiling - initrdBytes.length, PAGE_SIZE);
    if (addr < floor) {
      const room = Math.max(0, alignDown(ceiling, PAGE_SIZE) - floor);
      const memoryLimited = lowRamEnd <= kernel.initrdAddrMax;
      // More memory only helps if the initrd would then fit below both initrd_addr_max and
      // the MMIO hole; otherwise suggesting a bigger --mem would just lead to another refusal.
      const neededEnd = floor + initrdPages;
      const hardCeiling = Math.min(kernel.initrdAddrMax + 1, MMIO_HOLE_START);
      const reachable = neededEnd <= hardCeiling;
      const hardLimit = hardCeiling === MMIO_HOLE_START ? `the MMIO hole at ${hex(MMIO_HOLE_START)}` : `initrd_addr_max ${hex(kernel.initrdAddrMax)}`;
      throw new InputError(
        `initrd '${initrdName}' (${mib(initrdBytes.length)}) does not fit: ${mib(room)} free between the kernel's end (${hex(kernelEnd)}) and ` +
          (memoryLimited ? `the end of ${mib(memoryBytes)} of low guest memory` : `the kernel's initrd_addr_max (${hex(kernel.initrdAddrMax)})`),
        {
          hint:
            memoryLimited && reachable
              ? `use --mem ${alignUp(neededEnd, MIB) / MIB} or more, or a smaller initrd`
              : `use a smaller initrd: at most ${mib(Math.max(0, alignDown(hardCeiling, PAGE_SIZE) - floor))} fits between this kernel and ${hardLimit}, whatever --mem is`,
        },
      );
    }
    initrd = { addr, size: initrdBytes.length };
    writes.push({ gpa: addr, data: initrdBytes });
  }

  // --- Command line -------------------------------------------------------------------------
  const cmdline = buildCmdline({ extra: options.cmdline, noDefaults: options.noDefaultCmdline, pci: options.pci });
  const cmdlineBytes = encodeCmdline(cmdline, Math.min(kernel.cmdlineSize, CMDLINE_MAX_SIZE - 1));

  // --- Boot structures ----------------------------------------------------------------------
  const e820 = buildE820(memoryBytes);
  const zeroPage = buildBootParams({
    setupHeader: kernel.format === 'bzImage' ? kernel.setupHeader : null,
    loadAddress,
    cmdlineAddr: CMDLINE_ADDR,
    initrd,
    e820,
  });
  const gdt = buildGdt();
  const pageTables = buildIdentityPageTables(PAGE_TABLES_ADDR);
  // Boot structures first, so the kernel/initrd writes are last (they are the big ones).
  writes.unshift(
    { gpa: GDT_ADDR, data: gdt },
    { gpa: TSS_ADDR, zero: TSS_SIZE },
    { gpa: ZERO_PAGE_ADDR, data: zeroPage },
    { gpa: PAGE_TABLES_ADDR, data: pageTables },
    { gpa: CMDLINE_ADDR, data: cmdlineBytes },
  );

  const layout: BootLayout = {
    gdt: { addr: GDT_ADDR, size: gdt.length },
    tss: { addr: TSS_ADDR, size: TSS_SIZE },
    zeroPage: { addr: ZERO_PAGE_ADDR, size: zeroPage.length },
    bootStack: { addr: BOOT_STACK_ADDR, size: BOOT_STACK_SIZE },
    pageTables: { addr: PAGE_TABLES_ADDR, size: pageTables.length },
    cmdline: { addr: CMDLINE_ADDR, size: cmdlineBytes.length },
    mpTable: { addr: MP_TABLE_ADDR, size: MP_TABLE_END - MP_TABLE_ADDR },
    kernel: kernelRegion,
    kernelFootprint: footprint,
    initrd,
    entry,
    identityMapped: IDENTITY_MAP_SIZE,
    ram,
    e820,
  };

  const flat = bootDataSegment();
  const cpu: InitialCpuState = {
    rax: 0, rbx: 0, rcx: 0, rdx: 0,
    // boot.rst: "%rsi must hold the base address of the struct boot_params".
    rsi: ZERO_PAGE_ADDR,
    rdi: 0,
    rsp: BOOT_STACK_POINTER,
    rbp: BOOT_STACK_POINTER,
    r8: 0, r9: 0, r10: 0, r11: 0, r12: 0, r13: 0, r14: 0, r15: 0,
    rip: entry,
    rflags: RFLAGS_RESERVED,
    // Long mode with paging (SDM Vol. 3A 9.8.5): PE + PG with PAE and EFER.LME; LMA is what the
    // CPU would have set on enabling paging. ET and NE are what any x86-64 CPU reports.
    cr0: (CR0_PE | CR0_ET | CR0_NE | CR0_PG) >>> 0,
    cr3: PAGE_TABLES_ADDR,
    cr4: CR4_PAE,
    efer: EFER_LME | EFER_LMA,
    cs: bootCodeSegment(),
    ds: flat,
    es: { ...flat },
    ss: { ...flat },
    fs: { ...flat },
    gs: { ...flat },
    tr: bootTaskSegment(),
    ldtr: bootLdtSegment(),
    gdtr: bootGdtr(),
    idtr: bootIdtr(),
  };

  log.debug(
    {
      format: kernel.format,
      protocol: kernel.protocol,
      kernel: hex(kernelRegion.addr),
      kernelEnd: hex(kernelEnd),
      entry: hex(entry),
      initrd: initrd ? `${hex(initrd.addr)}+${initrd.size}` : null,
      cmdline,
    },
    'boot plan',
  );
  return { kernel, memoryBytes, cmdline, layout, writes, cpu };
}

/** Writes the plan into guest memory (which must have been laid out for plan.memoryBytes). */
export function applyBootPlan(plan: BootPlan, memory: GuestMemory): void {
  if (memory.size !== plan.memoryBytes) {
    throw new HostError(`boot plan is for ${plan.memoryBytes} bytes of RAM but the guest memory has ${memory.size}`);
  }
  for (const w of plan.writes) {
    if ('data' in w) memory.write(w.gpa, w.data);
    else memory.fill(w.gpa, w.zero, 0);
  }
}
