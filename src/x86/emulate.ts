/**
 * Instruction emulation for hypervisor exits (WHP): pure entry points a backend calls with
 * the exit's information, in the shape of OpenVMM's virt_support_x86emu wrapper.
 *
 *  - emulatePortIo(): plain IN/OUT. Uses the port, size and RAX from the exit context and
 *    the exit's instruction length — no decoding (the hardware already did the IOPL and TSS
 *    bitmap checks before the exit).
 *  - emulateInstruction(): string I/O and MMIO. Decodes the instruction bytes the exit supplies
 *    (up to 16); if they end mid-instruction it fetches more through the CPU's translation
 *    (execute access) and retries. Executes with the executor against an X86Cpu. RIP advances
 *    only on success; guest faults come back as an outcome for the backend to inject as a
 *    pending exception; a `rep` instruction interrupted after a bounded chunk comes back as
 *    'retry' (resume the guest at the same RIP so interrupts get delivered).
 *  - ExitCpu: the X86Cpu exit emulation runs against (the only one; the WHP backend uses it
 *    too): a register file, a LinearTranslator (an allocation-free object, or a GVA→GPA
 *    callback cached per page and seedable with the exit's own pair), guest RAM and an MMIO bus.
 */
import { decodeInto, DecodeFault, Instruction, OperandKind } from './decode/index.ts';
import { formatIntel } from './decode/format.ts';
import type { GuestMemory } from '../memory/guest-memory.ts';
import {
  ACCESS_EXECUTE, ACCESS_READ, ACCESS_WRITE, CS, DIRTY_GPR, DIRTY_RFLAGS, DIRTY_RIP, DIRTY_XMM, FLAG_TF, X86Registers,
  type MemoryAccess, type X86Cpu, type X86Fault,
} from './cpu.ts';
import { execute } from './exec/executor.ts';
import { RETRY, UNSUPPORTED } from './exec/result.ts';

// ------------------------------------------------------------------ plain port I/O

/** What a WHP I/O port exit reports for a non-string IN/OUT. */
export interface PortIoExit {
  port: number;
  /** Access size in bytes: 1, 2 or 4. */
  size: number;
  isWrite: boolean;
  /** RAX at the exit (64-bit, unsigned). */
  rax: bigint;
  rip: bigint;
  /** From the exit's VP context. */
  instructionLength: number;
}

/** The same exit with 64-bit values as 32-bit halves (what emulatePortIoHalves takes; no BigInt). */
export interface PortIoExitHalves {
  port: number;
  /** Access size in bytes: 1, 2 or 4. */
  size: number;
  isWrite: boolean;
  /** RAX bits 31:0 and 63:32 (int32 or uint32 bit patterns). */
  raxLo: number;
  raxHi: number;
  ripLo: number;
  ripHi: number;
  instructionLength: number;
  /** Code size at the exit (default 64): RIP wraps at 2^16 / 2^32 in 16/32-bit code. */
  bitness?: 16 | 32 | 64;
}

/** New RAX and RIP as unsigned 32-bit halves. */
export interface PortIoCompletion {
  raxLo: number;
  raxHi: number;
  ripLo: number;
  ripHi: number;
}

export interface PortIoBus {
  readIo(port: number, size: number): number;
  writeIo(port: number, size: number, value: number): void;
}

const portIoResult: PortIoCompletion = { raxLo: 0, raxHi: 0, ripLo: 0, ripHi: 0 };

/**
 * Completes a non-string IN/OUT without allocating: returns one module-level result object,
 * refilled by every call (read it before the next call). An 8/16-bit IN replaces only AL/AX
 * and keeps RAX[63:8/16]; a 32-bit IN zero-extends into RAX (SDM Vol. 1 §3.4.1.1).
 */
export function emulatePortIoHalves(exit: PortIoExitHalves, bus: PortIoBus): PortIoCompletion {
  const size = exit.size;
  const mask = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  const out = portIoResult;
  let lo = exit.raxLo >>> 0, hi = exit.raxHi >>> 0;
  if (exit.isWrite) {
    bus.writeIo(exit.port, size, (lo & mask) >>> 0);
  } else {
    const v = bus.readIo(exit.port, size) & mask;
    if (size === 4) {
      lo = v >>> 0;
      hi = 0;
    } else lo = ((lo & ~mask) | v) >>> 0;
  }
  out.raxLo = lo;
  out.raxHi = hi;
  const bitness = exit.bitness ?? 64;
  let ipLo = (exit.ripLo >>> 0) + exit.instructionLength, ipHi = exit.ripHi >>> 0;
  if (bitness === 64) {
    if (ipLo > 0xffffffff) ipHi = (ipHi + 1) >>> 0;
  } else {
    ipHi = 0;
    if (bitness === 16) ipLo &= 0xffff;
  }
  out.ripLo = ipLo >>> 0;
  out.ripHi = ipHi;
  return out;
}

const halvesScratch: PortIoExitHalves = { port: 0, size: 1, isWrite: false, raxLo: 0, raxHi: 0, ripLo: 0, ripHi: 0, instructionLength: 0 };

/**
 * emulatePortIoHalves with 64-bit values as BigInts (for callers that hold them so; the
 * BigInts themselves allocate — a per-exit path uses emulatePortIoHalves).
 */
export function emulatePortIo(exit: PortIoExit, bus: PortIoBus): { rax: bigint; rip: bigint } {
  const h = halvesScratch;
  h.port = exit.port;
  h.size = exit.size;
  h.isWrite = exit.isWrite;
  h.raxLo = Number(exit.rax & 0xffffffffn);
  h.raxHi = Number((exit.rax >> 32n) & 0xffffffffn);
  h.ripLo = Number(exit.rip & 0xffffffffn);
  h.ripHi = Number((exit.rip >> 32n) & 0xffffffffn);
  h.instructionLength = exit.instructionLength;
  const r = emulatePortIoHalves(h, bus);
  return { rax: (BigInt(r.raxHi) << 32n) | BigInt(r.raxLo), rip: (BigInt(r.ripHi) << 32n) | BigInt(r.ripLo) };
}

// ------------------------------------------------------------------ decode + execute

export type EmulationOutcome =
  /** Retired: registers (see regs.dirty) and RIP updated. `debugTrap`: RFLAGS.TF was set, so a
   * single-step #DB is due after the instruction (inject it). */
  | { kind: 'done'; debugTrap: boolean }
  /** Not retired, RIP unchanged: resume the guest (it re-executes; a rep chunk or lock race). */
  | { kind: 'retry' }
  /** A guest fault to inject as a pending exception; RIP unchanged. */
  | { kind: 'exception'; fault: X86Fault }
  /** Could not emulate (undecodable, or an instruction the executor lacks). OpenVMM injects
   * #UD here; `fault` is that #UD so a backend can do the same, and `text` explains. */
  | { kind: 'unsupported'; fault: X86Fault; text: string };

export interface EmulateOptions {
  /** Set when the exit happened while delivering an event (interruption pending): emulating
   * would re-deliver, so we refuse (as OpenVMM does). */
  interruptionPending?: boolean;
}

const insnScratch = new Instruction();
const fetchBuf = new Uint8Array(16);
const fetchWord = new Uint32Array(4);
const gprBefore = new Int32Array(32);
const xmmBefore = new Uint32Array(64);

// The outcomes of the common paths are shared frozen objects: a retired instruction allocates nothing.
const OUTCOME_DONE: EmulationOutcome = Object.freeze({ kind: 'done', debugTrap: false });
const OUTCOME_DONE_TRAP: EmulationOutcome = Object.freeze({ kind: 'done', debugTrap: true });
const OUTCOME_RETRY: EmulationOutcome = Object.freeze({ kind: 'retry' });

/** Operand kinds that name an XMM register (lookup table by OperandKind). */
const XMM_KIND = new Uint8Array(64);
for (const k of [OperandKind.Xmm, OperandKind.XmmRm, OperandKind.XmmV, OperandKind.Xmm0, OperandKind.XmmIs4]) XMM_KIND[k] = 1;

/**
 * Decodes and executes one instruction at RIP. `bytes` are the instruction bytes from the exit
 * context (WHP gives up to 16); more are fetched through `cpu.readMemory(…, ACCESS_EXECUTE)`
 * if they run out mid-instruction.
 */
export function emulateInstruction(cpu: X86Cpu, bytes: Uint8Array, options: EmulateOptions = {}): EmulationOutcome {
  const r = cpu.regs;
  if (options.interruptionPending) {
    return { kind: 'unsupported', fault: { vector: 6 }, text: 'exit during event delivery: not emulated (would re-deliver the event)' };
  }
  const mode = r.bitness;
  const insn = insnScratch;
  let buf = bytes;
  let have = Math.min(bytes.length, 16);
  let df = decodeInto(buf, 0, mode, insn, have);
  if (df === DecodeFault.Truncated) {
    // Fetch the rest byte by byte through translation (an instruction may cross a page).
    fetchBuf.set(bytes.subarray(0, have));
    const ip = r.rip + (mode === 64 ? 0 : r.segBase[CS]!);
    while (df === DecodeFault.Truncated && have < 15) {
      const f = cpu.readMemory(ip + have, 1, fetchWord, ACCESS_EXECUTE);
      if (f !== null) return { kind: 'exception', fault: f };
      fetchBuf[have++] = fetchWord[0]!;
      df = decodeInto(fetchBuf, 0, mode, insn, have);
    }
    buf = fetchBuf;
  }
  if (df === DecodeFault.Truncated) df = DecodeFault.GeneralProtection; // > 15 bytes
  if (df !== DecodeFault.None) {
    return df === DecodeFault.GeneralProtection
      ? { kind: 'exception', fault: { vector: 13, errorCode: 0 } }
      : { kind: 'unsupported', fault: { vector: 6 }, text: `undecodable instruction bytes ${hexBytes(buf, have)}` };
  }
  const tf = (r.flagsBase & FLAG_TF) !== 0;
  const ripBefore = r.rip;
  // Snapshot what the executor may change, so `dirty` names only what did change (a backend
  // writes back just those). XMM only for an instruction with an XMM operand.
  gprBefore.set(r.gpr);
  const flagsBefore = r.getRflags();
  const xmm = (XMM_KIND[insn.o0]! | XMM_KIND[insn.o1]! | XMM_KIND[insn.o2]! | XMM_KIND[insn.o3]!) !== 0;
  if (xmm) xmmBefore.set(r.xmm);
  const res = execute(cpu, insn);
  if (res === null) {
    r.dirty |= DIRTY_RIP | changedRegisters(r, flagsBefore, xmm);
    return tf ? OUTCOME_DONE_TRAP : OUTCOME_DONE;
  }
  r.rip = ripBefore;
  // A rep instruction stopped after a chunk (RETRY) or faulting mid-way keeps its progress in
  // rCX/rSI/rDI, which is architectural: report those changes too.
  if (res === RETRY) {
    r.dirty |= changedRegisters(r, flagsBefore, xmm);
    return OUTCOME_RETRY;
  }
  if (res === UNSUPPORTED) {
    return { kind: 'unsupported', fault: { vector: 6 }, text: `instruction not supported by the emulator: ${formatIntel(insn)} (${hexBytes(buf, insn.length)})` };
  }
  r.dirty |= changedRegisters(r, flagsBefore, xmm);
  return { kind: 'exception', fault: res };
}

/** DIRTY_GPR / DIRTY_RFLAGS / DIRTY_XMM for what differs from the snapshot taken before execute(). */
function changedRegisters(r: X86Registers, flagsBefore: number, xmm: boolean): number {
  let d = 0;
  const g = r.gpr;
  for (let i = 0; i < 32; i++) {
    if (g[i] !== gprBefore[i]) {
      d = DIRTY_GPR;
      break;
    }
  }
  if (r.getRflags() !== flagsBefore) d |= DIRTY_RFLAGS;
  if (xmm) {
    const x = r.xmm;
    for (let i = 0; i < 64; i++) {
      if (x[i] !== xmmBefore[i]) {
        d |= DIRTY_XMM;
        break;
      }
    }
  }
  return d;
}

function hexBytes(b: Uint8Array, n: number): string {
  return Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

// ------------------------------------------------------------------ the X86Cpu for exits

/** Device side of guest-physical MMIO. Data as little-endian 32-bit words (see X86Cpu). */
export interface MmioBus {
  read(gpa: number, size: number, out: Uint32Array): void;
  write(gpa: number, size: number, data: Uint32Array): void;
}

/** GVA → GPA for the given access, or the fault (#PF with error code and CR2). */
export type TranslateGva = (gva: number, access: MemoryAccess) => number | X86Fault;

/**
 * Linear → physical translation without allocation: translate() returns the fault or null and
 * leaves the GPA in `gpa`. (Returning a GPA above 2^31 from a call V8 does not inline boxes it
 * into a HeapNumber: one allocation per access.) The WHP backend's GvaTranslator
 * (WHvTranslateGva) has this shape; CachedGvaTranslator adapts a TranslateGva callback.
 * `regs` gives the privilege level and paging mode a #PF error code depends on.
 */
export interface LinearTranslator {
  translate(gva: number, access: MemoryAccess, regs: X86Registers): X86Fault | null;
  readonly gpa: number;
}

/**
 * LinearTranslator over a TranslateGva callback, with a one-entry cache per access kind. The
 * cache is only valid within one exit (the guest may change its page tables or CR3 between
 * exits): flush() at the start of each exit, then seed() with the exit's own GVA→GPA pair.
 */
export class CachedGvaTranslator implements LinearTranslator {
  gpa = 0.5; // a double from the start, so V8 keeps the field unboxed
  private readonly cachePage = [NaN, NaN, NaN];
  private readonly cacheGpa = [0.5, 0.5, 0.5];

  constructor(private readonly fn: TranslateGva) {}

  flush(): void {
    this.cachePage.fill(NaN);
  }

  seed(gva: number, gpa: number, access: MemoryAccess): void {
    this.cachePage[access] = Math.floor(gva / 4096);
    this.cacheGpa[access] = Math.floor(gpa / 4096) * 4096;
  }

  translate(gva: number, access: MemoryAccess): X86Fault | null {
    const page = Math.floor(gva / 4096);
    const off = gva - page * 4096;
    if (this.cachePage[access] === page) {
      this.gpa = this.cacheGpa[access]! + off;
      return null;
    }
    const t = this.fn(gva, access);
    if (typeof t !== 'number') return t;
    this.cachePage[access] = page;
    this.cacheGpa[access] = t - off;
    this.gpa = t;
    return null;
  }
}

export interface ExitCpuOptions {
  regs: X86Registers;
  ram: GuestMemory;
  mmio: MmioBus;
  io: PortIoBus;
  /** A callback (wrapped in a CachedGvaTranslator) or a LinearTranslator that caches by itself. */
  translate: TranslateGva | LinearTranslator;
  /** Default #GP(0): MSR accesses normally have their own exit. */
  readMsr?: (index: number) => bigint | X86Fault;
  writeMsr?: (index: number, value: bigint) => X86Fault | null;
  /** Default: all zeros (CPUID normally has its own exit). */
  cpuid?: (leaf: number, subleaf: number, out: Uint32Array) => void;
}

const GP0: X86Fault = Object.freeze({ vector: 13, errorCode: 0 });

/**
 * The X86Cpu the executor runs against while completing an exit (the only one: tests, the
 * benches and the WHP backend all use it):
 *
 *  - linear → physical through a LinearTranslator (per page; the translator caches);
 *  - a GPA range inside GuestMemory → guest RAM, anything else → the MMIO bus (an access wider
 *    than the bus cycle is the bus's to split: WHP's WordMmioBus does 16 bytes as two 8-byte
 *    accesses, low half first);
 *  - an access that crosses a page is translated on both pages first (a #PF on either leaves
 *    nothing half-written), then done byte by byte, as two separate page accesses would be;
 *  - compareAndWriteMemory is a real atomic compare-exchange on naturally aligned 1/2/4/8-byte
 *    RAM operands (other vCPUs run concurrently); elsewhere compare-then-write;
 *  - MSRs #GP(0) and CPUID zeros unless hooks are given, so a mis-dispatched exit cannot
 *    silently do something plausible.
 *
 * Nothing allocates on the common path (1/2/4-byte RAM and MMIO accesses): GPAs travel in the
 * `gpa` field, never as return values.
 */
export class ExitCpu implements X86Cpu {
  readonly regs: X86Registers;
  readonly ram: GuestMemory;
  readonly translator: LinearTranslator;
  private readonly cache: CachedGvaTranslator | null;
  private readonly o: ExitCpuOptions;
  /** Guest-physical address of the access in progress (see readPhysical). */
  private gpa = 0.5; // a double from the start, so V8 keeps the field unboxed
  private readonly one = new Uint32Array(4);
  private readonly cur = new Uint32Array(4);

  constructor(options: ExitCpuOptions) {
    this.o = options;
    this.regs = options.regs;
    this.ram = options.ram;
    const t = options.translate;
    this.cache = typeof t === 'function' ? new CachedGvaTranslator(t) : null;
    this.translator = this.cache ?? (t as LinearTranslator);
  }

  /**
   * Forgets cached translations of a callback translator: call at the start of each exit if the
   * ExitCpu is reused, then seedTranslation() with the exit's own pair. A LinearTranslator
   * object manages its own cache (WHP: GvaTranslator.reset / seedFromExit) and is left alone.
   */
  flushTranslations(): void {
    this.cache?.flush();
  }

  /** Seeds the callback translator's cache with the exit's GVA→GPA pair (WHP memory-access exit: Gva, Gpa). */
  seedTranslation(gva: number, gpa: number, access: MemoryAccess): void {
    this.cache?.seed(gva, gpa, access);
  }

  /**
   * Every access this CPU completes caused a VM exit, and the hardware makes the IOPL and TSS
   * I/O-bitmap checks for IN/OUT/INS/OUTS before it exits (SDM Vol. 3C §26.1.1): an I/O exit,
   * or an MMIO exit taken by a string I/O instruction's memory operand, means the port access
   * was permitted.
   */
  readonly ioPermissionChecked = true;

  /** Translates both ends of a write without writing (INS asks before it reads the port). */
  probeWrite(gva: number, size: number): X86Fault | null {
    const t = this.translator;
    return t.translate(gva, ACCESS_WRITE, this.regs) ?? ((gva & 0xfff) + size > 4096 ? t.translate(gva + size - 1, ACCESS_WRITE, this.regs) : null);
  }

  readMemory(gva: number, size: number, out: Uint32Array, access: MemoryAccess): X86Fault | null {
    if ((gva & 0xfff) + size > 4096) return this.split(gva, size, out, access, false);
    const t = this.translator;
    const f = t.translate(gva, access, this.regs);
    if (f !== null) return f;
    this.gpa = t.gpa;
    this.readPhysical(size, out);
    return null;
  }

  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null {
    if ((gva & 0xfff) + size > 4096) return this.split(gva, size, data, ACCESS_WRITE, true);
    const t = this.translator;
    const f = t.translate(gva, ACCESS_WRITE, this.regs);
    if (f !== null) return f;
    this.gpa = t.gpa;
    this.writePhysical(size, data);
    return null;
  }

  /**
   * Reads `size` bytes at `this.gpa` (not crossing a page): RAM if it is RAM, else the MMIO bus.
   * The GPA goes through a field, not an argument: device GPAs lie above 3 GiB, outside V8's
   * small-integer range, so passing one to a call that is not inlined allocates a HeapNumber.
   */
  private readPhysical(size: number, out: Uint32Array): void {
    const gpa = this.gpa;
    const ram = this.ram;
    if (ram.contains(gpa, size)) {
      if (size === 1) out[0] = ram.readU8(gpa);
      else if (size === 2) out[0] = ram.readU16(gpa);
      else for (let i = 0; i < size >> 2; i++) out[i] = ram.readU32(gpa + 4 * i);
      return;
    }
    this.o.mmio.read(gpa, size, out);
  }

  /** Writes `size` bytes at `this.gpa` (see readPhysical). */
  private writePhysical(size: number, data: Uint32Array): void {
    const gpa = this.gpa;
    const ram = this.ram;
    if (ram.contains(gpa, size)) {
      if (size === 1) ram.writeU8(gpa, data[0]! & 0xff);
      else if (size === 2) ram.writeU16(gpa, data[0]! & 0xffff);
      else for (let i = 0; i < size >> 2; i++) ram.writeU32(gpa + 4 * i, data[i]!);
      return;
    }
    this.o.mmio.write(gpa, size, data);
  }

  /** A page-crossing access: both translations first (no partial effect on a fault), then bytes. */
  private split(gva: number, size: number, words: Uint32Array, access: MemoryAccess, write: boolean): X86Fault | null {
    const t = this.translator;
    let f = t.translate(gva, access, this.regs);
    if (f !== null) return f;
    const first = t.gpa;
    f = t.translate(gva + size - 1, access, this.regs);
    if (f !== null) return f;
    const last = t.gpa;
    const firstLen = 4096 - (gva & 0xfff);
    const one = this.one;
    if (!write) for (let i = 0; i < (size + 3) >> 2; i++) words[i] = 0;
    for (let i = 0; i < size; i++) {
      this.gpa = i < firstLen ? first + i : last - (size - 1 - i);
      const w = i >> 2, sh = (i & 3) * 8;
      if (write) {
        one[0] = (words[w]! >>> sh) & 0xff;
        this.writePhysical(1, one);
      } else {
        this.readPhysical(1, one);
        words[w] = (words[w]! | (one[0]! << sh)) >>> 0;
      }
    }
    return null;
  }

  /**
   * Locked read-modify-write. On RAM a naturally aligned 1/2/4/8-byte operand is a real atomic
   * compare-exchange on the guest's memory (other vCPUs may run concurrently); an unaligned or
   * page-split RAM operand is compare-then-write (the SDM gives no atomicity for split locks
   * beyond the bus lock we do not have). A device register is written without a compare: the
   * executor has already made the RMW's one read, nothing else writes the register while this
   * vCPU is in its exit, and a second read could change a read-sensitive register (a counter,
   * a read-to-clear status) so that the compare never matched and the guest retried forever.
   * One read and one write is what a locked RMW puts on the bus (SDM Vol. 3A §9.1.2).
   */
  compareAndWriteMemory(gva: number, size: number, expected: Uint32Array, data: Uint32Array): X86Fault | boolean {
    if ((gva & 0xfff) + size <= 4096) {
      const t = this.translator;
      const f = t.translate(gva, ACCESS_WRITE, this.regs);
      if (f !== null) return f;
      const gpa = t.gpa;
      if (!this.ram.contains(gpa, size)) {
        this.gpa = gpa;
        this.writePhysical(size, data);
        return true;
      }
      if (size <= 8 && gpa % size === 0) {
        const r = this.atomicRam(gpa, size, expected, data);
        if (r !== null) return r;
      }
    }
    const cur = this.cur;
    const f = this.readMemory(gva, size, cur, ACCESS_READ);
    if (f !== null) return f;
    const words = Math.max(1, size >> 2);
    for (let i = 0; i < words; i++) {
      if (cur[i] !== expected[i]) {
        for (let j = 0; j < words; j++) expected[j] = cur[j]!;
        return false;
      }
    }
    return this.writeMemory(gva, size, data) ?? true;
  }

  /** Atomics.compareExchange on RAM; null if the host view is not aligned for it. */
  private atomicRam(gpa: number, size: number, expected: Uint32Array, data: Uint32Array): boolean | null {
    const v = this.ram.view(gpa, size);
    const buf = v.buffer as ArrayBuffer;
    const at = v.byteOffset;
    if (at % size !== 0) return null;
    if (size === 8) {
      const want = (BigInt(expected[1]!) << 32n) | BigInt(expected[0]!);
      const old = Atomics.compareExchange(new BigUint64Array(buf, at, 1), 0, want, (BigInt(data[1]!) << 32n) | BigInt(data[0]!));
      if (old === want) return true;
      expected[0] = Number(old & 0xffffffffn);
      expected[1] = Number(old >> 32n);
      return false;
    }
    const arr = size === 4 ? new Uint32Array(buf, at, 1) : size === 2 ? new Uint16Array(buf, at, 1) : new Uint8Array(buf, at, 1);
    const want = expected[0]!;
    const old = Atomics.compareExchange(arr, 0, want, data[0]!);
    if (old === want) return true;
    expected[0] = old;
    return false;
  }

  readIo(port: number, size: number): number {
    return this.o.io.readIo(port, size);
  }

  writeIo(port: number, size: number, value: number): void {
    this.o.io.writeIo(port, size, value);
  }

  readMsr(index: number): bigint | X86Fault {
    return this.o.readMsr ? this.o.readMsr(index) : GP0;
  }

  writeMsr(index: number, value: bigint): X86Fault | null {
    return this.o.writeMsr ? this.o.writeMsr(index, value) : GP0;
  }

  cpuid(leaf: number, subleaf: number, out: Uint32Array): void {
    if (this.o.cpuid) this.o.cpuid(leaf, subleaf, out);
    else out[0] = out[1] = out[2] = out[3] = 0;
  }
}
