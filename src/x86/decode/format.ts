/**
 * Intel-syntax text for a decoded Instruction, in the style of GNU objdump `-M intel`
 * (so decoder tests can compare with objdump, and traces read like a disassembly).
 * Not on any hot path: it builds strings.
 */
import { DecodeFault, HIGH_BYTE_BASE, Op, OperandKind as K, Prefix } from './instruction.ts';
import type { Instruction } from './instruction.ts';

const GPR64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const GPR8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];
const GPR8H = ['ah', 'ch', 'dh', 'bh'];
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', '?6', '?7'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const FCC = ['b', 'e', 'be', 'u', 'nb', 'ne', 'nbe', 'nu'];
const CMP_PRED = ['eq', 'lt', 'le', 'unord', 'neq', 'nlt', 'nle', 'ord',
  'eq_uq', 'nge', 'ngt', 'false', 'neq_oq', 'ge', 'gt', 'true', 'eq_os', 'lt_oq', 'le_oq', 'unord_s', 'neq_us',
  'nlt_uq', 'nle_uq', 'ord_s', 'eq_us', 'nge_uq', 'ngt_uq', 'false_os', 'neq_os', 'ge_oq', 'gt_oq', 'true_us'];
/** VEX-encoded general-purpose (BMI) instructions: no "v" prefix. */
const GPR_VEX = new Set<Op>([Op.ANDN, Op.BEXTR, Op.BLSI, Op.BLSMSK, Op.BLSR, Op.BZHI, Op.PDEP, Op.PEXT, Op.RORX,
  Op.SARX, Op.SHLX, Op.SHRX, Op.MULX]);
const PTR: Record<number, string> = {
  1: 'BYTE PTR ', 2: 'WORD PTR ', 4: 'DWORD PTR ', 6: 'FWORD PTR ', 8: 'QWORD PTR ', 10: 'TBYTE PTR ',
  16: 'XMMWORD PTR ', 32: 'YMMWORD PTR ',
};

export function gprName(r: number, size: number): string {
  if (r >= HIGH_BYTE_BASE) return GPR8H[r & 3]!;
  switch (size) {
    case 1: return GPR8[r]!;
    case 2: return GPR16[r]!;
    case 4: return GPR32[r]!;
    default: return GPR64[r]!;
  }
}

function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

function immValue(inst: Instruction, size: number): bigint {
  const v = (BigInt(inst.immHi) << 32n) | BigInt(inst.imm >>> 0);
  const bits = BigInt(size * 8);
  return BigInt.asUintN(Number(bits), v);
}

function addrRegName(r: number, addrSize: number): string {
  if (r === 16) return addrSize === 4 ? 'eip' : 'rip';
  return gprName(r, addrSize);
}

function memText(inst: Instruction, size: number, showSize: boolean, forceSeg = false): string {
  let s = showSize ? (PTR[size] ?? '') : '';
  // In long mode CS/DS/ES/SS overrides have no effect (SDM Vol. 1 §3.3.7.1); objdump then
  // prints them as prefix words rather than on the operand.
  // 3E on an indirect CALL/JMP is CET's NOTRACK, which objdump prints as a prefix word.
  const ov = (inst.mode === 64 && inst.segOverride >= 0 && inst.segOverride < 4)
    || (inst.segOverride === 3 && (inst.op === Op.CALL || inst.op === Op.JMP)) ? -1 : inst.segOverride;
  if (ov >= 0) s += SEGS[ov] + ':';
  else if (forceSeg) s += SEGS[inst.seg] + ':';
  const a = inst.addrSize;
  if (inst.base < 0 && inst.index < 0 && inst.sib >= 0 && (inst.scale !== 0 || inst.mode === 32 || (inst.mode === 64 && a === 4))) {
    // SIB with neither base nor index: objdump writes the scale on a pseudo index register.
    const d = inst.disp;
    // With addr32 in long mode objdump prints this displacement unsigned.
    const dt = inst.mode === 64 && a === 4 ? '+' + hex(d >>> 0) : d < 0 ? '-' + hex(-d) : '+' + hex(d);
    return s + '[' + (a === 4 ? 'eiz' : 'riz') + '*' + (1 << inst.scale) + dt + ']';
  }
  if (inst.base < 0 && inst.index < 0) {
    // Absolute address: objdump prints it with a segment (ds: by default).
    if (ov < 0 && !forceSeg) s += 'ds:';
    const full = (BigInt(inst.dispHi) << 32n) | BigInt(inst.disp >>> 0);
    return s + hex(BigInt.asUintN(a * 8, full));
  }
  let t = '[';
  if (inst.base >= 0) t += addrRegName(inst.base, a);
  if (inst.index >= 0) t += (inst.base >= 0 ? '+' : '') + addrRegName(inst.index, a) + (a === 2 ? '' : '*' + (1 << inst.scale));
  else if (inst.sib >= 0 && (inst.scale !== 0 || (inst.sib & 7) !== 4)) {
    // objdump shows a SIB whose index is "none" as riz/eiz unless it is the plain [rsp] form.
    t += (inst.base >= 0 ? '+' : '') + (a === 4 ? 'eiz' : 'riz') + '*' + (1 << inst.scale);
  }
  const dispEncoded = inst.mod === 1 || inst.mod === 2 || inst.base < 0 || inst.ripRel
    || (a === 2 && inst.mod === 0 && inst.base < 0);
  if (dispEncoded) {
    let d = inst.disp;
    if (a === 2) d = (d << 16) >> 16;
    if (inst.ripRel) t += '+' + hex(BigInt.asUintN(64, BigInt(d)));
    else if (d < 0) t += '-' + hex(-d);
    else t += '+' + hex(d);
  }
  return s + t + ']';
}

/** objdump marks a segment push/pop whose operand size is not the mode's default. */
function segPushSuffix(inst: Instruction): string {
  const def = inst.mode === 64 ? 8 : inst.mode / 8;
  if (inst.opSize === def) return '';
  return inst.opSize === 2 ? 'w' : 'd';
}

/** Mnemonic text (objdump spelling). */
export function mnemonic(inst: Instruction): string {
  const op = inst.op;
  const os = inst.opSize;
  const v = inst.vex && !GPR_VEX.has(op) ? 'v' : '';
  switch (op) {
    case Op.Jcc: return 'j' + CC[inst.cc];
    case Op.SETcc: return 'set' + CC[inst.cc];
    case Op.CMOVcc: return 'cmov' + CC[inst.cc];
    case Op.FCMOVcc: return 'fcmov' + FCC[inst.cc];
    case Op.CBW: return os === 2 ? 'cbw' : os === 4 ? 'cwde' : 'cdqe';
    case Op.CWD: return os === 2 ? 'cwd' : os === 4 ? 'cdq' : 'cqo';
    case Op.IRET: return os === 2 ? (inst.mode === 16 ? 'iret' : 'iretw') : os === 4 ? (inst.mode === 16 ? 'iretd' : 'iret') : 'iretq';
    case Op.PUSHF: case Op.POPF: {
      const b = op === Op.PUSHF ? 'pushf' : 'popf';
      if (inst.mode === 64) return os === 2 ? b + 'w' : b;
      if (inst.mode === 32) return os === 2 ? b + 'w' : b;
      return os === 4 ? b + 'd' : b;
    }
    case Op.PUSHA: case Op.POPA: {
      const b = op === Op.PUSHA ? 'pusha' : 'popa';
      if (inst.mode === 32) return os === 2 ? b + 'w' : b;
      return os === 4 ? b + 'd' : b;
    }
    case Op.JCXZ: return inst.addrSize === 2 ? 'jcxz' : inst.addrSize === 4 ? 'jecxz' : 'jrcxz';
    case Op.MOV_CR: case Op.MOV_DR: return 'mov';
    case Op.SGDT: case Op.SIDT: case Op.LGDT: case Op.LIDT:
      return Op[op]!.toLowerCase() + (inst.mode === 64 ? '' : os === 4 ? 'd' : 'w');
    case Op.SYSRET: case Op.SYSEXIT:
      return Op[op]!.toLowerCase() + (inst.mode === 64 ? (os === 8 ? 'q' : 'd') : '');
    case Op.POP:
      if (inst.o0 === K.Seg) return 'pop' + segPushSuffix(inst);
      return 'pop';
    case Op.LEAVE: case Op.ENTER:
      return Op[op]!.toLowerCase() + (inst.mode === 64 ? (os === 2 ? 'w' : '') : os !== inst.mode / 8 ? (os === 2 ? 'w' : 'd') : '');
    case Op.PUSH:
      if (inst.o0 === K.Seg) return 'push' + segPushSuffix(inst);
      if (inst.o0 === K.Imm) return 'push' + (os === 2 ? (inst.mode === 16 ? '' : 'w') : os === 4 && inst.mode === 16 ? 'd' : '');
      return 'push';
    case Op.MOVSD_X: return v + 'movsd';
    case Op.CMPSD_X: case Op.CMPPS: case Op.CMPPD: case Op.CMPSS: {
      const suffix = op === Op.CMPSD_X ? 'sd' : op === Op.CMPPS ? 'ps' : op === Op.CMPPD ? 'pd' : 'ss';
      const imm = inst.imm & 0xff;
      if (imm < (inst.vex ? 32 : 8)) return v + 'cmp' + CMP_PRED[imm] + suffix;
      return v + 'cmp' + suffix;
    }
    case Op.PCLMULQDQ: {
      const imm = inst.imm & 0xff;
      const names: Record<number, string> = { 0x00: 'lqlq', 0x01: 'hqlq', 0x10: 'lqhq', 0x11: 'hqhq' };
      return names[imm] ? v + 'pclmul' + names[imm] + 'dq' : v + 'pclmulqdq';
    }
    case Op.MOV:
      if (inst.mode === 64 && (inst.immSize === 8 || (inst.hasMem && !inst.hasModrm && inst.addrSize === 8))) return 'movabs';
      return 'mov';
    case Op.FXSAVE: case Op.FXRSTOR: case Op.XSAVE: case Op.XRSTOR: case Op.XSAVEOPT: case Op.XSAVEC:
    case Op.XSAVES: case Op.XRSTORS:
      return Op[op].toLowerCase() + (os === 8 ? '64' : '');
    case Op.ENDBR64: return 'endbr64';
    case Op.ENDBR32: return 'endbr32';
    case Op.RETF: return inst.mode === 64 ? (os === 8 ? 'retfq' : os === 2 ? 'retfw' : 'retf')
      : os === inst.mode / 8 ? 'retf' : os === 2 ? 'retfw' : 'retfd';
    case Op.JMPF: return 'jmp';
    case Op.CALLF: return 'call';
    case Op.WAIT: return 'fwait';
    case Op.INT1: return 'int1';
    case Op.INT3: return 'int3';
    case Op.FNENI: return 'fneni(8087 only)';
    case Op.FNDISI: return 'fndisi(8087 only)';
    case Op.FNSETPM: return 'fnsetpm(287 only)';
    case Op.FLDENV: case Op.FNSTENV: case Op.FRSTOR: case Op.FNSAVE: {
      // The environment layout follows 66 (REX.W does not apply to x87).
      const name = Op[op]!.toLowerCase();
      if (!(inst.prefixes & Prefix.OPSIZE)) return name;
      return name + (inst.mode === 16 ? 'd' : 'w');
    }
    case Op.PCMPESTRM: case Op.PCMPESTRI:
      return v + Op[op]!.toLowerCase() + (inst.mode === 64 && (inst.vex ? inst.vexW : inst.rex & 8) ? 'q' : '');
    case Op.CALL: case Op.JMP: case Op.RET: case Op.XBEGIN: {
      const name = Op[op]!.toLowerCase();
      if (inst.mode === 64 || (op !== Op.RET && op !== Op.XBEGIN && inst.o0 !== K.Rel) || inst.immSize === 1) return name;
      return name + (os === inst.mode / 8 ? '' : os === 2 ? 'w' : 'd');
    }
    default: {
      const name = Op[op]!.toLowerCase();
      return name.startsWith('v') && inst.vex ? name : v + name;
    }
  }
}

/** Operand text for operand i. `ip` is the address of the instruction (for branch targets). */
function operandText(inst: Instruction, i: number, ipb: bigint, showSize: boolean): string {
  const kind = inst.kindOf(i);
  const size = inst.sizeOf(i);
  switch (kind) {
    case K.Reg: return gprName(inst.reg, size);
    case K.Rm: return inst.hasMem ? memText(inst, size, showSize) : gprName(inst.rm, size);
    case K.Mem:
      if (inst.op === Op.CMPXCHG16B) return 'OWORD PTR ' + memText(inst, size, false);
      return memText(inst, size, showSize && inst.hasModrm);
    case K.Imm: return hex(immValue(inst, size));
    case K.Imm2: return hex(inst.imm2);
    case K.Rel: {
      const target = ipb + BigInt(inst.length) + ((BigInt(inst.immHi) << 32n) | BigInt(inst.imm >>> 0));
      // Display follows objdump: rel16 targets wrap at 64 KiB, rel8 targets are not truncated
      // (the CPU does truncate IP to 16 bits with a 16-bit operand size; SDM Jcc).
      // In 16-bit mode objdump keeps rel16 targets in the 64 KiB block of the instruction.
      if (inst.mode === 16 && inst.immSize === 2) return hex((ipb & ~0xffffn) | (target & 0xffffn));
      const bits = inst.mode === 64 ? 64 : inst.immSize === 2 && inst.mode === 32 ? 16 : 32;
      return hex(BigInt.asUintN(bits, target));
    }
    case K.Far: return hex(inst.imm2) + ':' + hex(inst.imm >>> 0);
    case K.Acc: return gprName(0, size);
    case K.Cl: return 'cl';
    case K.Dx: return 'dx';
    case K.One: return '1';
    case K.Seg: return SEGS[inst.reg]!;
    case K.Cr: return 'cr' + inst.reg;
    case K.Dr: return 'dr' + inst.reg;
    case K.Xmm: return (size === 32 ? 'ymm' : 'xmm') + inst.reg;
    case K.XmmRm: return inst.hasMem ? memText(inst, size, showSize) : (size === 32 || (inst.vecSize === 32 && size === 32) ? 'ymm' : 'xmm') + inst.rm;
    case K.XmmV: return (size === 32 ? 'ymm' : 'xmm') + inst.vvvv;
    case K.Mmx: return 'mm' + inst.reg;
    case K.MmxRm: return inst.hasMem ? memText(inst, size, showSize) : 'mm' + inst.rm;
    case K.GprV: return gprName(inst.vvvv, size);
    case K.St0: return 'st';
    case K.Sti: return 'st(' + inst.rm + ')';
    case K.Xmm0: return 'xmm0';
    case K.XmmIs4: return (size === 32 ? 'ymm' : 'xmm') + ((inst.imm >> 4) & (inst.mode === 64 ? 15 : 7));
    case K.StrSrc: {
      const s = inst.segOverride >= 0 && !(inst.mode === 64 && inst.segOverride < 4) ? SEGS[inst.segOverride] : 'ds';
      return (PTR[size] ?? '') + s + ':[' + gprName(6, inst.addrSize) + ']';
    }
    case K.StrDst: return (PTR[size] ?? '') + 'es:[' + gprName(7, inst.addrSize) + ']';
    default: return '?';
  }
}

/** Ops whose memory operand objdump prints without a size. */
const NO_PTR = new Set<Op>([
  Op.LEA, Op.LGDT, Op.LIDT, Op.SGDT, Op.SIDT, Op.FXSAVE, Op.FXRSTOR, Op.XSAVE, Op.XRSTOR,
  Op.XSAVEOPT, Op.XSAVEC, Op.XSAVES, Op.XRSTORS, Op.FLDENV, Op.FNSTENV, Op.FRSTOR, Op.FNSAVE, Op.LDDQU, Op.INVPCID,
]);

/**
 * Format as objdump-style Intel syntax: "mnemonic op1,op2". `ip` is the instruction's
 * address, used for relative branch targets.
 */
export function formatIntel(inst: Instruction, ip: bigint | number = 0n): string {
  if (inst.fault !== DecodeFault.None) return '(bad)';
  const ipb = typeof ip === 'bigint' ? ip : BigInt(ip);
  let m = mnemonic(inst);
  const isString = inst.o0 === K.StrDst || inst.o0 === K.StrSrc || inst.o1 === K.StrDst || inst.o1 === K.StrSrc;
  if (isString) {
    const cmpLike = inst.op === Op.CMPS || inst.op === Op.SCAS;
    if (inst.prefixes & Prefix.REP) m = (cmpLike ? 'repz ' : 'rep ') + m;
    else if (inst.prefixes & Prefix.REPNE) m = 'repnz ' + m;
  }
  if (inst.op === Op.XLAT) {
    const s = inst.segOverride >= 0 && !(inst.mode === 64 && inst.segOverride < 4) ? SEGS[inst.segOverride] : 'ds';
    return `xlat BYTE PTR ${s}:[${gprName(3, inst.addrSize)}]`;
  }
  if (inst.op === Op.NOP && inst.opcode === 0x90 && inst.map === 0 && (inst.prefixes & Prefix.OPSIZE)) {
    // 66 90 is still a NOP; objdump spells it as the XCHG it aliases.
    const r = gprName(0, inst.opSize);
    return `xchg ${r},${r}`;
  }
  const showSize = !NO_PTR.has(inst.op);
  const parts: string[] = [];
  for (let i = 0; i < inst.nOps; i++) parts.push(operandText(inst, i, ipb, showSize));
  // Pseudo-op mnemonics (cmpeqps, pclmullqlqdq) absorb the predicate immediate.
  if (m !== Op[inst.op]!.toLowerCase() && (inst.op === Op.CMPPS || inst.op === Op.CMPPD || inst.op === Op.CMPSS
    || inst.op === Op.CMPSD_X || inst.op === Op.PCLMULQDQ) && !/(^v?cmp(ps|pd|ss|sd)|pclmulqdq)$/.test(m)) parts.pop();
  return parts.length ? `${m} ${parts.join(',')}` : m;
}
