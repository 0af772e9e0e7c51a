/**
 * Operand access for the executor: GPR sub-registers, effective addresses, segmentation,
 * memory through the X86Cpu callbacks, and the stack.
 *
 * Values move as 32-bit halves: functions return the low half (int32 bit pattern, zero-extended
 * to the operand size) and leave the high half of 64-bit values in `V.hi`. Memory functions
 * return an X86Fault or null and leave the value in `V`. These scratch objects are module-level
 * because JS runs one executor per thread and the hot path must not allocate.
 */
import type { Instruction } from '../decode/instruction.ts';
import {
  ACCESS_READ, CS, FAULT_AC0, FAULT_GP0, FAULT_SS0, FLAG_AC, CR0_AM, FS, RSP, SS,
  type X86Cpu, type X86Fault, type X86Registers,
} from '../cpu.ts';

/** Value scratch: lo/hi halves of the last value read. */
export const V = { lo: 0, hi: 0 };
/**
 * Address scratch: `offset` is the effective address effectiveOffset() computed, `linear` the
 * linear address linearize() produced. Addresses travel through these fields rather than as
 * return values or arguments: a kernel address is far outside V8's small-integer range, and a
 * double returned from (or passed to) a call that is not inlined is boxed — one allocation per
 * memory operand. (Both fields start as doubles so V8 stores them unboxed.)
 */
export const A = { linear: 0.5, offset: 0.5 };
/** Memory data words exchanged with X86Cpu.readMemory/writeMemory. */
export const MEM = new Uint32Array(4);
const MEM2 = new Uint32Array(4);

const TWO32 = 4294967296;

// ---------------------------------------------------------------- registers

/** Reads GPR `n` at `size` bytes (n ≥ 16: AH/CH/DH/BH); high half into V.hi. */
export function getReg(g: Int32Array, n: number, size: number): number {
  switch (size) {
    case 1:
      V.hi = 0;
      return n >= 16 ? (g[2 * (n & 3)]! >> 8) & 0xff : g[2 * n]! & 0xff;
    case 2:
      V.hi = 0;
      return g[2 * n]! & 0xffff;
    case 4:
      V.hi = 0;
      return g[2 * n]!;
    default:
      V.hi = g[2 * n + 1]!;
      return g[2 * n]!;
  }
}

/** Writes GPR `n` at `size` bytes. A 32-bit write zero-extends (SDM Vol. 1 §3.4.1.1). */
export function setReg(g: Int32Array, n: number, size: number, lo: number, hi: number): void {
  switch (size) {
    case 1:
      if (n >= 16) {
        const i = 2 * (n & 3);
        g[i] = (g[i]! & ~0xff00) | ((lo & 0xff) << 8);
      } else g[2 * n] = (g[2 * n]! & ~0xff) | (lo & 0xff);
      return;
    case 2:
      g[2 * n] = (g[2 * n]! & ~0xffff) | (lo & 0xffff);
      return;
    case 4:
      g[2 * n] = lo;
      g[2 * n + 1] = 0;
      return;
    default:
      g[2 * n] = lo;
      g[2 * n + 1] = hi;
  }
}

/** A register's full 64-bit value as a number (exact for |v| < 2^53; used for addresses). */
export function regAsNumber(g: Int32Array, n: number): number {
  return g[2 * n + 1]! * TWO32 + (g[2 * n]! >>> 0);
}

/** Masks `lo` to `size` bytes (size 4/8: unchanged). */
export function truncate(lo: number, size: number): number {
  return size === 1 ? lo & 0xff : size === 2 ? lo & 0xffff : lo;
}

/** Sign-extends the `size`-byte value `lo` to 32 bits. */
export function signExtend(lo: number, size: number): number {
  return size === 1 ? (lo << 24) >> 24 : size === 2 ? (lo << 16) >> 16 : lo;
}

// ---------------------------------------------------------------- addresses

/**
 * Effective address (offset within the segment) of the ModRM/moffs memory operand, truncated to
 * the address size, into A.offset: 64-bit addresses in sign-extended form, 32/16-bit ones unsigned.
 */
export function effectiveOffset(r: X86Registers, insn: Instruction): void {
  const base = insn.base;
  if (base === 16) {
    // RIP-relative (64-bit mode only): relative to the next instruction; EIP-relative with 67h.
    const ea = r.rip + insn.length + insn.disp;
    A.offset = insn.addrSize === 8 ? ea : ea >>> 0;
    return;
  }
  const as = insn.addrSize;
  if (as === 8) {
    effectivePair(r, insn);
    A.offset = V.hi * TWO32 + (V.lo >>> 0);
    return;
  }
  const g = r.gpr;
  let ea = insn.disp;
  if (base >= 0) ea += g[2 * base]!;
  if (insn.index >= 0) ea += g[2 * insn.index]! << insn.scale;
  A.offset = as === 4 ? ea >>> 0 : ea & 0xffff;
}

/** The exact 64-bit effective address (base + index·scale + disp mod 2^64) into V (for LEA). */
export function effectivePair(r: X86Registers, insn: Instruction): void {
  const g = r.gpr;
  const base = insn.base;
  let lo: number, hi: number;
  if (base === 16) {
    const ea = r.rip + insn.length + insn.disp;
    lo = ea >>> 0;
    hi = Math.floor(ea / TWO32);
  } else {
    lo = insn.disp >>> 0;
    hi = insn.dispHi;
    if (base >= 0) {
      lo += g[2 * base]! >>> 0;
      hi += g[2 * base + 1]!;
    }
  }
  const index = insn.index;
  if (index >= 0) {
    const m = 1 << insn.scale;
    lo += (g[2 * index]! >>> 0) * m;
    hi += g[2 * index + 1]! * m;
  }
  V.hi = (hi + Math.floor(lo / TWO32)) | 0;
  V.lo = lo | 0;
  if (insn.addrSize !== 8) {
    V.hi = 0;
    if (insn.addrSize === 2) V.lo &= 0xffff;
  }
}

/**
 * Turns a segment offset into a linear address in A.linear, with the checks of SDM Vol. 3
 * §5.3 (limit, 16/32-bit modes) and §3.3.7.1 (canonical form, 64-bit mode): #SS(0) for
 * stack-segment references, #GP(0) otherwise. In 64-bit mode only FS and GS have a base.
 */
export function linearize(r: X86Registers, mode: number, seg: number, offset: number, size: number): X86Fault | null {
  A.offset = offset;
  return linearizeOffset(r, mode, seg, size);
}

/** linearize() of the offset in A.offset (see A). */
export function linearizeOffset(r: X86Registers, mode: number, seg: number, size: number): X86Fault | null {
  const offset = A.offset;
  if (mode === 64) {
    const lin = seg >= FS ? offset + r.segBase[seg]! : offset;
    // Canonical: bits 63:47 equal; as a sign-extended number, -2^47 ≤ lin < 2^47 (and the
    // last byte of the access must be canonical too).
    if (lin < -140737488355328 || lin + size > 140737488355328) return seg === SS ? FAULT_SS0 : FAULT_GP0;
    A.linear = lin;
    return null;
  }
  const attr = r.segAttr[seg]!;
  const limit = r.segLimit[seg]!;
  const last = offset + size - 1;
  if ((attr & 0x1c) === 0x14) {
    // expand-down data segment: valid offsets are limit+1 .. 0xffff or 0xffffffff (D/B)
    const top = attr & 0x4000 ? 0xffffffff : 0xffff;
    if (offset <= limit || last > top) return seg === SS ? FAULT_SS0 : FAULT_GP0;
  } else if (last > limit) {
    return seg === SS ? FAULT_SS0 : FAULT_GP0;
  }
  A.linear = (r.segBase[seg]! + offset) % TWO32;
  return null;
}

/** Linear address of the instruction's memory operand into A.linear. */
export function memAddress(r: X86Registers, insn: Instruction, size: number): X86Fault | null {
  effectiveOffset(r, insn);
  return linearizeOffset(r, insn.mode, insn.seg, size);
}

// ---------------------------------------------------------------- memory

/** Alignment check (SDM Vol. 3 §6.15, #AC): CPL 3, CR0.AM and RFLAGS.AC, misaligned access. */
function misaligned(r: X86Registers, linear: number, size: number): boolean {
  return (r.flagsBase & FLAG_AC) !== 0 && (r.cr0 & CR0_AM) !== 0 && r.cpl === 3 && (linear & (size - 1)) !== 0;
}

/** Reads `size` bytes (1/2/4/8) at A.linear-style `linear` into V. */
export function readLinear(cpu: X86Cpu, linear: number, size: number): X86Fault | null {
  const r = cpu.regs;
  if ((r.flagsBase & FLAG_AC) !== 0 && misaligned(r, linear, size)) return FAULT_AC0;
  const f = cpu.readMemory(linear, size, MEM, ACCESS_READ);
  if (f !== null) return f;
  V.lo = MEM[0]! | 0;
  V.hi = size === 8 ? MEM[1]! | 0 : 0;
  return null;
}

export function writeLinear(cpu: X86Cpu, linear: number, size: number, lo: number, hi: number): X86Fault | null {
  const r = cpu.regs;
  if ((r.flagsBase & FLAG_AC) !== 0 && misaligned(r, linear, size)) return FAULT_AC0;
  MEM[0] = size === 1 ? lo & 0xff : size === 2 ? lo & 0xffff : lo;
  MEM[1] = hi;
  return cpu.writeMemory(linear, size, MEM);
}

/**
 * Locked read-modify-write completion: writes (lo, hi) only if memory still holds (oldLo, oldHi).
 * Returns null on success, the fault, or `false` when memory changed under us (the caller
 * leaves the instruction unretired so it re-executes; SDM Vol. 3 §9.1.2 atomicity).
 */
export function compareAndWrite(
  cpu: X86Cpu, linear: number, size: number, oldLo: number, oldHi: number, lo: number, hi: number,
): X86Fault | null | false {
  MEM2[0] = truncate(oldLo, size);
  MEM2[1] = size === 8 ? oldHi : 0;
  MEM[0] = truncate(lo, size);
  MEM[1] = size === 8 ? hi : 0;
  const res = cpu.compareAndWriteMemory(linear, size, MEM2, MEM);
  if (res === true) return null;
  if (res === false) return false;
  return res;
}

// ---------------------------------------------------------------- stack

/** Stack pointer width: 8 in 64-bit mode, else SS.B ? 4 : 2 (SDM Vol. 1 §6.2.3). */
export function stackSize(r: X86Registers, mode: number): number {
  return mode === 64 ? 8 : r.segAttr[SS]! & 0x4000 ? 4 : 2;
}

function rspAsOffset(r: X86Registers, ss: number): number {
  const g = r.gpr;
  return ss === 8 ? regAsNumber(g, RSP) : ss === 4 ? g[2 * RSP]! >>> 0 : g[2 * RSP]! & 0xffff;
}

function setRspOffset(r: X86Registers, ss: number, value: number): void {
  const g = r.gpr;
  if (ss === 8) {
    g[2 * RSP] = value % TWO32 | 0;
    g[2 * RSP + 1] = Math.floor(value / TWO32) | 0;
  } else if (ss === 4) {
    g[2 * RSP] = value | 0; // upper half untouched outside 64-bit mode
  } else {
    g[2 * RSP] = (g[2 * RSP]! & ~0xffff) | (value & 0xffff);
  }
}

/** Pushes a `size`-byte value; RSP changes only if the write succeeds. */
export function push(cpu: X86Cpu, mode: number, size: number, lo: number, hi: number): X86Fault | null {
  const r = cpu.regs;
  const ss = stackSize(r, mode);
  let off = rspAsOffset(r, ss) - size;
  if (ss === 4) off = off >>> 0;
  else if (ss === 2) off &= 0xffff;
  const f = linearize(r, mode, SS, off, size) ?? writeLinear(cpu, A.linear, size, lo, hi);
  if (f !== null) return f;
  setRspOffset(r, ss, off);
  return null;
}

/** Reads the value `size` bytes at the top of stack (+ `skip` bytes) into V, without popping. */
export function peek(cpu: X86Cpu, mode: number, size: number, skip: number): X86Fault | null {
  const r = cpu.regs;
  const ss = stackSize(r, mode);
  let off = rspAsOffset(r, ss) + skip;
  if (ss === 4) off = off >>> 0;
  else if (ss === 2) off &= 0xffff;
  return linearize(r, mode, SS, off, size) ?? readLinear(cpu, A.linear, size);
}

/** Adds `delta` to the stack pointer at the stack width. */
export function adjustRsp(r: X86Registers, mode: number, delta: number): void {
  const ss = stackSize(r, mode);
  let off = rspAsOffset(r, ss) + delta;
  if (ss === 4) off = off >>> 0;
  else if (ss === 2) off &= 0xffff;
  setRspOffset(r, ss, off);
}

/** Pops a `size`-byte value into V. */
export function pop(cpu: X86Cpu, mode: number, size: number): X86Fault | null {
  const f = peek(cpu, mode, size, 0);
  if (f !== null) return f;
  adjustRsp(cpu.regs, mode, size);
  return null;
}

/** Code-segment check for a new IP outside 64-bit mode (SDM: #GP(0) if beyond CS.limit). */
export function checkIp(r: X86Registers, mode: number, ip: number): X86Fault | null {
  if (mode === 64) {
    return ip < -140737488355328 || ip >= 140737488355328 ? FAULT_GP0 : null;
  }
  return ip > r.segLimit[CS]! ? FAULT_GP0 : null;
}

/** Converts halves to a number (for RIP values popped or read from registers). */
export function pairToNumber(lo: number, hi: number): number {
  return hi * TWO32 + (lo >>> 0);
}

// ---------------------------------------------------------------- generic operands

// OperandKind values (see decode/instruction.ts); mirrored as numbers so switches compile to
// jump tables (enum member loads are not constants to V8).
export const OK_REG = 1, OK_RM = 2, OK_MEM = 3, OK_IMM = 4, OK_IMM2 = 5, OK_REL = 6, OK_ACC = 8,
  OK_CL = 9, OK_DX = 10, OK_ONE = 11, OK_SEG = 12, OK_XMM = 15, OK_XMMRM = 16;

/**
 * Reads an operand of kind `kind` and `size` bytes into V (V.lo, V.hi); returns a fault or null.
 * A memory operand's linear address is left in A.linear for a later writeOperand.
 */
export function readOperand(cpu: X86Cpu, insn: Instruction, kind: number, size: number): X86Fault | null {
  const g = cpu.regs.gpr;
  switch (kind) {
    case OK_REG:
      V.lo = getReg(g, insn.reg, size);
      return null;
    case OK_RM:
      if (!insn.hasMem) {
        V.lo = getReg(g, insn.rm, size);
        return null;
      }
      return memAddress(cpu.regs, insn, size) ?? readLinear(cpu, A.linear, size);
    case OK_MEM:
      return memAddress(cpu.regs, insn, size) ?? readLinear(cpu, A.linear, size);
    case OK_IMM:
      V.lo = truncate(insn.imm, size);
      V.hi = size === 8 ? insn.immHi : 0;
      return null;
    case OK_IMM2:
      V.lo = insn.imm2;
      V.hi = 0;
      return null;
    case OK_ACC:
      V.lo = getReg(g, 0, size);
      return null;
    case OK_CL:
      V.lo = g[2]! & 0xff;
      V.hi = 0;
      return null;
    case OK_DX:
      V.lo = g[4]! & 0xffff;
      V.hi = 0;
      return null;
    case OK_ONE:
      V.lo = 1;
      V.hi = 0;
      return null;
    case OK_SEG:
      // MOV r/m, Sreg: the selector, zero-extended to a register operand's size
      V.lo = cpu.regs.segSel[insn.reg]!;
      V.hi = 0;
      return null;
    default:
      throw new Error(`x86 executor: operand kind ${kind} is not readable here`);
  }
}

/** Writes an operand; memory goes to A.linear (set by the preceding readOperand/memAddress). */
export function writeOperand(cpu: X86Cpu, insn: Instruction, kind: number, size: number, lo: number, hi: number): X86Fault | null {
  const g = cpu.regs.gpr;
  switch (kind) {
    case OK_REG:
      setReg(g, insn.reg, size, lo, hi);
      return null;
    case OK_RM:
      if (!insn.hasMem) {
        setReg(g, insn.rm, size, lo, hi);
        return null;
      }
      return writeLinear(cpu, A.linear, size, lo, hi);
    case OK_MEM:
      return writeLinear(cpu, A.linear, size, lo, hi);
    case OK_ACC:
      setReg(g, 0, size, lo, hi);
      return null;
    default:
      throw new Error(`x86 executor: operand kind ${kind} is not writable`);
  }
}

/** True when operand `kind` of this instruction is in memory. */
export function isMem(insn: Instruction, kind: number): boolean {
  return kind === OK_MEM || ((kind === OK_RM || kind === OK_XMMRM || kind === 19) && insn.hasMem);
}
