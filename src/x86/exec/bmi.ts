/**
 * BMI1/BMI2/ADX general-purpose instructions (Intel SDM Vol. 2): ANDN, BEXTR, BLSI, BLSMSK,
 * BLSR, BZHI, SHLX, SHRX, SARX, RORX, MULX, PDEP, PEXT, ADCX, ADOX. VEX-encoded; `vvvv` is an
 * operand (OperandKind.GprV). Rare enough that BigInt arithmetic is fine here.
 * Flags per each page's "Flags Affected"; the undefined ones are in undefined-flags.ts.
 */
import type { Instruction } from '../decode/instruction.ts';
import { Op } from '../decode/instruction.ts';
import { FLAG_CF, FLAG_OF, FLAG_SF, FLAG_ZF, RDX, type X86Cpu } from '../cpu.ts';
import { getCF, getOF, setFlags } from './flags.ts';
import { getReg, readOperand, setReg, V } from './operands.ts';
import type { ExecResult } from './result.ts';

const OK_GPRV = 20;

function big(lo: number, hi: number, size: number): bigint {
  const v = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  return size === 8 ? v : v & 0xffffffffn;
}

function put(cpu: X86Cpu, n: number, size: number, v: bigint): void {
  setReg(cpu.regs.gpr, n, size, Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)));
}

function read(cpu: X86Cpu, insn: Instruction, kind: number, size: number): bigint | ExecResult {
  if (kind === OK_GPRV) {
    const lo = getReg(cpu.regs.gpr, insn.vvvv, size);
    return big(lo, V.hi, size);
  }
  const f = readOperand(cpu, insn, kind, size);
  if (f !== null) return f;
  return big(V.lo, V.hi, size);
}

export function execBmi(cpu: X86Cpu, insn: Instruction): ExecResult {
  const size = insn.s0 === 8 ? 8 : 4;
  const bits = BigInt(size * 8);
  const mask = (1n << bits) - 1n;
  const r = cpu.regs;
  const sign = (v: bigint) => ((v >> (bits - 1n)) & 1n ? FLAG_SF : 0);
  const zero = (v: bigint) => (v === 0n ? FLAG_ZF : 0);
  const ALL = FLAG_CF | FLAG_OF | FLAG_SF | FLAG_ZF | 0x14;
  const a = read(cpu, insn, insn.o1, size);
  if (typeof a !== 'bigint') return a;
  const b = insn.o2 !== 0 ? read(cpu, insn, insn.o2, insn.o2 === 4 ? 1 : size) : 0n;
  if (typeof b !== 'bigint') return b;
  let res: bigint;
  let dst = insn.o0 === OK_GPRV ? insn.vvvv : insn.reg;
  switch (insn.op) {
    case Op.ANDN:
      res = ~a & b & mask;
      setFlags(r, ALL, sign(res) | zero(res));
      break;
    case Op.BEXTR: {
      const start = b & 0xffn, len = (b >> 8n) & 0xffn;
      res = start >= bits ? 0n : (a >> start) & (len >= bits ? mask : (1n << len) - 1n);
      setFlags(r, ALL, zero(res));
      break;
    }
    case Op.BLSI:
      res = -a & a & mask;
      setFlags(r, ALL, sign(res) | zero(res) | (a !== 0n ? FLAG_CF : 0));
      break;
    case Op.BLSMSK:
      res = ((a - 1n) ^ a) & mask;
      setFlags(r, ALL, sign(res) | (a === 0n ? FLAG_CF : 0));
      break;
    case Op.BLSR:
      res = ((a - 1n) & a) & mask;
      setFlags(r, ALL, sign(res) | zero(res) | (a === 0n ? FLAG_CF : 0));
      break;
    case Op.BZHI: {
      const n = b & 0xffn;
      res = n < bits ? a & ((1n << n) - 1n) : a;
      setFlags(r, ALL, sign(res) | zero(res) | (n > bits - 1n ? FLAG_CF : 0));
      break;
    }
    case Op.SHLX:
      res = (a << (b & (bits - 1n))) & mask;
      break;
    case Op.SHRX:
      res = a >> (b & (bits - 1n));
      break;
    case Op.SARX: {
      const s = BigInt.asIntN(Number(bits), a);
      res = (s >> (b & (bits - 1n))) & mask;
      break;
    }
    case Op.RORX: {
      const n = BigInt(insn.imm) & (bits - 1n);
      res = ((a >> n) | (a << (bits - n))) & mask;
      break;
    }
    case Op.MULX: {
      // dest1 (reg) = high half, dest2 (vvvv) = low half of rDX · src; high wins if equal.
      const d = big(cpu.regs.gpr[2 * RDX]!, cpu.regs.gpr[2 * RDX + 1]!, size);
      const p = d * b;
      put(cpu, insn.vvvv, size, p & mask);
      res = p >> bits;
      dst = insn.reg;
      break;
    }
    case Op.PDEP: {
      // deposit the low bits of a (src1 = vvvv) at the set bits of the mask b (r/m)
      res = 0n;
      let k = 0n;
      for (let i = 0n; i < bits; i++) {
        if ((b >> i) & 1n) {
          if ((a >> k) & 1n) res |= 1n << i;
          k++;
        }
      }
      break;
    }
    case Op.PEXT: {
      res = 0n;
      let k = 0n;
      for (let i = 0n; i < bits; i++) {
        if ((b >> i) & 1n) {
          if ((a >> i) & 1n) res |= 1n << k;
          k++;
        }
      }
      break;
    }
    case Op.ADCX:
    case Op.ADOX: {
      const x = insn.op === Op.ADCX;
      const d = big(getReg(r.gpr, insn.reg, size), V.hi, size);
      const sum = d + a + BigInt(x ? getCF(r) : getOF(r));
      res = sum & mask;
      setFlags(r, x ? FLAG_CF : FLAG_OF, sum > mask ? (x ? FLAG_CF : FLAG_OF) : 0);
      break;
    }
    default:
      return null;
  }
  put(cpu, dst, size, res);
  r.rip += insn.length;
  return null;
}
