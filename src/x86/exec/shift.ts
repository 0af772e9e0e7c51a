/**
 * Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD (Intel SDM Vol. 2,
 * "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
 *  - The count is masked to 5 bits (6 with 64-bit operands). A masked count of 0 changes
 *    neither the destination's flags nor (for a register) anything else — but a memory
 *    destination is still read (and may fault).
 *  - OF is defined only for 1-bit shifts/rotates; AF is undefined for shifts (we leave 0).
 *  - RCL/RCR on 8/16-bit operands rotate through 9/17 bits: count mod 9/17.
 * 64-bit values are shifted as 32-bit halves; RCL/RCR (rare) use BigInt.
 */
import type { Instruction } from '../decode/instruction.ts';
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, type X86Cpu } from '../cpu.ts';
import { getCF, PARITY, setFlags } from './flags.ts';
import { isMem, readOperand, truncate, V, writeOperand, getReg } from './operands.ts';
import type { ExecResult } from './result.ts';

export const SH_ROL = 0, SH_ROR = 1, SH_RCL = 2, SH_RCR = 3, SH_SHL = 4, SH_SHR = 5, SH_SAR = 7;

/** Result halves of the last shift helper. */
const S = { lo: 0, hi: 0 };

export function shl64(lo: number, hi: number, n: number): void {
  if (n === 0) { S.lo = lo; S.hi = hi; }
  else if (n < 32) { S.hi = (hi << n) | (lo >>> (32 - n)); S.lo = lo << n; }
  else { S.hi = lo << (n - 32); S.lo = 0; }
}
export function shr64(lo: number, hi: number, n: number): void {
  if (n === 0) { S.lo = lo; S.hi = hi; }
  else if (n < 32) { S.lo = (lo >>> n) | (hi << (32 - n)); S.hi = hi >>> n; }
  else { S.lo = hi >>> (n - 32); S.hi = 0; }
}
function sar64(lo: number, hi: number, n: number): void {
  if (n === 0) { S.lo = lo; S.hi = hi; }
  else if (n < 32) { S.lo = (lo >>> n) | (hi << (32 - n)); S.hi = hi >> n; }
  else { S.lo = hi >> (n - 32); S.hi = hi >> 31; }
}
/** Bit k (0..63) of the pair. */
export function bitOf(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}
function msb(lo: number, hi: number, bits: number): number {
  return bits === 64 ? hi >>> 31 : (lo >>> (bits - 1)) & 1;
}

/** SF, ZF, PF of a result (AF left 0). */
export function szp(lo: number, hi: number, bits: number): number {
  const zero = bits === 64 ? (lo | hi) === 0 : truncate(lo, bits >> 3) === 0;
  return (zero ? FLAG_ZF : 0) | (msb(lo, hi, bits) ? FLAG_SF : 0) | (PARITY[lo & 0xff] ? FLAG_PF : 0);
}

/** Shift/rotate of (lo, hi) at `bits` by an already-masked nonzero `n`; sets S and returns the new flags. */
function shiftOp(op: number, lo: number, hi: number, bits: number, n: number, cfIn: number): number {
  let cf = 0, of = 0;
  const wide = bits === 64;
  switch (op) {
    case SH_SHL: {
      if (wide) shl64(lo, hi, n);
      else { S.lo = n < 32 ? truncate(lo << n, bits >> 3) : 0; S.hi = 0; }
      cf = n <= bits ? bitOf(lo, hi, bits - n) : 0; // count > size (8/16-bit): CF undefined
      of = msb(S.lo, S.hi, bits) ^ cf;
      return (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0) | szp(S.lo, S.hi, bits);
    }
    case SH_SHR: {
      if (wide) shr64(lo, hi, n);
      else { S.lo = n < 32 ? lo >>> n : 0; S.hi = 0; }
      cf = n <= bits ? bitOf(lo, hi, n - 1) : 0;
      of = msb(lo, hi, bits); // OF for 1-bit SHR: MSB of the original operand
      return (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0) | szp(S.lo, S.hi, bits);
    }
    case SH_SAR: {
      if (wide) sar64(lo, hi, n);
      else {
        const sx = bits === 8 ? (lo << 24) >> 24 : bits === 16 ? (lo << 16) >> 16 : lo;
        S.lo = truncate(sx >> Math.min(n, 31), bits >> 3);
        S.hi = 0;
        cf = n <= 31 ? (sx >> (n - 1)) & 1 : sx >>> 31;
        return (cf ? FLAG_CF : 0) | szp(S.lo, S.hi, bits);
      }
      cf = bitOf(lo, hi, n - 1);
      return (cf ? FLAG_CF : 0) | szp(S.lo, S.hi, bits);
    }
    case SH_ROL:
    case SH_ROR: {
      const k = n % bits; // rotate amount; CF/OF still update when k == 0 (n ≠ 0)
      const left = op === SH_ROL ? k : (bits - k) % bits;
      if (left === 0) { S.lo = lo; S.hi = hi; }
      else if (wide) {
        shl64(lo, hi, left); const aLo = S.lo, aHi = S.hi;
        shr64(lo, hi, 64 - left);
        S.lo |= aLo; S.hi |= aHi;
      } else {
        const u = lo >>> 0;
        S.lo = truncate((u << left) | (u >>> (bits - left)), bits >> 3);
        S.hi = 0;
      }
      if (op === SH_ROL) {
        cf = S.lo & 1;
        of = msb(S.lo, S.hi, bits) ^ cf;
      } else {
        cf = msb(S.lo, S.hi, bits);
        of = cf ^ bitOf(S.lo, S.hi, bits - 2);
      }
      return (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0);
    }
    default: {
      // RCL/RCR: rotate the (bits+1)-bit value CF:dest.
      const k = n % (bits + 1);
      let v = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      if (!wide) v &= (1n << BigInt(bits)) - 1n;
      const full = (BigInt(cfIn) << BigInt(bits)) | v;
      const width = BigInt(bits + 1);
      const mask = (1n << width) - 1n;
      const bk = BigInt(k);
      const rot = op === SH_RCL
        ? ((full << bk) | (full >> (width - bk))) & mask
        : ((full >> bk) | (full << (width - bk))) & mask;
      const res = rot & ((1n << BigInt(bits)) - 1n);
      cf = Number(rot >> BigInt(bits)) & 1;
      S.lo = Number(res & 0xffffffffn) | 0;
      S.hi = Number(res >> 32n) | 0;
      if (op === SH_RCL) of = msb(S.lo, S.hi, bits) ^ cf;
      else of = msb(lo, hi, bits) ^ cfIn; // RCR: OF from the original MSB and CF (SDM)
      return (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0);
    }
  }
}

function zeroExtendIfReg32(cpu: X86Cpu, insn: Instruction, size: number): void {
  if (size === 4 && !isMem(insn, insn.o0)) cpu.regs.gpr[2 * insn.rm + 1] = 0;
}

const ROTATE_MASK = FLAG_CF | FLAG_OF;
const SHIFT_MASK = FLAG_CF | FLAG_OF | FLAG_SF | FLAG_ZF | FLAG_PF | FLAG_AF;

export function execShift(cpu: X86Cpu, insn: Instruction, op: number): ExecResult {
  const size = insn.s0;
  const bits = size * 8;
  let f = readOperand(cpu, insn, insn.o1, 1);
  if (f !== null) return f;
  const n = V.lo & (size === 8 ? 0x3f : 0x1f);
  f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  const r = cpu.regs;
  if (n === 0 || ((op === SH_RCL || op === SH_RCR) && n % (bits + 1) === 0)) {
    // A zero (masked) count changes no flags and no value — but a 32-bit register destination
    // is still written, so bits 63:32 are cleared (observed on hardware, as for any 32-bit write).
    zeroExtendIfReg32(cpu, insn, size);
    r.rip += insn.length;
    return null;
  }
  const flags = shiftOp(op, V.lo, V.hi, bits, n, op === SH_RCL || op === SH_RCR ? getCF(r) : 0);
  f = writeOperand(cpu, insn, insn.o0, size, S.lo, S.hi);
  if (f !== null) return f;
  setFlags(r, op < SH_SHL ? ROTATE_MASK : SHIFT_MASK, flags);
  r.rip += insn.length;
  return null;
}

/** SHLD / SHRD r/m, r, imm8|CL. Counts above the operand size (16-bit only) give undefined results. */
export function execShiftDouble(cpu: X86Cpu, insn: Instruction, left: boolean): ExecResult {
  const size = insn.s0;
  const bits = size * 8;
  let f = readOperand(cpu, insn, insn.o2, 1);
  if (f !== null) return f;
  const n = V.lo & (size === 8 ? 0x3f : 0x1f);
  const src = getReg(cpu.regs.gpr, insn.reg, size);
  const srcHi = V.hi;
  f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  const r = cpu.regs;
  if (n === 0) {
    zeroExtendIfReg32(cpu, insn, size);
    r.rip += insn.length;
    return null;
  }
  const d = V.lo, dHi = V.hi;
  let lo: number, hi: number, cf: number;
  if (bits === 64) {
    if (left) {
      shl64(d, dHi, n); const aLo = S.lo, aHi = S.hi;
      shr64(src, srcHi, 64 - n);
      lo = aLo | S.lo; hi = aHi | S.hi;
      cf = bitOf(d, dHi, 64 - n);
    } else {
      shr64(d, dHi, n); const aLo = S.lo, aHi = S.hi;
      shl64(src, srcHi, 64 - n);
      lo = aLo | S.lo; hi = aHi | S.hi;
      cf = bitOf(d, dHi, n - 1);
    }
  } else {
    // Work on the 2·bits-bit concatenation with BigInt-free arithmetic where possible.
    const dd = BigInt(d >>> 0) & ((1n << BigInt(bits)) - 1n);
    const ss = BigInt(src >>> 0) & ((1n << BigInt(bits)) - 1n);
    const B = BigInt(bits), N = BigInt(n);
    let res: bigint;
    if (left) {
      // SHLD: DEST:SRC shifted left; for n > bits (16-bit) hardware differs — undefined.
      const cat = (dd << B) | ss;
      res = (cat << N) >> B;
      cf = Number((cat >> (2n * B - N)) & 1n);
    } else {
      const cat = (ss << B) | dd;
      res = cat >> N;
      cf = Number((cat >> (N - 1n)) & 1n);
    }
    lo = Number(res & ((1n << B) - 1n)) | 0;
    hi = 0;
  }
  const of = msb(lo, hi, bits) ^ msb(d, dHi, bits); // defined for count 1: sign change
  f = writeOperand(cpu, insn, insn.o0, size, lo, hi);
  if (f !== null) return f;
  setFlags(r, SHIFT_MASK, (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0) | szp(lo, hi, bits));
  r.rip += insn.length;
  return null;
}

export { isMem };
