/**
 * Control flow and stack: JMP, Jcc, JrCXZ, LOOP/LOOPE/LOOPNE, CALL, RET, PUSH, POP, PUSHF,
 * POPF, ENTER, LEAVE; flag instructions CLC STC CMC CLD STD LAHF SAHF; NOP/PAUSE.
 * (Intel SDM Vol. 2 instruction pages; stack width per Vol. 1 §6.2.3; near branches in 64-bit
 * mode use 64-bit operand size.)
 */
import type { Instruction } from '../decode/instruction.ts';
import {
  FLAG_AC, FLAG_CF, FLAG_DF, FLAG_ID, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_RF, FLAG_VIF, FLAG_VIP, FLAG_VM,
  FLAGS_ARITH, FLAG_TF, RBP, RCX, RSP, type X86Cpu, type X86Registers,
} from '../cpu.ts';
import { flagsMaterialize, getCF, getZF, setFlags, testCondition } from './flags.ts';
import {
  A, adjustRsp, checkIp, getReg, isMem, linearize, memAddress, OK_IMM, OK_REL, pairToNumber, peek, pop, push,
  readOperand, setReg, stackSize, V, writeLinear, writeOperand, regAsNumber,
} from './operands.ts';
import type { ExecResult } from './result.ts';

const TWO32 = 4294967296;

/** Near-branch target from a relative displacement, wrapped to the operand size outside 64-bit mode. */
function relTarget(r: X86Registers, insn: Instruction): number {
  const t = r.rip + insn.length + insn.imm;
  if (insn.mode === 64) return t;
  return insn.opSize === 2 ? t & 0xffff : t >>> 0;
}

function branch(r: X86Registers, insn: Instruction, target: number): ExecResult {
  const f = checkIp(r, insn.mode, target);
  if (f !== null) return f;
  r.rip = target;
  return null;
}

/** Branch operand size: 64-bit mode forces 8 for near branches, push and pop (SDM Vol. 1 §3.6.1). */
function stackOpSize(insn: Instruction): number {
  return insn.mode === 64 ? (insn.opSize === 2 ? 2 : 8) : insn.opSize;
}

/** Reads the target of JMP/CALL r/m or rel into a number. */
function target(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  if (insn.o0 === OK_REL) {
    A.linear = relTarget(r, insn);
    return null;
  }
  const size = stackOpSize(insn);
  const f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  A.linear = size === 8 ? pairToNumber(V.lo, V.hi) : size === 4 ? V.lo >>> 0 : V.lo & 0xffff;
  return null;
}

export function execJmp(cpu: X86Cpu, insn: Instruction): ExecResult {
  return target(cpu, insn) ?? branch(cpu.regs, insn, A.linear);
}

export function execJcc(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  if (testCondition(r, insn.cc)) return branch(r, insn, relTarget(r, insn));
  r.rip += insn.length;
  return null;
}

/** Count register at the address size (JrCXZ and LOOP use CX/ECX/RCX by address size). */
function countIsZero(g: Int32Array, addrSize: number): boolean {
  return addrSize === 8 ? (g[2 * RCX]! | g[2 * RCX + 1]!) === 0 : addrSize === 4 ? g[2 * RCX] === 0 : (g[2 * RCX]! & 0xffff) === 0;
}

export function execJcxz(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  if (countIsZero(r.gpr, insn.addrSize)) return branch(r, insn, relTarget(r, insn));
  r.rip += insn.length;
  return null;
}

/** Decrements rCX (address size) without touching flags. */
export function decrementCount(g: Int32Array, addrSize: number): void {
  const lo = g[2 * RCX]!;
  if (addrSize === 8) {
    g[2 * RCX] = lo - 1;
    if (lo === 0) g[2 * RCX + 1] = g[2 * RCX + 1]! - 1;
  } else if (addrSize === 4) {
    g[2 * RCX] = lo - 1;
    g[2 * RCX + 1] = 0;
  } else g[2 * RCX] = (lo & ~0xffff) | ((lo - 1) & 0xffff);
}

/** LOOP (cond 0), LOOPE (1), LOOPNE (2). */
export function execLoop(cpu: X86Cpu, insn: Instruction, cond: number): ExecResult {
  const r = cpu.regs;
  const g = r.gpr;
  const cLo = g[2 * RCX]!, cHi = g[2 * RCX + 1]!;
  decrementCount(g, insn.addrSize);
  let take = !countIsZero(g, insn.addrSize);
  if (take && cond !== 0) take = cond === 1 ? getZF(r) === 1 : getZF(r) === 0;
  if (take) {
    const f = branch(r, insn, relTarget(r, insn));
    if (f !== null) {
      g[2 * RCX] = cLo; // a faulting instruction changes nothing
      g[2 * RCX + 1] = cHi;
    }
    return f;
  }
  r.rip += insn.length;
  return null;
}

function nextIp(r: X86Registers, insn: Instruction): number {
  const n = r.rip + insn.length;
  return insn.mode === 64 ? n : insn.opSize === 2 ? n & 0xffff : n >>> 0;
}

export function execCall(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  let f = target(cpu, insn);
  if (f !== null) return f;
  const dest = A.linear;
  f = checkIp(r, insn.mode, dest);
  if (f !== null) return f;
  const ret = nextIp(r, insn);
  f = push(cpu, insn.mode, stackOpSize(insn), ret % TWO32 | 0, Math.floor(ret / TWO32) | 0);
  if (f !== null) return f;
  r.rip = dest;
  return null;
}

export function execRet(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  const size = stackOpSize(insn);
  let f = peek(cpu, insn.mode, size, 0);
  if (f !== null) return f;
  const dest = size === 8 ? pairToNumber(V.lo, V.hi) : size === 4 ? V.lo >>> 0 : V.lo & 0xffff;
  f = checkIp(r, insn.mode, dest);
  if (f !== null) return f;
  adjustRsp(r, insn.mode, size + (insn.o0 === OK_IMM ? insn.imm & 0xffff : 0));
  r.rip = dest;
  return null;
}

export function execPush(cpu: X86Cpu, insn: Instruction): ExecResult {
  const size = stackOpSize(insn);
  let f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  f = push(cpu, insn.mode, size, V.lo, V.hi);
  if (f !== null) return f;
  cpu.regs.rip += insn.length;
  return null;
}

/** POP r/m: a memory destination's address is computed after RSP is incremented (SDM "POP"). */
export function execPop(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  const size = stackOpSize(insn);
  let f = peek(cpu, insn.mode, size, 0);
  if (f !== null) return f;
  const lo = V.lo, hi = V.hi;
  const savedLo = r.gpr[2 * RSP]!, savedHi = r.gpr[2 * RSP + 1]!;
  adjustRsp(r, insn.mode, size);
  if (isMem(insn, insn.o0)) {
    f = memAddress(r, insn, size) ?? writeLinear(cpu, A.linear, size, lo, hi);
    if (f !== null) {
      r.gpr[2 * RSP] = savedLo;
      r.gpr[2 * RSP + 1] = savedHi;
      return f;
    }
  } else {
    writeOperand(cpu, insn, insn.o0, size, lo, hi);
  }
  r.rip += insn.length;
  return null;
}

/** PUSHF: the image has RF and VM cleared (SDM "PUSHF"). */
export function execPushf(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  const size = stackOpSize(insn);
  flagsMaterialize(r);
  const f = push(cpu, insn.mode, size, r.flagsBase & ~(FLAG_RF | FLAG_VM), 0);
  if (f !== null) return f;
  r.rip += insn.length;
  return null;
}

/**
 * POPF (protected/long mode, SDM "POPF" operation): at CPL 0 every flag but VM/RF-reserved
 * bits may change; otherwise IOPL is kept, and IF changes only when CPL ≤ IOPL. VIF/VIP are
 * kept unless CPL 0. RF is cleared. A 16-bit POPF changes only bits 15:0.
 */
export function execPopf(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  const size = stackOpSize(insn);
  const f = pop(cpu, insn.mode, size);
  if (f !== null) return f;
  flagsMaterialize(r);
  const cpl = r.cpl;
  const iopl = (r.flagsBase & FLAG_IOPL) >> 12;
  let mask = FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC | FLAG_ID;
  if (cpl === 0) mask |= FLAG_IOPL | FLAG_IF | FLAG_VIF | FLAG_VIP;
  else if (cpl <= iopl) mask |= FLAG_IF;
  if (size === 2) mask &= 0xffff;
  r.flagsBase = ((r.flagsBase & ~mask & ~FLAG_RF) | (V.lo & mask)) | 2;
  r.rip += insn.length;
  return null;
}

/** ENTER imm16, imm8 (SDM "ENTER" operation, nesting level mod 32). */
export function execEnter(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  const g = r.gpr;
  const mode = insn.mode;
  const size = stackOpSize(insn);
  const allocSize = insn.imm & 0xffff;
  const level = insn.imm2 & 31;
  const saved = g.slice();
  const undo = (f: ExecResult): ExecResult => {
    g.set(saved);
    return f;
  };
  let f = push(cpu, mode, size, getReg(g, RBP, size), V.hi);
  if (f !== null) return undo(f);
  const ss = stackSize(r, mode);
  const frameLo = g[2 * RSP]!, frameHi = g[2 * RSP + 1]!;
  if (level > 0) {
    for (let i = 1; i < level; i++) {
      // rBP -= size; push [rBP]
      const bp = (ss === 8 ? regAsNumber(g, RBP) : ss === 4 ? g[2 * RBP]! >>> 0 : g[2 * RBP]! & 0xffff) - size * i;
      f = linearize(r, mode, 2, ss === 4 ? bp >>> 0 : ss === 2 ? bp & 0xffff : bp, size);
      if (f !== null) return undo(f);
      f = peekAndPush(cpu, mode, size, A.linear);
      if (f !== null) return undo(f);
    }
    f = push(cpu, mode, size, size === 2 ? frameLo & 0xffff : frameLo, frameHi);
    if (f !== null) return undo(f);
  }
  setReg(g, RBP, ss, frameLo, frameHi);
  // Allocate: the SDM checks the new stack top is valid (#SS) before committing.
  adjustRsp(r, mode, -allocSize);
  r.rip += insn.length;
  return null;
}

function peekAndPush(cpu: X86Cpu, mode: number, size: number, linear: number): ExecResult {
  const buf = new Uint32Array(4);
  const f = cpu.readMemory(linear, size, buf, 0);
  if (f !== null) return f;
  return push(cpu, mode, size, buf[0]! | 0, buf[1]! | 0);
}

/** LEAVE: rSP = rBP; rBP = pop. */
export function execLeave(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  const g = r.gpr;
  const ss = stackSize(r, insn.mode);
  const savedLo = g[2 * RSP]!, savedHi = g[2 * RSP + 1]!;
  if (ss === 8) { g[2 * RSP] = g[2 * RBP]!; g[2 * RSP + 1] = g[2 * RBP + 1]!; }
  else if (ss === 4) g[2 * RSP] = g[2 * RBP]!;
  else g[2 * RSP] = (g[2 * RSP]! & ~0xffff) | (g[2 * RBP]! & 0xffff);
  const size = stackOpSize(insn);
  const f = pop(cpu, insn.mode, size);
  if (f !== null) {
    g[2 * RSP] = savedLo;
    g[2 * RSP + 1] = savedHi;
    return f;
  }
  setReg(g, RBP, size, V.lo, V.hi);
  r.rip += insn.length;
  return null;
}

/** CLC STC CMC CLD STD. */
export function execFlagOp(cpu: X86Cpu, insn: Instruction, which: 'clc' | 'stc' | 'cmc' | 'cld' | 'std'): ExecResult {
  const r = cpu.regs;
  switch (which) {
    case 'clc': setFlags(r, FLAG_CF, 0); break;
    case 'stc': setFlags(r, FLAG_CF, FLAG_CF); break;
    case 'cmc': setFlags(r, FLAG_CF, getCF(r) ^ 1); break;
    case 'cld': r.flagsBase &= ~FLAG_DF; break;
    default: r.flagsBase |= FLAG_DF; break;
  }
  r.rip += insn.length;
  return null;
}

/** LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. SAHF: SF ZF AF PF CF = AH. */
export function execLahfSahf(cpu: X86Cpu, insn: Instruction, load: boolean): ExecResult {
  const r = cpu.regs;
  const g = r.gpr;
  if (load) {
    flagsMaterialize(r);
    setReg(g, 20, 1, (r.flagsBase & 0xd5) | 2, 0);
  } else {
    setFlags(r, 0xd5, (g[0]! >> 8) & 0xd5);
  }
  r.rip += insn.length;
  return null;
}

/** CLI/STI at CPL ≤ IOPL (protected mode, no VME/PVI); otherwise #GP(0). */
export function execCliSti(cpu: X86Cpu, insn: Instruction, set: boolean): ExecResult {
  const r = cpu.regs;
  if (r.cpl > (r.flagsBase & FLAG_IOPL) >> 12) return { vector: 13, errorCode: 0 };
  if (set) r.flagsBase |= FLAG_IF;
  else r.flagsBase &= ~FLAG_IF;
  r.rip += insn.length;
  return null;
}

export function execNop(cpu: X86Cpu, insn: Instruction): ExecResult {
  cpu.regs.rip += insn.length;
  return null;
}
