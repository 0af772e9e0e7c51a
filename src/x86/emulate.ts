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
 *  - ExitCpu: an X86Cpu over a register file, a GVA→GPA translation callback, guest RAM and an
 *    MMIO bus, with the exit's own GVA→GPA translation pre-seeded (saves a page walk per exit).
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

// ------------------------------------------------------------------ a ready-made X86Cpu

/** Device side of guest-physical MMIO. Data as little-endian 32-bit words (see X86Cpu). */
export interface MmioBus {
  read(gpa: number, size: number, out: Uint32Array): void;
  write(gpa: number, size: number, data: Uint32Array): void;
}

/** GVA → GPA for the given access, or the fault (#PF with error code and CR2). */
export type TranslateGva = (gva: number, access: MemoryAccess) => number | X86Fault;

export interface ExitCpuOptions {
  regs: X86Registers;
  ram: GuestMemory;
  mmio: MmioBus;
  io: PortIoBus;
  translate: TranslateGva;
  readMsr?: (index: number) => bigint | X86Fault;
  writeMsr?: (index: number, value: bigint) => X86Fault | null;
  cpuid?: (leaf: number, subleaf: number, out: Uint32Array) => void;
}

const GP0: X86Fault = Object.freeze({ vector: 13, errorCode: 0 });

/**
 * X86Cpu for exit emulation: linear addresses are translated page by page (with a one-entry
 * cache per access kind, seedable from the exit's own translation), then routed to RAM when
 * GuestMemory contains the range and to the MMIO bus otherwise. An access that crosses a page
 * is split into bytes. compareAndWriteMemory is atomic on RAM for naturally aligned 1/2/4/8-byte
 * operands (Atomics on the RAM view); on MMIO the compare is done but not atomically, as device
 * registers are not shared with other agents (OpenVMM ignores the compare there).
 */
export class ExitCpu implements X86Cpu {
  readonly regs: X86Registers;
  private readonly o: ExitCpuOptions;
  private readonly cachePage = [NaN, NaN, NaN];
  private readonly cacheGpa = [0.5, 0.5, 0.5]; // doubles from the start: kept unboxed
  /** GPA of the last successful gpaOf() (a field, not a return value: see gpaOf). */
  private gpa = 0.5;
  private readonly tmp = new Uint32Array(4);
  private readonly cur = new Uint32Array(4);

  constructor(options: ExitCpuOptions) {
    this.o = options;
    this.regs = options.regs;
  }

  /**
   * Forgets cached translations. The cache is only valid within one exit (the guest may change
   * its page tables or CR3 between exits): call this at the start of each exit if the ExitCpu is
   * reused, then seedTranslation() with the exit's own pair. (The WHP backend does not use
   * ExitCpu: src/whp/exit-cpu.ts has WhpExitCpu over GvaTranslator, which calls WHvTranslateGva
   * into native scratch memory and is reset by BuiltinExitEmulator at every exit. ExitCpu is the
   * backend-neutral form — translation as a callback, devices as MmioBus/PortIoBus — for
   * backends outside src/whp, tests and bench/x86.bench.ts; src/x86 may not import WHP code.)
   */
  flushTranslations(): void {
    this.cachePage.fill(NaN);
  }

  /** Seeds the translation cache with the exit's GVA→GPA pair (WHP memory-access exit: Gva, Gpa). */
  seedTranslation(gva: number, gpa: number, access: MemoryAccess): void {
    this.cachePage[access] = Math.floor(gva / 4096);
    this.cacheGpa[access] = Math.floor(gpa / 4096) * 4096;
  }

  /**
   * Translates into `this.gpa`; returns the fault or null. The GPA is not returned: a number
   * above 2^31 returned from a call V8 does not inline is boxed, one allocation per access.
   */
  private gpaOf(gva: number, access: MemoryAccess): X86Fault | null {
    const page = Math.floor(gva / 4096);
    const off = gva - page * 4096;
    if (this.cachePage[access] === page) {
      this.gpa = this.cacheGpa[access]! + off;
      return null;
    }
    const t = this.o.translate(gva, access);
    if (typeof t !== 'number') return t;
    this.cachePage[access] = page;
    this.cacheGpa[access] = t - off;
    this.gpa = t;
    return null;
  }

  private crossesPage(gva: number, size: number): boolean {
    return (gva - Math.floor(gva / 4096) * 4096) + size > 4096;
  }

  readMemory(gva: number, size: number, out: Uint32Array, access: MemoryAccess): X86Fault | null {
    if (this.crossesPage(gva, size)) return this.bytewise(gva, size, out, access, false);
    const f = this.gpaOf(gva, access);
    if (f !== null) return f;
    const gpa = this.gpa;
    const ram = this.o.ram;
    if (ram.contains(gpa, size)) {
      if (size === 1) out[0] = ram.readU8(gpa);
      else if (size === 2) out[0] = ram.readU16(gpa);
      else for (let i = 0; i < size >> 2; i++) out[i] = ram.readU32(gpa + 4 * i);
    } else {
      this.o.mmio.read(gpa, size, out);
    }
    return null;
  }

  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null {
    if (this.crossesPage(gva, size)) return this.bytewise(gva, size, data, ACCESS_WRITE, true);
    const f = this.gpaOf(gva, ACCESS_WRITE);
    if (f !== null) return f;
    const gpa = this.gpa;
    const ram = this.o.ram;
    if (ram.contains(gpa, size)) {
      if (size === 1) ram.writeU8(gpa, data[0]!);
      else if (size === 2) ram.writeU16(gpa, data[0]!);
      else for (let i = 0; i < size >> 2; i++) ram.writeU32(gpa + 4 * i, data[i]!);
    } else {
      this.o.mmio.write(gpa, size, data);
    }
    return null;
  }

  /** Page-crossing access: translate both pages first (no partial write on a fault), then bytes. */
  private bytewise(gva: number, size: number, words: Uint32Array, access: MemoryAccess, write: boolean): X86Fault | null {
    const last = this.gpaOf(gva + size - 1, access);
    if (last !== null) return last;
    const first = this.gpaOf(gva, access);
    if (first !== null) return first;
    const one = this.tmp;
    if (!write) words.fill(0);
    for (let i = 0; i < size; i++) {
      const w = i >> 2, sh = (i & 3) * 8;
      if (write) {
        one[0] = (words[w]! >>> sh) & 0xff;
        const f = this.writeMemory(gva + i, 1, one);
        if (f) return f;
      } else {
        const f = this.readMemory(gva + i, 1, one, access);
        if (f) return f;
        words[w] = (words[w]! | (one[0]! << sh)) >>> 0;
      }
    }
    return null;
  }

  compareAndWriteMemory(gva: number, size: number, expected: Uint32Array, data: Uint32Array): X86Fault | boolean {
    if (!this.crossesPage(gva, size)) {
      const tf = this.gpaOf(gva, ACCESS_WRITE);
      if (tf !== null) return tf;
      const gpa = this.gpa;
      const ram = this.o.ram;
      const v = ram.contains(gpa, size) && size <= 8 && gpa % size === 0 ? ram.view(gpa, size) : null;
      if (v !== null && v.byteOffset % size === 0) {
        const buf = v.buffer, at = v.byteOffset;
        let old: number | bigint, want: number | bigint;
        if (size === 8) {
          want = (BigInt(expected[1]!) << 32n) | BigInt(expected[0]!);
          old = Atomics.compareExchange(new BigUint64Array(buf, at, 1), 0, want, (BigInt(data[1]!) << 32n) | BigInt(data[0]!));
          if (old === want) return true;
          expected[0] = Number(old & 0xffffffffn);
          expected[1] = Number(old >> 32n);
          return false;
        }
        const arr = size === 4 ? new Uint32Array(buf, at, 1) : size === 2 ? new Uint16Array(buf, at, 1) : new Uint8Array(buf, at, 1);
        want = expected[0]!;
        old = Atomics.compareExchange(arr, 0, want, data[0]!);
        if (old === want) return true;
        expected[0] = old;
        return false;
      }
    }
    // MMIO or unaligned RAM: compare then write (not atomic; see the class comment).
    const cur = this.cur;
    const f = this.readMemory(gva, size, cur, ACCESS_READ);
    if (f) return f;
    for (let i = 0; i < Math.max(1, size >> 2); i++) {
      if (cur[i] !== expected[i]) {
        expected.set(cur);
        return false;
      }
    }
    return this.writeMemory(gva, size, data) ?? true;
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
    else out.fill(0);
  }
}
