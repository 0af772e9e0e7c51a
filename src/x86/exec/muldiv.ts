/**
 * MUL, IMUL (one-, two- and three-operand), DIV, IDIV (Intel SDM Vol. 2).
 *  - MUL/IMUL set CF = OF = "the upper half is significant"; SF, ZF, AF, PF are undefined
 *    (we leave them unchanged).
 *  - DIV/IDIV leave every status flag undefined (unchanged here) and raise #DE when the divisor
 *    is 0 or the quotient does not fit the destination.
 * 8/16/32-bit operations use exact double/int32 arithmetic; only 64-bit ones (and 32-bit
 * divides with a non-trivial EDX) fall back to BigInt.
 */
import type { Instruction } from '../decode/instruction.ts';
import { FAULT_DE, FLAG_CF, FLAG_OF, RAX, RDX, type X86Cpu } from '../cpu.ts';
import { setFlags } from './flags.ts';
import { getReg, readOperand, setReg, signExtend, V } from './operands.ts';
import type { ExecResult } from './result.ts';

const TWO32 = 4294967296;

function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
function setRegBig(g: Int32Array, n: number, v: bigint): void {
  g[2 * n] = Number(BigInt.asIntN(32, v));
  g[2 * n + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

/** High 32 bits of the unsigned 64-bit product of two uint32 values, exactly. */
function mulHiU32(a: number, b: number): number {
  const p1 = a * (b & 0xffff); // < 2^48
  const p2 = a * (b >>> 16); // < 2^48
  return (Math.floor(p2 / 65536) + Math.floor((p1 + (p2 % 65536) * 65536) / TWO32)) >>> 0;
}

/** MUL r/m (unsigned) and one-operand IMUL r/m (signed): rDX:rAX = rAX · src. */
export function execMulAcc(cpu: X86Cpu, insn: Instruction, signed: boolean): ExecResult {
  const size = insn.s0;
  const f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  const r = cpu.regs;
  const g = r.gpr;
  const src = V.lo, srcHi = V.hi;
  let overflow: boolean;
  if (size === 1 || size === 2) {
    const bits = size * 8;
    const a = signed ? signExtend(getReg(g, RAX, size), size) : getReg(g, RAX, size);
    const b = signed ? signExtend(src, size) : src;
    const p = a * b;
    if (size === 1) {
      setReg(g, RAX, 2, p & 0xffff, 0);
      overflow = signed ? p !== (p << 24) >> 24 : p > 0xff;
    } else {
      setReg(g, RAX, 2, p & 0xffff, 0);
      setReg(g, RDX, 2, (p >> 16) & 0xffff, 0);
      overflow = signed ? p !== (p << 16) >> 16 : p > 0xffff;
    }
    void bits;
  } else if (size === 4) {
    const a = g[2 * RAX]!;
    const lo = Math.imul(a, src);
    let hi = mulHiU32(a >>> 0, src >>> 0);
    if (signed) hi = (hi - (a < 0 ? src >>> 0 : 0) - (src < 0 ? a >>> 0 : 0)) | 0;
    setReg(g, RAX, 4, lo, 0);
    setReg(g, RDX, 4, hi, 0);
    overflow = signed ? (hi | 0) !== lo >> 31 : hi !== 0;
  } else {
    let a = toBig(g[2 * RAX]!, g[2 * RAX + 1]!);
    let b = toBig(src, srcHi);
    if (signed) {
      a = BigInt.asIntN(64, a);
      b = BigInt.asIntN(64, b);
    }
    const p = BigInt.asUintN(128, a * b);
    setRegBig(g, RAX, p);
    setRegBig(g, RDX, p >> 64n);
    const lo = BigInt.asUintN(64, p);
    overflow = signed ? BigInt.asIntN(64, lo) !== a * b : p >> 64n !== 0n;
  }
  setFlags(r, FLAG_CF | FLAG_OF, overflow ? FLAG_CF | FLAG_OF : 0);
  r.rip += insn.length;
  return null;
}

/** IMUL r, r/m and IMUL r, r/m, imm: truncated signed product; CF = OF = truncation happened. */
export function execImulTrunc(cpu: X86Cpu, insn: Instruction): ExecResult {
  const size = insn.s0;
  let f: ExecResult;
  let a: number, aHi: number, b: number, bHi: number;
  if (insn.nOps >= 3) {
    f = readOperand(cpu, insn, insn.o1, size);
    if (f !== null) return f;
    a = V.lo; aHi = V.hi;
    f = readOperand(cpu, insn, insn.o2, size);
    if (f !== null) return f;
    b = V.lo; bHi = V.hi;
  } else {
    f = readOperand(cpu, insn, insn.o1, size);
    if (f !== null) return f;
    b = V.lo; bHi = V.hi;
    a = getReg(cpu.regs.gpr, insn.reg, size); aHi = V.hi;
  }
  const r = cpu.regs;
  let overflow: boolean, lo: number, hi = 0;
  if (size === 2) {
    const p = signExtend(a, 2) * signExtend(b, 2);
    lo = p & 0xffff;
    overflow = p !== (p << 16) >> 16;
  } else if (size === 4) {
    lo = Math.imul(a, b);
    overflow = a * b !== lo; // |a·b| ≥ 2^53 can never equal an int32
  } else {
    const p = BigInt.asIntN(64, toBig(a, aHi)) * BigInt.asIntN(64, toBig(b, bHi));
    const t = BigInt.asIntN(64, p);
    overflow = t !== p;
    lo = Number(BigInt.asIntN(32, t));
    hi = Number(BigInt.asIntN(32, t >> 32n));
  }
  setReg(r.gpr, insn.reg, size, lo, hi);
  setFlags(r, FLAG_CF | FLAG_OF, overflow ? FLAG_CF | FLAG_OF : 0);
  r.rip += insn.length;
  return null;
}

/** DIV / IDIV r/m: rDX:rAX ÷ src → quotient in rAX, remainder in rDX (AL/AH for bytes). */
export function execDiv(cpu: X86Cpu, insn: Instruction, signed: boolean): ExecResult {
  const size = insn.s0;
  const f = readOperand(cpu, insn, insn.o0, size);
  if (f !== null) return f;
  const r = cpu.regs;
  const g = r.gpr;
  const src = V.lo, srcHi = V.hi;
  if (size === 1 || size === 2) {
    const bits = size * 8;
    let dividend: number;
    if (size === 1) dividend = g[0]! & 0xffff;
    else dividend = ((g[2 * RDX]! & 0xffff) << 16) | (g[0]! & 0xffff);
    let divisor = src;
    if (signed) {
      dividend = size === 1 ? (dividend << 16) >> 16 : dividend | 0;
      divisor = signExtend(src, size);
    } else dividend >>>= 0;
    if (divisor === 0) return FAULT_DE;
    const q = Math.trunc(dividend / divisor);
    const rem = dividend - q * divisor;
    const lim = 2 ** (bits - (signed ? 1 : 0));
    if (signed ? q >= lim || q < -lim : q >= lim) return FAULT_DE;
    if (size === 1) setReg(g, RAX, 2, ((rem & 0xff) << 8) | (q & 0xff), 0);
    else {
      setReg(g, RAX, 2, q, 0);
      setReg(g, RDX, 2, rem, 0);
    }
  } else if (size === 4) {
    const lo = g[2 * RAX]!, hi = g[2 * RDX]!;
    if (src === 0) return FAULT_DE;
    let q: number, rem: number;
    if (!signed && hi === 0) {
      q = Math.floor((lo >>> 0) / (src >>> 0));
      rem = (lo >>> 0) - q * (src >>> 0);
    } else if (signed && hi === lo >> 31) {
      q = Math.trunc(lo / src);
      rem = lo - q * src;
      if (q > 0x7fffffff) return FAULT_DE; // only -2^31 / -1
    } else {
      let n = toBig(lo, hi);
      let d = BigInt(src >>> 0);
      if (signed) {
        n = BigInt.asIntN(64, n);
        d = BigInt(src);
      }
      const bq = n / d;
      const br = n % d;
      if (signed ? bq > 0x7fffffffn || bq < -0x80000000n : bq > 0xffffffffn) return FAULT_DE;
      q = Number(bq);
      rem = Number(br);
    }
    setReg(g, RAX, 4, q | 0, 0);
    setReg(g, RDX, 4, rem | 0, 0);
  } else {
    let n = (toBig(g[2 * RDX]!, g[2 * RDX + 1]!) << 64n) | toBig(g[2 * RAX]!, g[2 * RAX + 1]!);
    let d = toBig(src, srcHi);
    if (d === 0n) return FAULT_DE;
    if (signed) {
      n = BigInt.asIntN(128, n);
      d = BigInt.asIntN(64, d);
    }
    const q = n / d;
    const rem = n % d;
    if (signed ? q >= 1n << 63n || q < -(1n << 63n) : q >= 1n << 64n) return FAULT_DE;
    setRegBig(g, RAX, q);
    setRegBig(g, RDX, rem);
  }
  r.rip += insn.length;
  return null;
}
