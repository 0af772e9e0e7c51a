/**
 * Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST, INC DEC NEG NOT
 * (Intel SDM Vol. 2 instruction pages; flags per Vol. 1 Appendix A). Status flags are recorded
 * lazily (exec/flags.ts). With a LOCK prefix (or implicitly for XCHG) a memory destination is
 * written with compare-and-write, and the instruction retries if memory changed meanwhile.
 */
import type { Instruction } from '../decode/instruction.ts';
import { Prefix } from '../decode/instruction.ts';
import type { X86Cpu, X86Registers } from '../cpu.ts';
import { getCF, keepCarry, K_ADC, K_ADD, K_DEC, K_INC, K_LOGIC, K_NEG, K_SBB, K_SUB } from './flags.ts';
import { A, compareAndWrite, isMem, readOperand, truncate, V, writeOperand } from './operands.ts';
import { RETRY, type ExecResult } from './result.ts';

export const SIZE_LOG = [0, 0, 1, 0, 2, 0, 0, 0, 3] as const;

// Binary operation codes (internal).
export const ALU_ADD = 0, ALU_OR = 1, ALU_ADC = 2, ALU_SBB = 3, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7, ALU_TEST = 8;

/** Result of the last computeBinary: low/high halves. */
export const RES = { lo: 0, hi: 0 };

/**
 * Computes `a op b` at `size` bytes, records the lazy flags and leaves the result in RES.
 * Operands are zero-extended to their size (8/16-bit) or int32 patterns (32/64-bit low halves).
 */
export function computeBinary(r: X86Registers, op: number, size: number, a: number, aHi: number, b: number, bHi: number): void {
  const sz = SIZE_LOG[size]!;
  let lo = 0, hi = 0, kind: number;
  switch (op) {
    case ALU_ADD:
    case ALU_ADC: {
      const c = op === ALU_ADC ? getCF(r) : 0;
      kind = c ? K_ADC : K_ADD;
      if (sz === 3) {
        lo = (a + b + c) | 0;
        const carry = c ? (lo >>> 0 <= a >>> 0 ? 1 : 0) : lo >>> 0 < a >>> 0 ? 1 : 0;
        hi = (aHi + bHi + carry) | 0;
      } else lo = truncate((a + b + c) | 0, size);
      break;
    }
    case ALU_SUB:
    case ALU_CMP:
    case ALU_SBB: {
      const c = op === ALU_SBB ? getCF(r) : 0;
      kind = c ? K_SBB : K_SUB;
      if (sz === 3) {
        lo = (a - b - c) | 0;
        const borrow = c ? (a >>> 0 <= b >>> 0 ? 1 : 0) : a >>> 0 < b >>> 0 ? 1 : 0;
        hi = (aHi - bHi - borrow) | 0;
      } else lo = truncate((a - b - c) | 0, size);
      break;
    }
    case ALU_AND:
    case ALU_TEST:
      kind = K_LOGIC;
      lo = a & b;
      hi = aHi & bHi;
      break;
    case ALU_OR:
      kind = K_LOGIC;
      lo = a | b;
      hi = aHi | bHi;
      break;
    default: // XOR
      kind = K_LOGIC;
      lo = a ^ b;
      hi = aHi ^ bHi;
      break;
  }
  if (sz !== 3) hi = 0;
  r.lazyOp = (kind << 2) | sz;
  r.lazyA = a;
  r.lazyB = b;
  r.lazyRes = lo;
  r.lazyAHi = aHi;
  r.lazyBHi = bHi;
  r.lazyResHi = hi;
  RES.lo = lo;
  RES.hi = hi;
}

/** Saved lazy-flag state, restored when a locked write has to retry. */
function saveFlags(r: X86Registers, s: number[]): void {
  s[0] = r.flagsBase; s[1] = r.lazyOp; s[2] = r.lazyA; s[3] = r.lazyB; s[4] = r.lazyRes;
  s[5] = r.lazyAHi; s[6] = r.lazyBHi; s[7] = r.lazyResHi;
}
function restoreFlags(r: X86Registers, s: number[]): void {
  r.flagsBase = s[0]!; r.lazyOp = s[1]!; r.lazyA = s[2]!; r.lazyB = s[3]!; r.lazyRes = s[4]!;
  r.lazyAHi = s[5]!; r.lazyBHi = s[6]!; r.lazyResHi = s[7]!;
}
const SAVED = [0, 0, 0, 0, 0, 0, 0, 0];

/**
 * Writes the destination of a read-modify-write instruction: plain write, or compare-and-write
 * when locked (then RETRY if memory changed, with the flags restored from SAVED).
 */
export function writeBackRmw(cpu: X86Cpu, insn: Instruction, kind: number, size: number, oldLo: number, oldHi: number, lo: number, hi: number, locked: boolean): ExecResult {
  if (locked && isMem(insn, kind)) {
    const res = compareAndWrite(cpu, A.linear, size, oldLo, oldHi, lo, hi);
    if (res === false) return RETRY;
    return res;
  }
  return writeOperand(cpu, insn, kind, size, lo, hi);
}

/** `op dst, src` for the nine binary ALU operations. */
export function execBinary(cpu: X86Cpu, insn: Instruction, op: number): ExecResult {
  const size = insn.s0;
  let f = readOperand(cpu, insn, insn.o1, size);
  if (f !== null) return f;
  const b = V.lo, bHi = V.hi;
  f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  const a = V.lo, aHi = V.hi;
  const r = cpu.regs;
  if (op === ALU_CMP || op === ALU_TEST) {
    computeBinary(r, op, size, a, aHi, b, bHi);
    r.rip += insn.length;
    return null;
  }
  const locked = (insn.prefixes & Prefix.LOCK) !== 0;
  const memDst = isMem(insn, insn.o0);
  if (memDst) saveFlags(r, SAVED); // a faulting or retried write must leave RFLAGS unchanged
  computeBinary(r, op, size, a, aHi, b, bHi);
  f = writeBackRmw(cpu, insn, insn.o0, size, a, aHi, RES.lo, RES.hi, locked);
  if (f !== null) {
    restoreFlags(r, SAVED);
    return f;
  }
  r.rip += insn.length;
  return null;
}

/** INC, DEC, NEG, NOT on r/m. */
export function execUnary(cpu: X86Cpu, insn: Instruction, which: 'inc' | 'dec' | 'neg' | 'not'): ExecResult {
  const size = insn.s0;
  const r = cpu.regs;
  let f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  const a = V.lo, aHi = V.hi;
  const sz = SIZE_LOG[size]!;
  const locked = (insn.prefixes & Prefix.LOCK) !== 0;
  saveFlags(r, SAVED); // a faulting or retried write must leave RFLAGS unchanged
  let lo: number, hi = 0;
  switch (which) {
    case 'inc':
    case 'dec': {
      keepCarry(r);
      const d = which === 'inc' ? 1 : -1;
      if (sz === 3) {
        lo = (a + d) | 0;
        hi = d === 1 ? (aHi + (lo === 0 ? 1 : 0)) | 0 : (aHi - (a === 0 ? 1 : 0)) | 0;
      } else lo = truncate((a + d) | 0, size);
      r.lazyOp = ((d === 1 ? K_INC : K_DEC) << 2) | sz;
      r.lazyA = a; r.lazyB = 1; r.lazyRes = lo;
      r.lazyAHi = aHi; r.lazyBHi = 0; r.lazyResHi = hi;
      break;
    }
    case 'neg':
      if (sz === 3) {
        lo = -a | 0;
        hi = (~aHi + (a === 0 ? 1 : 0)) | 0;
      } else lo = truncate(-a | 0, size);
      r.lazyOp = (K_NEG << 2) | sz;
      r.lazyA = 0; r.lazyB = a; r.lazyRes = lo;
      r.lazyAHi = 0; r.lazyBHi = aHi; r.lazyResHi = hi;
      break;
    default: // NOT: no flags
      lo = truncate(~a, size);
      hi = sz === 3 ? ~aHi : 0;
      break;
  }
  f = writeBackRmw(cpu, insn, insn.o0, size, a, aHi, lo, hi, locked);
  if (f !== null) {
    restoreFlags(r, SAVED);
    return f;
  }
  r.rip += insn.length;
  return null;
}

export { SAVED as SAVED_FLAGS, saveFlags, restoreFlags };
