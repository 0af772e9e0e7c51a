/**
 * SSE 128-bit moves (what MMIO emulation meets: compilers use them for struct copies):
 * MOVUPS MOVUPD MOVDQU LDDQU (unaligned), MOVAPS MOVAPD MOVDQA MOVNTPS MOVNTPD MOVNTDQ MOVNTDQA
 * (16-byte aligned, else #GP(0)), plus MOVD/MOVQ between XMM and GPR/memory.
 * Preconditions (SDM Vol. 3 §13.1, Table 22-x "SIMD exceptions"): CR0.EM → #UD,
 * CR4.OSFXSR = 0 → #UD, CR0.TS → #NM. VEX-encoded forms are not implemented here.
 */
import type { Instruction } from '../decode/instruction.ts';
import { ACCESS_READ, FAULT_GP0, FAULT_UD, VEC_NM, type X86Cpu, type X86Fault } from '../cpu.ts';
import { A, getReg, isMem, memAddress, MEM, OK_XMM, setReg, V } from './operands.ts';
import { UNSUPPORTED, type ExecResult } from './result.ts';

const CR0_EM = 0x4, CR0_TS = 0x8, CR4_OSFXSR = 0x200;
const FAULT_NM: X86Fault = Object.freeze({ vector: VEC_NM });

function sseCheck(cpu: X86Cpu): X86Fault | null {
  const r = cpu.regs;
  if (r.cr0 & CR0_EM || !(r.cr4 & CR4_OSFXSR)) return FAULT_UD;
  if (r.cr0 & CR0_TS) return FAULT_NM;
  return null;
}

/** 128-bit move between XMM registers and memory. `aligned`: #GP(0) on a misaligned address. */
export function execMovXmm128(cpu: X86Cpu, insn: Instruction, aligned: boolean): ExecResult {
  if (insn.vex !== 0) return UNSUPPORTED;
  let f = sseCheck(cpu);
  if (f !== null) return f;
  const r = cpu.regs;
  const x = r.xmm;
  const toXmm = insn.o0 === OK_XMM; // load form: dst is the reg field
  if (isMem(insn, toXmm ? insn.o1 : insn.o0)) {
    f = memAddress(r, insn, 16);
    if (f !== null) return f;
    if (aligned && A.linear % 16 !== 0) return FAULT_GP0;
    if (toXmm) {
      f = cpu.readMemory(A.linear, 16, MEM, ACCESS_READ);
      if (f !== null) return f;
      x.set(MEM, 4 * insn.reg);
    } else {
      MEM.set(x.subarray(4 * insn.reg, 4 * insn.reg + 4));
      f = cpu.writeMemory(A.linear, 16, MEM);
      if (f !== null) return f;
    }
  } else {
    const dst = toXmm ? insn.reg : insn.rm, src = toXmm ? insn.rm : insn.reg;
    x.copyWithin(4 * dst, 4 * src, 4 * src + 4);
  }
  r.rip += insn.length;
  return null;
}

/**
 * MOVD/MOVQ: 66 0F 6E/7E (xmm ↔ r/m32/64, zero-extending into the XMM register), F3 0F 7E
 * (movq xmm, xmm/m64) and 66 0F D6 (movq xmm/m64, xmm).
 */
export function execMovdq(cpu: X86Cpu, insn: Instruction): ExecResult {
  if (insn.vex !== 0 || (insn.o0 !== OK_XMM && insn.o1 !== OK_XMM && insn.o0 !== 16 && insn.o1 !== 16)) return UNSUPPORTED;
  if ((insn.prefixes & 8) === 0 && (insn.prefixes & 2) === 0) return UNSUPPORTED; // MMX forms
  let f = sseCheck(cpu);
  if (f !== null) return f;
  const r = cpu.regs;
  const x = r.xmm;
  const size = insn.s0 === 16 ? insn.s1 : insn.s0; // the non-XMM side's size (4 or 8)
  const sz = size === 16 ? 8 : size;
  const dstIsXmm = insn.o0 === OK_XMM || (insn.o0 === 16 && !insn.hasMem);
  if (dstIsXmm) {
    const dst = insn.o0 === OK_XMM ? insn.reg : insn.rm;
    let lo: number, hi: number;
    if (isMem(insn, insn.o1)) {
      f = memAddress(r, insn, sz);
      if (f !== null) return f;
      f = cpu.readMemory(A.linear, sz, MEM, ACCESS_READ);
      if (f !== null) return f;
      lo = MEM[0]!;
      hi = sz === 8 ? MEM[1]! : 0;
    } else if (insn.o1 === OK_XMM || insn.o1 === 16) {
      const src = insn.o1 === OK_XMM ? insn.reg : insn.rm;
      lo = x[4 * src]!;
      hi = x[4 * src + 1]!;
    } else {
      lo = getReg(r.gpr, insn.rm, sz);
      hi = sz === 8 ? V.hi : 0;
    }
    x[4 * dst] = lo;
    x[4 * dst + 1] = hi;
    x[4 * dst + 2] = 0;
    x[4 * dst + 3] = 0;
  } else {
    const src = insn.o1 === OK_XMM ? insn.reg : insn.rm;
    const lo = x[4 * src]! | 0, hi = x[4 * src + 1]! | 0;
    if (isMem(insn, insn.o0)) {
      f = memAddress(r, insn, sz);
      if (f !== null) return f;
      MEM[0] = lo;
      MEM[1] = hi;
      f = cpu.writeMemory(A.linear, sz, MEM);
      if (f !== null) return f;
    } else if (insn.o0 === 16) {
      x[4 * insn.rm] = lo;
      x[4 * insn.rm + 1] = hi;
      x[4 * insn.rm + 2] = 0;
      x[4 * insn.rm + 3] = 0;
    } else setReg(r.gpr, insn.rm, sz, lo, hi);
  }
  r.rip += insn.length;
  return null;
}
