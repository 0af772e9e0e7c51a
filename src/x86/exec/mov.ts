/**
 * Data movement: MOV (incl. moffs), MOVZX, MOVSX, MOVSXD, LEA, MOVBE, MOVNTI, XCHG, XADD,
 * CMPXCHG, CMPXCHG8B/16B, BSWAP, CBW/CWDE/CDQE, CWD/CDQ/CQO, CMOVcc, SETcc
 * (Intel SDM Vol. 2 instruction pages).
 */
import type { Instruction } from '../decode/instruction.ts';
import { Prefix } from '../decode/instruction.ts';
import { FAULT_GP0, FLAG_ZF, RAX, RBX, RCX, RDX, type X86Cpu } from '../cpu.ts';
import { ALU_ADD, ALU_CMP, computeBinary, RES, restoreFlags, saveFlags, SAVED_FLAGS } from './alu.ts';
import { setFlags, testCondition } from './flags.ts';
import {
  A, compareAndWrite, effectivePair, getReg, isMem, linearize, memAddress, MEM, OK_MEM, OK_REG, OK_RM, OK_SEG, readLinear,
  readOperand, setReg, signExtend, V, writeLinear, writeOperand,
} from './operands.ts';
import { RETRY, UNSUPPORTED, type ExecResult } from './result.ts';

export function execMov(cpu: X86Cpu, insn: Instruction): ExecResult {
  // Loading a segment register reads descriptor tables: the software CPU's system-state
  // interface does that, not this executor.
  if (insn.o0 === OK_SEG) return UNSUPPORTED;
  const size = insn.s0;
  let f = readOperand(cpu, insn, insn.o1, size);
  if (f !== null) return f;
  if (isMem(insn, insn.o0)) {
    const lo = V.lo, hi = V.hi;
    f = memAddress(cpu.regs, insn, size) ?? writeLinear(cpu, A.linear, size, lo, hi);
  } else f = writeOperand(cpu, insn, insn.o0, size, V.lo, V.hi);
  if (f !== null) return f;
  cpu.regs.rip += insn.length;
  return null;
}

/** MOVZX / MOVSX / MOVSXD: source of size s1 extended to s0. */
export function execMovExtend(cpu: X86Cpu, insn: Instruction, signed: boolean): ExecResult {
  const f = readOperand(cpu, insn, insn.o1, insn.s1);
  if (f !== null) return f;
  let lo = V.lo, hi = 0;
  if (signed) {
    lo = signExtend(lo, insn.s1);
    hi = lo >> 31;
  }
  setReg(cpu.regs.gpr, insn.reg, insn.s0, lo, hi);
  cpu.regs.rip += insn.length;
  return null;
}

export function execLea(cpu: X86Cpu, insn: Instruction): ExecResult {
  effectivePair(cpu.regs, insn);
  setReg(cpu.regs.gpr, insn.reg, insn.s0, V.lo, V.hi);
  cpu.regs.rip += insn.length;
  return null;
}

function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** BSWAP r32/r64. (BSWAP r16 is undefined, SDM; we produce 0 in the low word like most CPUs.) */
export function execBswap(cpu: X86Cpu, insn: Instruction): ExecResult {
  const g = cpu.regs.gpr;
  const n = insn.rm;
  const size = insn.s0;
  if (size === 8) {
    const lo = g[2 * n]!;
    g[2 * n] = bswap32(g[2 * n + 1]!);
    g[2 * n + 1] = bswap32(lo);
  } else if (size === 4) {
    g[2 * n] = bswap32(g[2 * n]!);
    g[2 * n + 1] = 0;
  } else {
    g[2 * n] = g[2 * n]! & ~0xffff;
  }
  cpu.regs.rip += insn.length;
  return null;
}

/** MOVBE: MOV with the bytes reversed (one operand is always memory). */
export function execMovbe(cpu: X86Cpu, insn: Instruction): ExecResult {
  const size = insn.s0;
  let f = readOperand(cpu, insn, insn.o1, size);
  if (f !== null) return f;
  let lo: number, hi = 0;
  if (size === 8) {
    lo = bswap32(V.hi);
    hi = bswap32(V.lo);
  } else if (size === 4) lo = bswap32(V.lo);
  else lo = ((V.lo & 0xff) << 8) | ((V.lo >> 8) & 0xff);
  if (isMem(insn, insn.o0)) {
    f = memAddress(cpu.regs, insn, size);
    if (f !== null) return f;
  }
  f = writeOperand(cpu, insn, insn.o0, size, lo, hi);
  if (f !== null) return f;
  cpu.regs.rip += insn.length;
  return null;
}

/** XCHG: with a memory operand it is implicitly locked (SDM: "the processor's locking protocol is automatically implemented"). */
export function execXchg(cpu: X86Cpu, insn: Instruction): ExecResult {
  const size = insn.s0;
  const g = cpu.regs.gpr;
  // Normalise: memKind is the operand that may be memory, regNum the register.
  let memKind: number, regNum: number;
  if (insn.o0 === OK_REG) {
    memKind = insn.o1;
    regNum = insn.reg;
  } else if (insn.o1 === OK_REG) {
    memKind = insn.o0;
    regNum = insn.reg;
  } else {
    // xchg rAX, r (90+r): one operand is Acc, the other Rm register
    memKind = insn.o0 === OK_RM ? insn.o0 : insn.o1;
    regNum = RAX;
  }
  const r = getReg(g, regNum, size);
  const rHi = V.hi;
  let f = readOperand(cpu, insn, memKind, size);
  if (f !== null) return f;
  const m = V.lo, mHi = V.hi;
  if (isMem(insn, memKind)) {
    const res = compareAndWrite(cpu, A.linear, size, m, mHi, r, rHi);
    if (res === false) return RETRY;
    if (res !== null) return res;
  } else {
    f = writeOperand(cpu, insn, memKind, size, r, rHi);
    if (f !== null) return f;
  }
  setReg(g, regNum, size, m, mHi);
  cpu.regs.rip += insn.length;
  return null;
}

/** XADD r/m, r: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP; flags as ADD. */
export function execXadd(cpu: X86Cpu, insn: Instruction): ExecResult {
  const size = insn.s0;
  const r = cpu.regs;
  const s = getReg(r.gpr, insn.reg, size);
  const sHi = V.hi;
  let f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  const d = V.lo, dHi = V.hi;
  saveFlags(r, SAVED_FLAGS);
  computeBinary(r, ALU_ADD, size, d, dHi, s, sHi);
  if (isMem(insn, insn.o0)) {
    const res = (insn.prefixes & Prefix.LOCK) !== 0
      ? compareAndWrite(cpu, A.linear, size, d, dHi, RES.lo, RES.hi)
      : writeLinear(cpu, A.linear, size, RES.lo, RES.hi);
    if (res !== null) {
      restoreFlags(r, SAVED_FLAGS);
      return res === false ? RETRY : res;
    }
    setReg(r.gpr, insn.reg, size, d, dHi);
  } else {
    const lo = RES.lo, hi = RES.hi;
    setReg(r.gpr, insn.reg, size, d, dHi);
    setReg(r.gpr, insn.rm, size, lo, hi); // when both are the same register, DEST wins
  }
  r.rip += insn.length;
  return null;
}

/**
 * CMPXCHG r/m, r: compare rAX with DEST; equal → DEST = SRC, else rAX = DEST. Flags as CMP.
 * A memory destination is written in both cases (SDM: "the destination operand is written back
 * if the comparison fails", so the bus sees a write either way).
 */
export function execCmpxchg(cpu: X86Cpu, insn: Instruction): ExecResult {
  const size = insn.s0;
  const r = cpu.regs;
  const g = r.gpr;
  const s = getReg(g, insn.reg, size);
  const sHi = V.hi;
  const acc = getReg(g, RAX, size);
  const accHi = V.hi;
  let f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  const d = V.lo, dHi = V.hi;
  saveFlags(r, SAVED_FLAGS);
  computeBinary(r, ALU_CMP, size, acc, accHi, d, dHi);
  const equal = acc === d && (size !== 8 || accHi === dHi);
  const newLo = equal ? s : d, newHi = equal ? sHi : dHi;
  if (isMem(insn, insn.o0)) {
    const res = (insn.prefixes & Prefix.LOCK) !== 0
      ? compareAndWrite(cpu, A.linear, size, d, dHi, newLo, newHi)
      : writeLinear(cpu, A.linear, size, newLo, newHi);
    if (res !== null) {
      restoreFlags(r, SAVED_FLAGS);
      return res === false ? RETRY : res;
    }
  } else if (equal) {
    setReg(g, insn.rm, size, newLo, newHi);
  }
  if (!equal) setReg(g, RAX, size, d, dHi);
  r.rip += insn.length;
  return null;
}

/**
 * CMPXCHG8B m64 / CMPXCHG16B m128: compare rDX:rAX with memory; equal → memory = rCX:rBX and
 * ZF=1; else rDX:rAX = memory and ZF=0. CMPXCHG16B needs a 16-byte aligned operand (#GP(0)).
 */
export function execCmpxchgWide(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  const g = r.gpr;
  const wide = insn.opSize === 8; // REX.W → CMPXCHG16B
  const size = wide ? 16 : 8;
  let f = memAddress(r, insn, size);
  if (f !== null) return f;
  const linear = A.linear;
  if (wide && linear % 16 !== 0) return FAULT_GP0;
  f = cpu.readMemory(linear, size, MEM, 0);
  if (f !== null) return f;
  const m0 = MEM[0]! | 0, m1 = MEM[1]! | 0, m2 = MEM[2]! | 0, m3 = MEM[3]! | 0;
  let equal: boolean;
  if (wide) {
    equal = m0 === g[2 * RAX] && m1 === g[2 * RAX + 1] && m2 === g[2 * RDX] && m3 === g[2 * RDX + 1];
  } else {
    equal = m0 === g[2 * RAX] && m1 === g[2 * RDX];
  }
  const expected = new Uint32Array([m0, m1, m2, m3]);
  const data = new Uint32Array(4);
  if (equal) {
    if (wide) data.set([g[2 * RBX]!, g[2 * RBX + 1]!, g[2 * RCX]!, g[2 * RCX + 1]!]);
    else data.set([g[2 * RBX]!, g[2 * RCX]!]);
  } else data.set(expected);
  const res = cpu.compareAndWriteMemory(linear, size, expected, data);
  if (res === false) return RETRY;
  if (res !== true) return res;
  if (!equal) {
    if (wide) {
      g[2 * RAX] = m0; g[2 * RAX + 1] = m1; g[2 * RDX] = m2; g[2 * RDX + 1] = m3;
    } else {
      setReg(g, RAX, 4, m0, 0);
      setReg(g, RDX, 4, m1, 0);
    }
  }
  setFlags(r, FLAG_ZF, equal ? FLAG_ZF : 0);
  r.rip += insn.length;
  return null;
}

/** CBW/CWDE/CDQE: sign-extend the lower half of rAX into rAX. */
export function execCbw(cpu: X86Cpu, insn: Instruction): ExecResult {
  const g = cpu.regs.gpr;
  const size = insn.opSize;
  if (size === 2) setReg(g, RAX, 2, (g[0]! << 24) >> 24, 0);
  else if (size === 4) setReg(g, RAX, 4, (g[0]! << 16) >> 16, 0);
  else setReg(g, RAX, 8, g[0]!, g[0]! >> 31);
  cpu.regs.rip += insn.length;
  return null;
}

/** CWD/CDQ/CQO: rDX = sign of rAX. */
export function execCwd(cpu: X86Cpu, insn: Instruction): ExecResult {
  const g = cpu.regs.gpr;
  const size = insn.opSize;
  if (size === 2) setReg(g, RDX, 2, (g[0]! << 16) >> 31, 0);
  else if (size === 4) setReg(g, RDX, 4, g[0]! >> 31, 0);
  else setReg(g, RDX, 8, g[1]! >> 31, g[1]! >> 31);
  cpu.regs.rip += insn.length;
  return null;
}

/**
 * CMOVcc: the source is read (and may fault) whatever the condition. In 64-bit mode a 32-bit
 * CMOV zero-extends the destination even when the condition is false (SDM Vol. 2 CMOVcc).
 */
export function execCmov(cpu: X86Cpu, insn: Instruction): ExecResult {
  const size = insn.s0;
  const f = readOperand(cpu, insn, insn.o1, size);
  if (f !== null) return f;
  const g = cpu.regs.gpr;
  if (testCondition(cpu.regs, insn.cc)) setReg(g, insn.reg, size, V.lo, V.hi);
  else if (size === 4) g[2 * insn.reg + 1] = 0;
  cpu.regs.rip += insn.length;
  return null;
}

export function execSetcc(cpu: X86Cpu, insn: Instruction): ExecResult {
  const v = testCondition(cpu.regs, insn.cc) ? 1 : 0;
  if (isMem(insn, insn.o0)) {
    const f = memAddress(cpu.regs, insn, 1) ?? writeLinear(cpu, A.linear, 1, v, 0);
    if (f !== null) return f;
  } else setReg(cpu.regs.gpr, insn.rm, 1, v, 0);
  cpu.regs.rip += insn.length;
  return null;
}

/** XLAT: AL = [seg:rBX + AL] (address size rBX, AL zero-extended). */
export function execXlat(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  const g = r.gpr;
  const as = insn.addrSize;
  const al = g[0]! & 0xff;
  const off = as === 8
    ? g[2 * RBX + 1]! * 4294967296 + (g[2 * RBX]! >>> 0) + al
    : as === 4 ? (g[2 * RBX]! + al) >>> 0 : (g[2 * RBX]! + al) & 0xffff;
  const f = linearize(r, insn.mode, insn.seg, off, 1) ?? readLinear(cpu, A.linear, 1);
  if (f !== null) return f;
  setReg(g, RAX, 1, V.lo, 0);
  r.rip += insn.length;
  return null;
}

export { OK_MEM, readLinear };
