/**
 * x86 instruction decoder: public API.
 *
 *   decodeInto(bytes, offset, mode, out, limit?) → DecodeFault   (no allocation)
 *   decode(bytes, offset, mode, limit?) → Instruction             (allocates)
 *   formatIntel(inst, ip?) → string                               (objdump-style text)
 *
 * The decoded form is documented in instruction.ts.
 */
export { decode, decodeInto } from './decoder.ts';
export { formatIntel, gprName, mnemonic } from './format.ts';
export {
  DecodeFault, HIGH_BYTE_BASE, Instruction, NO_SEG, Op, OpMap, OperandKind, Prefix, Reg, Seg,
} from './instruction.ts';
export type { DecodeMode } from './instruction.ts';
