/**
 * Bit instructions: BT, BTS, BTR, BTC (SDM Vol. 2 "BT": CF = selected bit, ZF unaffected,
 * OF/SF/AF/PF undefined); BSF, BSR (ZF = source is zero, destination unchanged then; other flags
 * undefined); TZCNT, LZCNT (CF = source is zero, ZF = result is zero); POPCNT (ZF = source is
 * zero, CF OF SF AF PF cleared).
 * With a memory operand and a register bit offset, the offset is a signed bit index relative
 * to the operand's address and may select any byte (SDM "BT", bit-base addressing).
 */
import type { Instruction } from '../decode/instruction.ts';
import { Prefix } from '../decode/instruction.ts';
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, type X86Cpu } from '../cpu.ts';
import { setFlags } from './flags.ts';
import {
  A, compareAndWrite, effectiveOffset, isMem, linearize, OK_REG, readLinear, readOperand, setReg, V, writeLinear, getReg,
} from './operands.ts';
import { RETRY, type ExecResult } from './result.ts';

export const BT_TEST = 0, BT_SET = 1, BT_RESET = 2, BT_COMPLEMENT = 3;

export function execBt(cpu: X86Cpu, insn: Instruction, action: number): ExecResult {
  const size = insn.s0;
  const bits = size * 8;
  const r = cpu.regs;
  let f = readOperand(cpu, insn, insn.o1, size);
  if (f !== null) return f;
  const srcLo = V.lo, srcHi = V.hi; // (effectiveOffset uses V)
  let bit: number;
  let lo: number, hi: number;
  const mem = isMem(insn, insn.o0);
  if (mem) {
    effectiveOffset(r, insn);
    let offset = A.offset;
    if (insn.o1 === OK_REG) {
      // signed bit offset: the byte displacement is (offset SAR log2(bits)) · size
      const off = size === 8 ? srcHi * 4294967296 + (srcLo >>> 0) : size === 4 ? srcLo : (srcLo << 16) >> 16;
      offset += Math.floor(off / bits) * size;
      if (insn.mode !== 64 || insn.addrSize !== 8) offset = insn.addrSize === 2 ? offset & 0xffff : offset >>> 0;
      bit = off - Math.floor(off / bits) * bits;
    } else bit = srcLo & (bits - 1);
    f = linearize(r, insn.mode, insn.seg, offset, size) ?? readLinear(cpu, A.linear, size);
    if (f !== null) return f;
  } else {
    bit = srcLo & (bits - 1);
    V.lo = getReg(r.gpr, insn.rm, size);
  }
  lo = V.lo;
  hi = V.hi;
  const cf = bit < 32 ? (lo >>> bit) & 1 : (hi >>> (bit - 32)) & 1;
  if (action !== BT_TEST) {
    const m = bit < 32 ? 1 << bit : 0, mHi = bit >= 32 ? 1 << (bit - 32) : 0;
    let nLo: number, nHi: number;
    if (action === BT_SET) { nLo = lo | m; nHi = hi | mHi; }
    else if (action === BT_RESET) { nLo = lo & ~m; nHi = hi & ~mHi; }
    else { nLo = lo ^ m; nHi = hi ^ mHi; }
    if (mem) {
      const res = (insn.prefixes & Prefix.LOCK) !== 0
        ? compareAndWrite(cpu, A.linear, size, lo, hi, nLo, nHi)
        : writeLinear(cpu, A.linear, size, nLo, nHi);
      if (res === false) return RETRY;
      if (res !== null) return res;
    } else setReg(r.gpr, insn.rm, size, nLo, nHi);
  }
  setFlags(r, FLAG_CF, cf);
  r.rip += insn.length;
  return null;
}

const ALL = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

export const SCAN_BSF = 0, SCAN_BSR = 1, SCAN_TZCNT = 2, SCAN_LZCNT = 3, SCAN_POPCNT = 4;

export function execBitScan(cpu: X86Cpu, insn: Instruction, kind: number): ExecResult {
  const size = insn.s0;
  const bits = size * 8;
  const f = readOperand(cpu, insn, insn.o1, size);
  if (f !== null) return f;
  const r = cpu.regs;
  const lo = V.lo, hi = size === 8 ? V.hi : 0;
  const zero = (lo | hi) === 0;
  let res: number;
  switch (kind) {
    case SCAN_BSF:
    case SCAN_BSR:
      if (zero) {
        // Destination unchanged (AMD documents this; Intel: "undefined", unchanged in practice).
        setFlags(r, ALL, FLAG_ZF);
        r.rip += insn.length;
        return null;
      }
      if (kind === SCAN_BSF) res = lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
      else res = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
      setReg(r.gpr, insn.reg, size, res, 0);
      setFlags(r, ALL, 0);
      break;
    case SCAN_TZCNT:
      res = zero ? bits : lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
      setReg(r.gpr, insn.reg, size, res, 0);
      setFlags(r, ALL, (zero ? FLAG_CF : 0) | (res === 0 ? FLAG_ZF : 0));
      break;
    case SCAN_LZCNT: {
      const top = bits === 64 ? (hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo)) : Math.clz32(lo) - (32 - bits);
      res = top;
      setReg(r.gpr, insn.reg, size, res, 0);
      setFlags(r, ALL, (zero ? FLAG_CF : 0) | (res === 0 ? FLAG_ZF : 0));
      break;
    }
    default:
      res = popcount32(size === 1 ? lo & 0xff : size === 2 ? lo & 0xffff : lo) + (size === 8 ? popcount32(hi) : 0);
      setReg(r.gpr, insn.reg, size, res, 0);
      setFlags(r, ALL, zero ? FLAG_ZF : 0);
  }
  r.rip += insn.length;
  return null;
}
