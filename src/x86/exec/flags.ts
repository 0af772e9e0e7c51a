/**
 * Lazy arithmetic flags (the technique Bochs and QEMU use): an ALU instruction records what it
 * did — operation kind, operand size, both operands and the result — in X86Registers.lazy*, and
 * CF/PF/AF/ZF/SF/OF are derived only when read. A `dec ecx; jnz` loop then costs four field
 * stores and one compare instead of six flag computations per instruction.
 *
 * lazyOp = (kind << 2) | sizeLog, sizeLog 0..3 for 8/16/32/64-bit; 0 means "flagsBase is exact".
 * Operands of 8/16-bit operations are stored masked to their size, 32-bit ones as int32 bit
 * patterns; 64-bit ones use the *Hi fields for bits 63:32.
 *
 * Definitions follow Intel SDM Vol. 1 §3.4.3.1 and Appendix A (EFLAGS cross-reference):
 *  CF: unsigned carry/borrow out of the top bit; OF: signed overflow;
 *  AF: carry/borrow out of bit 3; PF: even parity of the low 8 bits of the result.
 */
import type { X86Registers } from '../cpu.ts';

export const K_ADD = 1, K_ADC = 2, K_SUB = 3, K_SBB = 4, K_LOGIC = 5, K_INC = 6, K_DEC = 7, K_NEG = 8;

/** PARITY[b] = PF for a result whose low byte is b (1 when the number of set bits is even). */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let v = i, n = 0;
  while (v) {
    n += v & 1;
    v >>= 1;
  }
  PARITY[i] = n & 1 ? 0 : 1;
}

/** Size masks for 8/16/32-bit values as int32 patterns (index = sizeLog). */
export const SIZE_MASK = [0xff, 0xffff, -1, -1] as const;

function signBit(x: number, xHi: number, sz: number): number {
  switch (sz) {
    case 0: return (x >> 7) & 1;
    case 1: return (x >> 15) & 1;
    case 2: return x >>> 31;
    default: return xHi >>> 31;
  }
}

/** Unsigned a < b for 64-bit pairs (hi, lo). */
function ltu64(aHi: number, a: number, bHi: number, b: number): number {
  const ah = aHi >>> 0, bh = bHi >>> 0;
  return ah < bh || (ah === bh && a >>> 0 < b >>> 0) ? 1 : 0;
}

export function getCF(r: X86Registers): number {
  const op = r.lazyOp;
  if (op === 0) return r.flagsBase & 1;
  const sz = op & 3;
  switch (op >> 2) {
    case K_ADD:
      return sz === 3 ? ltu64(r.lazyResHi, r.lazyRes, r.lazyAHi, r.lazyA) : r.lazyRes >>> 0 < r.lazyA >>> 0 ? 1 : 0;
    case K_ADC:
      return sz === 3 ? 1 - ltu64(r.lazyAHi, r.lazyA, r.lazyResHi, r.lazyRes) : r.lazyRes >>> 0 <= r.lazyA >>> 0 ? 1 : 0;
    case K_SUB:
      return sz === 3 ? ltu64(r.lazyAHi, r.lazyA, r.lazyBHi, r.lazyB) : r.lazyA >>> 0 < r.lazyB >>> 0 ? 1 : 0;
    case K_SBB:
      return sz === 3 ? 1 - ltu64(r.lazyBHi, r.lazyB, r.lazyAHi, r.lazyA) : r.lazyA >>> 0 <= r.lazyB >>> 0 ? 1 : 0;
    case K_NEG:
      return (r.lazyB | (sz === 3 ? r.lazyBHi : 0)) !== 0 ? 1 : 0;
    case K_LOGIC:
      return 0;
    default: // INC, DEC leave CF alone; the executor made it exact in flagsBase
      return r.flagsBase & 1;
  }
}

export function getZF(r: X86Registers): number {
  const op = r.lazyOp;
  if (op === 0) return (r.flagsBase >> 6) & 1;
  switch (op & 3) {
    case 0: return (r.lazyRes & 0xff) === 0 ? 1 : 0;
    case 1: return (r.lazyRes & 0xffff) === 0 ? 1 : 0;
    case 2: return r.lazyRes === 0 ? 1 : 0;
    default: return (r.lazyRes | r.lazyResHi) === 0 ? 1 : 0;
  }
}

export function getSF(r: X86Registers): number {
  const op = r.lazyOp;
  if (op === 0) return (r.flagsBase >> 7) & 1;
  return signBit(r.lazyRes, r.lazyResHi, op & 3);
}

export function getPF(r: X86Registers): number {
  if (r.lazyOp === 0) return (r.flagsBase >> 2) & 1;
  return PARITY[r.lazyRes & 0xff]!;
}

export function getAF(r: X86Registers): number {
  const op = r.lazyOp;
  if (op === 0) return (r.flagsBase >> 4) & 1;
  // Logic ops leave AF undefined (SDM: AND/OR/XOR/TEST "AF is undefined"); we report 0.
  if (op >> 2 === K_LOGIC) return 0;
  return ((r.lazyA ^ r.lazyB ^ r.lazyRes) >> 4) & 1;
}

export function getOF(r: X86Registers): number {
  const op = r.lazyOp;
  if (op === 0) return (r.flagsBase >> 11) & 1;
  const sz = op & 3;
  switch (op >> 2) {
    case K_ADD: case K_ADC: case K_INC:
      return signBit((r.lazyA ^ r.lazyRes) & (r.lazyB ^ r.lazyRes), (r.lazyAHi ^ r.lazyResHi) & (r.lazyBHi ^ r.lazyResHi), sz);
    case K_SUB: case K_SBB: case K_DEC: case K_NEG:
      return signBit((r.lazyA ^ r.lazyB) & (r.lazyA ^ r.lazyRes), (r.lazyAHi ^ r.lazyBHi) & (r.lazyAHi ^ r.lazyResHi), sz);
    default:
      return 0;
  }
}

/** Folds the lazy status flags into flagsBase (lazyOp becomes 0). */
export function flagsMaterialize(r: X86Registers): void {
  if (r.lazyOp === 0) return;
  const f =
    getCF(r) | (getPF(r) << 2) | (getAF(r) << 4) | (getZF(r) << 6) | (getSF(r) << 7) | (getOF(r) << 11);
  r.flagsBase = (r.flagsBase & ~0x8d5) | f;
  r.lazyOp = 0;
}

/** Sets the status flags in `mask` to `bits` (others kept), after materializing lazy state. */
export function setFlags(r: X86Registers, mask: number, bits: number): void {
  if (r.lazyOp !== 0 && (mask & 0x8d5) !== 0x8d5) flagsMaterialize(r);
  r.flagsBase = (r.flagsBase & ~mask) | (bits & mask);
  r.lazyOp = 0;
}

/** Before INC/DEC: make CF exact in flagsBase (they preserve it). */
export function keepCarry(r: X86Registers): void {
  if (r.lazyOp !== 0) r.flagsBase = (r.flagsBase & ~1) | getCF(r);
}

/**
 * Evaluates condition code `cc` (Intel SDM Vol. 1 Appendix B, Table B-1): the low 4 bits of
 * Jcc/SETcc/CMOVcc opcodes. Returns true when the condition holds.
 */
export function testCondition(r: X86Registers, cc: number): boolean {
  let v: number;
  switch (cc >> 1) {
    case 0: v = getOF(r); break; // O
    case 1: v = getCF(r); break; // B / C / NAE
    case 2: v = getZF(r); break; // E / Z
    case 3: v = getCF(r) | getZF(r); break; // BE / NA
    case 4: v = getSF(r); break; // S
    case 5: v = getPF(r); break; // P / PE
    case 6: v = getSF(r) ^ getOF(r); break; // L / NGE
    default: v = getZF(r) | (getSF(r) ^ getOF(r)); break; // LE / NG
  }
  return (v ^ (cc & 1)) === 1;
}
