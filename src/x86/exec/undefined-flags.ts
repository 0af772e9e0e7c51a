/**
 * Status flags (and results) the Intel SDM leaves *undefined*, per instruction. Intel and AMD
 * CPUs really differ on these, so a comparison against hardware must ignore them, and guest
 * code cannot depend on them. One table, with the SDM Vol. 2 instruction page ("Flags
 * Affected") for each entry; Vol. 1 Appendix A (EFLAGS cross-reference) agrees.
 */
import { Op, type Instruction } from '../decode/instruction.ts';
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF } from '../cpu.ts';

const ALL = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;

/** Flags undefined regardless of operands. */
export const UNDEFINED_FLAGS: ReadonlyMap<Op, { flags: number; sdm: string }> = new Map([
  [Op.MUL, { flags: FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF, sdm: 'MUL: "The SF, ZF, AF, and PF flags are undefined."' }],
  [Op.IMUL, { flags: FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF, sdm: 'IMUL: "The SF, ZF, AF, and PF flags are undefined."' }],
  [Op.DIV, { flags: ALL, sdm: 'DIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined."' }],
  [Op.IDIV, { flags: ALL, sdm: 'IDIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined."' }],
  [Op.AND, { flags: FLAG_AF, sdm: 'AND: "The state of the AF flag is undefined."' }],
  [Op.OR, { flags: FLAG_AF, sdm: 'OR: "The state of the AF flag is undefined."' }],
  [Op.XOR, { flags: FLAG_AF, sdm: 'XOR: "The state of the AF flag is undefined."' }],
  [Op.TEST, { flags: FLAG_AF, sdm: 'TEST: "The state of the AF flag is undefined."' }],
  [Op.BT, { flags: FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF, sdm: 'BT: "The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined."' }],
  [Op.BTS, { flags: FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF, sdm: 'BTS: as BT' }],
  [Op.BTR, { flags: FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF, sdm: 'BTR: as BT' }],
  [Op.BTC, { flags: FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF, sdm: 'BTC: as BT' }],
  [Op.BSF, { flags: FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF, sdm: 'BSF: "The CF, OF, SF, AF, and PF flags are undefined."' }],
  [Op.BSR, { flags: FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF, sdm: 'BSR: "The CF, OF, SF, AF, and PF flags are undefined."' }],
  [Op.LZCNT, { flags: FLAG_OF | FLAG_SF | FLAG_PF | FLAG_AF, sdm: 'LZCNT: "OF, SF, PF and AF flags are undefined."' }],
  [Op.TZCNT, { flags: FLAG_OF | FLAG_SF | FLAG_PF | FLAG_AF, sdm: 'TZCNT: "OF, SF, PF and AF flags are undefined."' }],
  [Op.ANDN, { flags: FLAG_AF | FLAG_PF, sdm: 'ANDN: "The AF and PF flags are undefined."' }],
  [Op.BEXTR, { flags: FLAG_AF | FLAG_SF | FLAG_PF, sdm: 'BEXTR: "The AF, SF and PF flags are undefined."' }],
  [Op.BLSI, { flags: FLAG_AF | FLAG_PF, sdm: 'BLSI: "The AF and PF flags are undefined."' }],
  [Op.BLSMSK, { flags: FLAG_AF | FLAG_PF, sdm: 'BLSMSK: "AF and PF flags are undefined."' }],
  [Op.BLSR, { flags: FLAG_AF | FLAG_PF, sdm: 'BLSR: "The AF and PF flags are undefined."' }],
  [Op.BZHI, { flags: FLAG_AF | FLAG_PF, sdm: 'BZHI: "The AF and PF flags are undefined."' }],
]);

export interface Undefined {
  /** Status-flag bits whose value is undefined after this execution. */
  flags: number;
  /** True when the destination's value is undefined too. */
  result: boolean;
}

/**
 * Undefined flags/result of one execution. `count` is the shift/rotate count operand before
 * masking (CL or imm8), ignored for other instructions.
 */
export function undefinedAfter(insn: Instruction, count = 0): Undefined {
  const fixed = UNDEFINED_FLAGS.get(insn.op);
  if (fixed) return { flags: fixed.flags, result: false };
  const bits = insn.s0 * 8;
  const masked = count & (bits === 64 ? 0x3f : 0x1f);
  switch (insn.op) {
    case Op.SHL:
    case Op.SAL:
    case Op.SHR:
    case Op.SAR: {
      // SAL/SAR/SHL/SHR: "The OF flag is affected only for 1-bit shifts ... otherwise undefined.
      // ... The AF flag is undefined for a non-zero count." "The CF flag ... is undefined for SHL
      // and SHR instructions where the count is greater than or equal to the size (in bits) of
      // the destination operand." Count 0: "the flags are not affected".
      if (masked === 0) return { flags: 0, result: false };
      let f = FLAG_AF | (masked !== 1 ? FLAG_OF : 0);
      if (masked >= bits && insn.op !== Op.SAR) f |= FLAG_CF;
      return { flags: f, result: false };
    }
    case Op.ROL:
    case Op.ROR:
    case Op.RCL:
    case Op.RCR:
      // RCL/RCR/ROL/ROR: "The OF flag is defined only for the 1-bit rotates; it is undefined in
      // all other cases (except RCL and RCR instructions only: a zero-bit rotate does nothing)."
      return { flags: masked !== 1 && masked !== 0 ? FLAG_OF : 0, result: false };
    case Op.SHLD:
    case Op.SHRD:
      // SHLD/SHRD: "If the count is greater than the operand size, the result is undefined"
      // and so are all flags; OF only for 1-bit shifts; AF undefined.
      if (masked === 0) return { flags: 0, result: false };
      if (masked > bits) return { flags: ALL, result: true };
      return { flags: FLAG_AF | (masked !== 1 ? FLAG_OF : 0), result: false };
    case Op.BSWAP:
      // BSWAP: "When the BSWAP instruction references a 16-bit register, the result is undefined."
      return { flags: 0, result: insn.s0 === 2 };
    default:
      return { flags: 0, result: false };
  }
}
