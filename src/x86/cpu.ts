/**
 * The CPU interface the x86 executor calls back into (in the style of OpenVMM's x86emu `Cpu`
 * trait): the register file, linear memory with translation, port I/O, locked compare-and-write,
 * MSRs and CPUID. On WHP the exit handler implements it over the exit context and register
 * batches; in the software CPU the CPU state itself implements it.
 *
 * Representation (decided for speed, measured in bench/x86.bench.ts):
 *  - GPRs are pairs of 32-bit halves in one Int32Array: `gpr[2*n]` is bits 31:0 and
 *    `gpr[2*n+1]` bits 63:32 (as int32 bit patterns). 8/16/32-bit operations touch only the low
 *    half with plain int32 arithmetic (which V8 keeps unboxed); 64-bit add/sub propagate a carry
 *    between halves; only 64-bit multiply and divide use BigInt. bench/x86.bench.ts measures
 *    the choice: an `add r64, r64` with its lazy-flag bookkeeping runs ~6× faster on halves
 *    than on BigUint64Array + BigInt, because BigInt values stored in objects are allocated.
 *  - RIP, segment bases and linear addresses are plain numbers holding the *sign-extended*
 *    (canonical) value: every canonical 48-bit address lies within ±2^47, far inside a double's
 *    exact integer range, so kernel addresses such as 0xffffffff81000000 are exact as
 *    -0x7f000000. (5-level paging's 57-bit addresses would not fit; LA57 is not advertised.)
 *  - Arithmetic flags are lazy: ALU instructions record the operation, operands and result, and
 *    CF/PF/AF/ZF/SF/OF are computed only when something reads them (jcc, setcc, pushf, or the
 *    backend reading RFLAGS). See src/x86/exec/flags.ts.
 *  - Faults are values (`X86Fault`), never JS exceptions.
 */
import { flagsMaterialize } from './exec/flags.ts';

// --- GPR numbers (encoding order, Intel SDM Vol. 2 Table 2-2) ---
export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;

// --- Segment register numbers (encoding order of the sreg field) ---
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

// --- RFLAGS bits (Intel SDM Vol. 1 §3.4.3) ---
export const FLAG_CF = 0x1, FLAG_PF = 0x4, FLAG_AF = 0x10, FLAG_ZF = 0x40, FLAG_SF = 0x80;
export const FLAG_TF = 0x100, FLAG_IF = 0x200, FLAG_DF = 0x400, FLAG_OF = 0x800;
export const FLAG_IOPL = 0x3000, FLAG_NT = 0x4000, FLAG_RF = 0x10000, FLAG_VM = 0x20000, FLAG_AC = 0x40000;
export const FLAG_VIF = 0x80000, FLAG_VIP = 0x100000, FLAG_ID = 0x200000;
/** The six status flags (CF PF AF ZF SF OF). */
export const FLAGS_ARITH = 0x8d5;

// --- Control register / EFER bits used by the executor ---
export const CR0_PE = 0x1, CR0_AM = 0x40000, CR0_PG = 0x80000000;
export const EFER_LME = 0x100, EFER_LMA = 0x400;

// --- Exception vectors (Intel SDM Vol. 3 Table 6-1) ---
export const VEC_DE = 0, VEC_DB = 1, VEC_BP = 3, VEC_UD = 6, VEC_NM = 7, VEC_SS = 12, VEC_GP = 13, VEC_PF = 14, VEC_AC = 17;

/** A guest fault the executor (or the CPU implementation) raises, returned as a value. */
export interface X86Fault {
  readonly vector: number;
  /** Error code for #GP/#SS/#PF/#AC (and #TS/#NP), absent for #DE/#UD/#DB. */
  readonly errorCode?: number;
  /** Faulting linear address (#PF only), canonical sign-extended number. */
  readonly cr2?: number;
}

export function fault(vector: number, errorCode?: number, cr2?: number): X86Fault {
  if (errorCode === undefined) return { vector };
  return cr2 === undefined ? { vector, errorCode } : { vector, errorCode, cr2 };
}
export const FAULT_UD: X86Fault = Object.freeze({ vector: VEC_UD });
export const FAULT_DE: X86Fault = Object.freeze({ vector: VEC_DE });
export const FAULT_GP0: X86Fault = Object.freeze({ vector: VEC_GP, errorCode: 0 });
export const FAULT_SS0: X86Fault = Object.freeze({ vector: VEC_SS, errorCode: 0 });
export const FAULT_AC0: X86Fault = Object.freeze({ vector: VEC_AC, errorCode: 0 });

/** What a memory read is for: the implementation translates with the matching permission check. */
export const ACCESS_READ = 0, ACCESS_WRITE = 1, ACCESS_EXECUTE = 2;
export type MemoryAccess = typeof ACCESS_READ | typeof ACCESS_WRITE | typeof ACCESS_EXECUTE;

/**
 * Architectural register state. Owned by the CPU implementation; the executor reads and writes
 * the fields directly (no call per register on the hot path). A WHP exit handler fills it from
 * the register batch and writes back what `dirty` says changed.
 */
export class X86Registers {
  /** GPRs as 32-bit halves: gpr[2n] = bits 31:0, gpr[2n+1] = bits 63:32 (int32 bit patterns). */
  readonly gpr = new Int32Array(32);
  /** RIP as a canonical (sign-extended) number. */
  rip = 0;

  /**
   * RFLAGS, except that while `lazyOp` ≠ 0 the six status flags in here are stale and the true
   * values are computed from lazyOp/lazyA/lazyB/lazyRes (see exec/flags.ts). Read and write
   * RFLAGS through getRflags()/setRflags() outside the executor.
   */
  flagsBase = 0x2;
  lazyOp = 0;
  lazyA = 0;
  lazyB = 0;
  lazyRes = 0;
  lazyAHi = 0;
  lazyBHi = 0;
  lazyResHi = 0;

  // Segment registers, indexed ES CS SS DS FS GS. Attributes use the VMX/WHP layout:
  // bits 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G.
  readonly segSel = new Uint16Array(6);
  readonly segBase = new Float64Array(6);
  readonly segLimit = new Uint32Array(6);
  readonly segAttr = new Uint16Array(6);

  /** Control registers as unsigned numbers (`>>> 0`: CR0.PG is bit 31, and an int32 here would
   * be negative and change the field's number representation when a backend stores the unsigned value). */
  cr0 = (CR0_PE | CR0_PG) >>> 0;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0x620; // PAE | OSFXSR | OSXMMEXCPT
  cr8 = 0;
  efer = EFER_LME | EFER_LMA;

  /** XMM0..15, 4 little-endian 32-bit words each (xmm[4n] = bits 31:0 of XMMn). */
  readonly xmm = new Uint32Array(64);

  /** Bit set of what the executor changed (DIRTY_*), for write-back by a backend. */
  dirty = 0;

  constructor() {
    // A flat 64-bit code segment and flat data segments (what a 64-bit Linux kernel runs with).
    for (let s = 0; s < 6; s++) {
      this.segLimit[s] = 0xffffffff;
      this.segAttr[s] = 0xc093; // G, D/B, P, S, type 3 (data RW accessed)
    }
    this.segAttr[CS] = 0xa09b; // G, L, P, S, type 0xb (code exec/read accessed)
  }

  /** RFLAGS with the status flags computed. */
  getRflags(): number {
    if (this.lazyOp !== 0) flagsMaterialize(this);
    return this.flagsBase;
  }

  setRflags(value: number): void {
    this.flagsBase = (value & 0x3f7fd5) | 0x2; // reserved bits read as 0, bit 1 as 1
    this.lazyOp = 0;
    this.dirty |= DIRTY_RFLAGS;
  }

  getGpr(n: number): bigint {
    return (BigInt(this.gpr[2 * n + 1]! >>> 0) << 32n) | BigInt(this.gpr[2 * n]! >>> 0);
  }

  setGpr(n: number, value: bigint): void {
    this.gpr[2 * n] = Number(BigInt.asIntN(32, value));
    this.gpr[2 * n + 1] = Number(BigInt.asIntN(32, value >> 32n));
    this.dirty |= DIRTY_GPR;
  }

  /** RIP as an unsigned 64-bit BigInt (for display and register batches). */
  getRip(): bigint {
    return BigInt.asUintN(64, BigInt(this.rip));
  }

  /** Sets RIP from a 64-bit value (must be canonical; sign-extended from bit 47). */
  setRip(value: bigint): void {
    this.rip = Number(BigInt.asIntN(48, value));
    this.dirty |= DIRTY_RIP;
  }

  getXmm(n: number): bigint {
    let v = 0n;
    for (let i = 3; i >= 0; i--) v = (v << 32n) | BigInt(this.xmm[4 * n + i]!);
    return v;
  }

  setXmm(n: number, value: bigint): void {
    for (let i = 0; i < 4; i++) this.xmm[4 * n + i] = Number((value >> BigInt(32 * i)) & 0xffffffffn);
    this.dirty |= DIRTY_XMM;
  }

  /** Current privilege level: SS.DPL (Intel SDM Vol. 3 §5.5; what VMX and WHP report). */
  get cpl(): number {
    return (this.segAttr[SS]! >> 5) & 3;
  }

  /** Code size of the current mode: 64 (long mode, CS.L), 32 (CS.D) or 16. */
  get bitness(): 16 | 32 | 64 {
    const attr = this.segAttr[CS]!;
    if (this.efer & EFER_LMA && attr & 0x2000) return 64;
    if (!(this.cr0 & CR0_PE)) return 16;
    return attr & 0x4000 ? 32 : 16;
  }
}

export const DIRTY_GPR = 1, DIRTY_RIP = 2, DIRTY_RFLAGS = 4, DIRTY_XMM = 8, DIRTY_SEG = 16, DIRTY_CR = 32;

/**
 * What the executor calls back into. Memory addresses are *linear* (segmentation already applied
 * by the executor) canonical numbers; the implementation translates them (page walk or
 * WHvTranslateGva) and routes RAM vs MMIO. Data moves through a Uint32Array of little-endian
 * 32-bit words: sizes 1, 2 and 4 use word 0 (zero-extended), 8 uses words 0–1, 16 words 0–3.
 * The executor checks segment limits, canonical form and alignment (#AC); the implementation
 * reports translation faults (#PF with error code and CR2) as return values.
 */
export interface X86Cpu {
  readonly regs: X86Registers;
  /** Reads `size` (1, 2, 4, 8 or 16) bytes. ACCESS_EXECUTE for instruction fetch. */
  readMemory(gva: number, size: number, out: Uint32Array, access: MemoryAccess): X86Fault | null;
  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null;
  /**
   * Locked read-modify-write: writes `data` only if memory still holds `expected`; returns true
   * if it wrote, false (with `expected` updated to the current value) if memory had changed.
   * Must be atomic for memory other vCPUs can see (RAM); a device register need not be.
   */
  compareAndWriteMemory(gva: number, size: number, expected: Uint32Array, data: Uint32Array): X86Fault | boolean;
  /** Port input of 1, 2 or 4 bytes; returns the value zero-extended. */
  readIo(port: number, size: number): number;
  writeIo(port: number, size: number, value: number): void;
  /** RDMSR: the value, or a fault (normally #GP(0) for an unknown MSR). */
  readMsr(index: number): bigint | X86Fault;
  writeMsr(index: number, value: bigint): X86Fault | null;
  /** CPUID: fills out[0..3] with EAX, EBX, ECX, EDX. */
  cpuid(leaf: number, subleaf: number, out: Uint32Array): void;
  /**
   * True when the port access being completed has already passed the IOPL and TSS I/O-bitmap
   * checks: a hypervisor's I/O exit, since those checks (and their #GP) come before the VM
   * exit (SDM Vol. 3C §26.1.1). The executor then skips its own CPL > IOPL check, which
   * cannot see the bitmap (a Linux process given ports with ioperm() runs at IOPL 0).
   * Absent or false: the executor checks IOPL itself (the bitmap is the caller's job).
   */
  readonly ioPermissionChecked?: boolean;
  /**
   * Checks that a write of `size` bytes at `gva` would not fault, without writing. INS asks
   * first so that a faulting INS has read no port (a UART byte is not lost to a #PF). Absent:
   * INS checks only the segment before reading the port.
   */
  probeWrite?(gva: number, size: number): X86Fault | null;
}
