/**
 * Specialised handlers for the hottest 64-bit-mode forms, chosen once per decoded instruction
 * (handlerFor in executor.ts) and cached with it by a decoded-block cache. Each is a closure over
 * the instruction's register numbers, length and immediate, so the per-execution work is the
 * operation itself: no operand-kind switches, no size switches. Semantics are identical to the
 * generic handlers (test/x86-exec-native.test.ts runs every case through both paths).
 *
 * Covered: ADD/SUB/AND/OR/XOR/CMP/TEST r,r and r,imm (32/64-bit); INC/DEC r (32/64);
 * MOV r,r; MOV r,imm; MOV r,[base+disp] and MOV [base+disp],r (32/64, DS/SS/ES segment,
 * 64-bit addressing, no index); Jcc/JMP rel.
 */
import { Op, OperandKind, type Instruction } from '../decode/instruction.ts';
import { ACCESS_READ, FAULT_GP0, FAULT_SS0, FLAG_AC, FS, SS, type X86Cpu } from '../cpu.ts';
import { getZF, K_ADD, K_DEC, K_INC, K_LOGIC, K_SUB, keepCarry, testCondition } from './flags.ts';
import { MEM, readLinear, writeLinear } from './operands.ts';
import type { ExecResult } from './result.ts';

type Handler = (cpu: X86Cpu, insn: Instruction) => ExecResult;

const TWO32 = 4294967296;
const CANON = 140737488355328; // 2^47

function aluKind(op: Op): number {
  switch (op) {
    case Op.ADD: return 0;
    case Op.SUB: return 1;
    case Op.CMP: return 2;
    case Op.AND: return 3;
    case Op.TEST: return 4;
    case Op.OR: return 5;
    case Op.XOR: return 6;
    default: return -1;
  }
}

const ADD32 = (K_ADD << 2) | 2, SUB32 = (K_SUB << 2) | 2, LOGIC32 = (K_LOGIC << 2) | 2;

/**
 * 32-bit `op r32, r32` (useImm false: source GPR pair index s) or `op r32, imm` (useImm true).
 * One function literal per operation, not one shared literal switching on the kind: closures of
 * one literal share their V8 feedback and optimized code, so a shared literal is compiled for all
 * seven operations at once (a switch it cannot fold, behind a call too large to inline into a
 * chained block, exec/block.ts). Each literal here is straight-line and small. Lazy flags as
 * everywhere (flags.ts): kind/size in lazyOp, operands and result in lazyA/lazyB/lazyRes.
 */
function alu32Handler(k: number, d: number, s: number, useImm: boolean, imm: number, len: number): Handler {
  switch (k) {
    case 0: return (cpu) => {
      const r = cpu.regs, g = r.gpr;
      const a = g[d]!, b = useImm ? imm : g[s]!, res = (a + b) | 0;
      r.lazyOp = ADD32; r.lazyA = a; r.lazyB = b; r.lazyRes = res;
      g[d] = res; g[d + 1] = 0;
      r.rip += len;
      return null;
    };
    case 1: return (cpu) => {
      const r = cpu.regs, g = r.gpr;
      const a = g[d]!, b = useImm ? imm : g[s]!, res = (a - b) | 0;
      r.lazyOp = SUB32; r.lazyA = a; r.lazyB = b; r.lazyRes = res;
      g[d] = res; g[d + 1] = 0;
      r.rip += len;
      return null;
    };
    case 2: return (cpu) => { // CMP: flags only
      const r = cpu.regs, g = r.gpr;
      const a = g[d]!, b = useImm ? imm : g[s]!;
      r.lazyOp = SUB32; r.lazyA = a; r.lazyB = b; r.lazyRes = (a - b) | 0;
      r.rip += len;
      return null;
    };
    case 3: return (cpu) => {
      const r = cpu.regs, g = r.gpr;
      const a = g[d]!, b = useImm ? imm : g[s]!, res = a & b;
      r.lazyOp = LOGIC32; r.lazyA = a; r.lazyB = b; r.lazyRes = res;
      g[d] = res; g[d + 1] = 0;
      r.rip += len;
      return null;
    };
    case 4: return (cpu) => { // TEST: flags only
      const r = cpu.regs, g = r.gpr;
      const a = g[d]!, b = useImm ? imm : g[s]!;
      r.lazyOp = LOGIC32; r.lazyA = a; r.lazyB = b; r.lazyRes = a & b;
      r.rip += len;
      return null;
    };
    case 5: return (cpu) => {
      const r = cpu.regs, g = r.gpr;
      const a = g[d]!, b = useImm ? imm : g[s]!, res = a | b;
      r.lazyOp = LOGIC32; r.lazyA = a; r.lazyB = b; r.lazyRes = res;
      g[d] = res; g[d + 1] = 0;
      r.rip += len;
      return null;
    };
    default: return (cpu) => {
      const r = cpu.regs, g = r.gpr;
      const a = g[d]!, b = useImm ? imm : g[s]!, res = a ^ b;
      r.lazyOp = LOGIC32; r.lazyA = a; r.lazyB = b; r.lazyRes = res;
      g[d] = res; g[d + 1] = 0;
      r.rip += len;
      return null;
    };
  }
}

/** 64-bit ALU op on (a:aHi, b:bHi): stores the lazy flags; result in r.lazyRes/lazyResHi. */
function alu64(cpu: X86Cpu, k: number, a: number, aHi: number, b: number, bHi: number): void {
  const r = cpu.regs;
  let lo: number, hi: number;
  switch (k) {
    case 0:
      lo = (a + b) | 0;
      hi = (aHi + bHi + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
      r.lazyOp = (K_ADD << 2) | 3;
      break;
    case 1: case 2:
      lo = (a - b) | 0;
      hi = (aHi - bHi - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
      r.lazyOp = (K_SUB << 2) | 3;
      break;
    case 3: case 4: lo = a & b; hi = aHi & bHi; r.lazyOp = (K_LOGIC << 2) | 3; break;
    case 5: lo = a | b; hi = aHi | bHi; r.lazyOp = (K_LOGIC << 2) | 3; break;
    default: lo = a ^ b; hi = aHi ^ bHi; r.lazyOp = (K_LOGIC << 2) | 3; break;
  }
  r.lazyA = a; r.lazyB = b; r.lazyRes = lo;
  r.lazyAHi = aHi; r.lazyBHi = bHi; r.lazyResHi = hi;
}

function isReg(insn: Instruction, kind: OperandKind): boolean {
  return kind === OperandKind.Reg || ((kind === OperandKind.Rm) && !insn.hasMem) || kind === OperandKind.Acc;
}
function regOf(insn: Instruction, kind: OperandKind): number {
  return kind === OperandKind.Reg ? insn.reg : kind === OperandKind.Acc ? 0 : insn.rm;
}

/** A simple [base + disp] memory operand in 64-bit addressing without FS/GS (no segment base). */
function simpleMem(insn: Instruction): boolean {
  return insn.hasMem && insn.base >= 0 && insn.base < 16 && insn.index < 0 && insn.addrSize === 8 && insn.seg < FS;
}

export function fastHandler(insn: Instruction): Handler | null {
  if (insn.prefixes & 1 /* LOCK */) return null;
  const size = insn.s0;
  const len = insn.length;
  switch (insn.op) {
    case Op.ADD: case Op.SUB: case Op.CMP: case Op.AND: case Op.TEST: case Op.OR: case Op.XOR: {
      if ((size !== 4 && size !== 8) || !isReg(insn, insn.o0)) return null;
      const k = aluKind(insn.op);
      const write = k !== 2 && k !== 4;
      const d = 2 * regOf(insn, insn.o0);
      if (isReg(insn, insn.o1)) {
        const s = 2 * regOf(insn, insn.o1);
        if (size === 4) return alu32Handler(k, d, s, false, 0, len);
        return (cpu) => {
          const r = cpu.regs, g = r.gpr;
          alu64(cpu, k, g[d]!, g[d + 1]!, g[s]!, g[s + 1]!);
          if (write) { g[d] = r.lazyRes; g[d + 1] = r.lazyResHi; }
          r.rip += len;
          return null;
        };
      }
      if (insn.o1 === OperandKind.Imm) {
        const imm = insn.imm, immHi = insn.immHi;
        if (size === 4) return alu32Handler(k, d, 0, true, imm, len);
        return (cpu) => {
          const r = cpu.regs, g = r.gpr;
          alu64(cpu, k, g[d]!, g[d + 1]!, imm, immHi);
          if (write) { g[d] = r.lazyRes; g[d + 1] = r.lazyResHi; }
          r.rip += len;
          return null;
        };
      }
      return null;
    }
    case Op.INC: case Op.DEC: {
      if ((size !== 4 && size !== 8) || insn.hasMem) return null;
      const d = 2 * insn.rm;
      const kind = insn.op === Op.INC ? K_INC : K_DEC;
      const delta = insn.op === Op.INC ? 1 : -1;
      return (cpu) => {
        const r = cpu.regs, g = r.gpr;
        keepCarry(r);
        const a = g[d]!;
        const lo = (a + delta) | 0;
        r.lazyA = a; r.lazyB = 1; r.lazyRes = lo;
        if (size === 4) {
          r.lazyOp = (kind << 2) | 2;
          g[d] = lo; g[d + 1] = 0;
        } else {
          const aHi = g[d + 1]!;
          const hi = delta === 1 ? (aHi + (lo === 0 ? 1 : 0)) | 0 : (aHi - (a === 0 ? 1 : 0)) | 0;
          r.lazyOp = (kind << 2) | 3;
          r.lazyAHi = aHi; r.lazyBHi = 0; r.lazyResHi = hi;
          g[d] = lo; g[d + 1] = hi;
        }
        r.rip += len;
        return null;
      };
    }
    case Op.MOV: {
      if (size !== 4 && size !== 8) return null;
      if (isReg(insn, insn.o0) && isReg(insn, insn.o1)) {
        const d = 2 * regOf(insn, insn.o0), s = 2 * regOf(insn, insn.o1);
        return (cpu) => {
          const g = cpu.regs.gpr;
          g[d] = g[s]!;
          g[d + 1] = size === 8 ? g[s + 1]! : 0;
          cpu.regs.rip += len;
          return null;
        };
      }
      if (isReg(insn, insn.o0) && insn.o1 === OperandKind.Imm) {
        const d = 2 * regOf(insn, insn.o0), lo = insn.imm, hi = size === 8 ? insn.immHi : 0;
        return (cpu) => {
          const g = cpu.regs.gpr;
          g[d] = lo;
          g[d + 1] = hi;
          cpu.regs.rip += len;
          return null;
        };
      }
      if (!simpleMem(insn)) return null;
      const b = 2 * insn.base, disp = insn.disp, stackFault = insn.seg === SS ? FAULT_SS0 : FAULT_GP0;
      if (insn.o0 === OperandKind.Reg) {
        const d = 2 * insn.reg;
        return (cpu) => {
          const r = cpu.regs, g = r.gpr;
          const lin = g[b + 1]! * TWO32 + (g[b]! >>> 0) + disp;
          if (lin < -CANON || lin + size > CANON) return stackFault;
          if (r.flagsBase & FLAG_AC) {
            const f = readLinear(cpu, lin, size);
            if (f !== null) return f;
          } else {
            const f = cpu.readMemory(lin, size, MEM, ACCESS_READ);
            if (f !== null) return f;
          }
          g[d] = MEM[0]! | 0;
          g[d + 1] = size === 8 ? MEM[1]! | 0 : 0;
          r.rip += len;
          return null;
        };
      }
      if (insn.o1 === OperandKind.Reg) {
        const s = 2 * insn.reg;
        return (cpu) => {
          const r = cpu.regs, g = r.gpr;
          const lin = g[b + 1]! * TWO32 + (g[b]! >>> 0) + disp;
          if (lin < -CANON || lin + size > CANON) return stackFault;
          const f = writeLinear(cpu, lin, size, g[s]!, g[s + 1]!);
          if (f !== null) return f;
          r.rip += len;
          return null;
        };
      }
      return null;
    }
    case Op.Jcc: {
      const cc = insn.cc, rel = insn.imm;
      // JZ/JNZ (loop ends) read only ZF: skip the generic condition switch.
      const zfOnly = cc === 4 || cc === 5;
      const want = cc === 4 ? 1 : 0;
      return (cpu) => {
        const r = cpu.regs;
        const next = r.rip + len;
        if (zfOnly ? getZF(r) !== want : !testCondition(r, cc)) {
          r.rip = next;
          return null;
        }
        const t = next + rel;
        if (t < -CANON || t >= CANON) return FAULT_GP0;
        r.rip = t;
        return null;
      };
    }
    case Op.JMP: {
      if (insn.o0 !== OperandKind.Rel) return null;
      const rel = insn.imm;
      return (cpu) => {
        const r = cpu.regs;
        const t = r.rip + len + rel;
        if (t < -CANON || t >= CANON) return FAULT_GP0;
        r.rip = t;
        return null;
      };
    }
    default:
      return null;
  }
}
