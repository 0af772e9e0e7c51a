/**
 * String instructions MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with REP/REPE/REPNE
 * (Intel SDM Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ", Vol. 1 §7.3.9).
 *  - rSI/rDI/rCX are used at the *address* size; the element size is the operand's (s0/s1).
 *  - The source segment is DS (overridable); the destination is always ES.
 *  - A `rep` instruction runs at most MAX_REP_ITERATIONS iterations per call; if rCX is still
 *    nonzero it returns RETRY with RIP unchanged and rCX/rSI/rDI updated, so the caller can
 *    deliver interrupts and execute it again (the SDM allows an interrupt between iterations).
 *  - A fault in iteration k leaves the effects of iterations 0..k-1 (registers and memory)
 *    and RIP at the instruction, as on hardware.
 *  - F2 (REPNE) on MOVS/STOS/LODS/INS/OUTS acts as REP (observed hardware behaviour, also noted
 *    by OpenVMM's x86emu).
 *  - INS/OUTS check CPL ≤ IOPL (#GP(0)); the TSS I/O permission bitmap is not consulted.
 */
import type { Instruction } from '../decode/instruction.ts';
import { Prefix } from '../decode/instruction.ts';
import { ES, FAULT_GP0, FLAG_DF, RAX, RCX, RDI, RDX, RSI, type X86Cpu } from '../cpu.ts';
import { ioPermitted } from './io.ts';
import { ALU_CMP, computeBinary } from './alu.ts';
import { getZF } from './flags.ts';
import { A, getReg, linearize, OK_DX, readLinear, setReg, V, writeLinear } from './operands.ts';
import { MAX_REP_ITERATIONS, RETRY, type ExecResult } from './result.ts';

export const STR_MOVS = 0, STR_CMPS = 1, STR_STOS = 2, STR_LODS = 3, STR_SCAS = 4, STR_INS = 5, STR_OUTS = 6;

const TWO32 = 4294967296;

/** Index register value at the address size, as an offset number. */
function indexOffset(g: Int32Array, n: number, as: number): number {
  return as === 8 ? g[2 * n + 1]! * TWO32 + (g[2 * n]! >>> 0) : as === 4 ? g[2 * n]! >>> 0 : g[2 * n]! & 0xffff;
}

/** Adds `delta` to register n at the address size (16/32-bit forms leave the rest... see SDM). */
function advance(g: Int32Array, n: number, as: number, delta: number): void {
  const lo = g[2 * n]!;
  if (as === 8) {
    const s = (lo >>> 0) + delta;
    g[2 * n] = s | 0;
    if (s < 0) g[2 * n + 1] = g[2 * n + 1]! - 1;
    else if (s >= TWO32) g[2 * n + 1] = g[2 * n + 1]! + 1;
  } else if (as === 4) {
    g[2 * n] = (lo + delta) | 0;
    g[2 * n + 1] = 0; // a 32-bit address-size update writes ESI/EDI, zero-extending
  } else g[2 * n] = (lo & ~0xffff) | ((lo + delta) & 0xffff);
}

function countZero(g: Int32Array, as: number): boolean {
  return as === 8 ? (g[2 * RCX]! | g[2 * RCX + 1]!) === 0 : as === 4 ? g[2 * RCX] === 0 : (g[2 * RCX]! & 0xffff) === 0;
}

export function execString(cpu: X86Cpu, insn: Instruction, kind: number): ExecResult {
  const r = cpu.regs;
  const g = r.gpr;
  const size = insn.o0 === OK_DX ? insn.s1 : insn.s0; // element size (opSize is not narrowed for movsb etc.)
  const as = insn.addrSize;
  const mode = insn.mode;
  const rep = (insn.prefixes & (Prefix.REP | Prefix.REPNE)) !== 0;
  // For CMPS/SCAS the *last* F2/F3 decides REPE vs REPNE; the decoder reports both bits only
  // if both were present, so prefer REPNE only when REP is absent.
  const repne = (insn.prefixes & Prefix.REPNE) !== 0 && (insn.prefixes & Prefix.REP) === 0;
  if ((kind === STR_INS || kind === STR_OUTS) && !ioPermitted(cpu)) return FAULT_GP0;
  if (rep && countZero(g, as)) {
    r.rip += insn.length;
    return null;
  }
  const delta = r.flagsBase & FLAG_DF ? -size : size;
  const srcSeg = insn.seg;
  let f: ExecResult;
  for (let i = 0; ; i++) {
    switch (kind) {
      case STR_MOVS: {
        f = linearize(r, mode, srcSeg, indexOffset(g, RSI, as), size) ?? readLinear(cpu, A.linear, size);
        if (f !== null) return f;
        const lo = V.lo, hi = V.hi;
        f = linearize(r, mode, ES, indexOffset(g, RDI, as), size) ?? writeLinear(cpu, A.linear, size, lo, hi);
        if (f !== null) return f;
        advance(g, RSI, as, delta);
        advance(g, RDI, as, delta);
        break;
      }
      case STR_STOS: {
        const lo = getReg(g, RAX, size), hi = V.hi;
        f = linearize(r, mode, ES, indexOffset(g, RDI, as), size) ?? writeLinear(cpu, A.linear, size, lo, hi);
        if (f !== null) return f;
        advance(g, RDI, as, delta);
        break;
      }
      case STR_LODS: {
        f = linearize(r, mode, srcSeg, indexOffset(g, RSI, as), size) ?? readLinear(cpu, A.linear, size);
        if (f !== null) return f;
        setReg(g, RAX, size, V.lo, V.hi);
        advance(g, RSI, as, delta);
        break;
      }
      case STR_CMPS: {
        f = linearize(r, mode, srcSeg, indexOffset(g, RSI, as), size) ?? readLinear(cpu, A.linear, size);
        if (f !== null) return f;
        const a = V.lo, aHi = V.hi;
        f = linearize(r, mode, ES, indexOffset(g, RDI, as), size) ?? readLinear(cpu, A.linear, size);
        if (f !== null) return f;
        computeBinary(r, ALU_CMP, size, a, aHi, V.lo, V.hi); // flags of SRC - DEST
        advance(g, RSI, as, delta);
        advance(g, RDI, as, delta);
        break;
      }
      case STR_SCAS: {
        f = linearize(r, mode, ES, indexOffset(g, RDI, as), size) ?? readLinear(cpu, A.linear, size);
        if (f !== null) return f;
        const m = V.lo, mHi = V.hi;
        const a = getReg(g, RAX, size);
        computeBinary(r, ALU_CMP, size, a, V.hi, m, mHi);
        advance(g, RDI, as, delta);
        break;
      }
      case STR_INS: {
        // The destination is checked (segment, then paging where the CPU can probe) before the
        // port is read, so a faulting INS has no side effect: the device keeps its byte.
        f = linearize(r, mode, ES, indexOffset(g, RDI, as), size);
        if (f !== null) return f;
        const linear = A.linear;
        if (cpu.probeWrite !== undefined) {
          f = cpu.probeWrite(linear, size);
          if (f !== null) return f;
        }
        const v = cpu.readIo(g[2 * RDX]! & 0xffff, size);
        f = writeLinear(cpu, linear, size, v, 0);
        if (f !== null) return f;
        advance(g, RDI, as, delta);
        break;
      }
      default: {
        f = linearize(r, mode, srcSeg, indexOffset(g, RSI, as), size) ?? readLinear(cpu, A.linear, size);
        if (f !== null) return f;
        cpu.writeIo(g[2 * RDX]! & 0xffff, size, V.lo >>> 0);
        advance(g, RSI, as, delta);
        break;
      }
    }
    if (!rep) break;
    advance(g, RCX, as, -1);
    if (countZero(g, as)) break;
    if ((kind === STR_CMPS || kind === STR_SCAS) && getZF(r) === (repne ? 1 : 0)) break;
    if (i + 1 >= MAX_REP_ITERATIONS) return RETRY;
  }
  r.rip += insn.length;
  return null;
}
