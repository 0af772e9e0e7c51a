/**
 * The executor: runs one decoded Instruction against an X86Cpu.
 *
 *   execute(cpu, insn) → null (retired: RIP advanced or branched) | X86Fault | RETRY | UNSUPPORTED
 *
 * Dispatch is a table of handlers indexed by Op (no switch over enum members, which V8 would
 * compile as a chain of comparisons). `handlerFor(insn)` returns the handler for an
 * instruction — a specialised one for the hottest register/immediate forms — so a
 * decoded-block cache can store it next to the Instruction and skip the lookup entirely.
 * Faults are values; nothing here throws for a guest condition.
 */
import { DecodeFault, Op, type Instruction } from '../decode/instruction.ts';
import { FAULT_GP0, FAULT_UD, RAX, RCX, RDX, RBX, type X86Cpu } from '../cpu.ts';
import { ALU_ADC, ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SBB, ALU_SUB, ALU_TEST, ALU_XOR, execBinary, execUnary } from './alu.ts';
import { BT_COMPLEMENT, BT_RESET, BT_SET, BT_TEST, execBitScan, execBt, SCAN_BSF, SCAN_BSR, SCAN_LZCNT, SCAN_POPCNT, SCAN_TZCNT } from './bits.ts';
import {
  execCall, execCliSti, execEnter, execFlagOp, execJcc, execJcxz, execJmp, execLahfSahf, execLeave, execLoop, execNop,
  execPop, execPopf, execPush, execPushf, execRet,
} from './control.ts';
import { execIn, execOut } from './io.ts';
import {
  execBswap, execCbw, execCmov, execCmpxchg, execCmpxchgWide, execCwd, execLea, execMov, execMovbe, execMovExtend,
  execSetcc, execXadd, execXchg, execXlat,
} from './mov.ts';
import { execDiv, execImulTrunc, execMulAcc } from './muldiv.ts';
import { RETRY, UNSUPPORTED, type ExecResult } from './result.ts';
import { execShift, execShiftDouble, SH_RCL, SH_RCR, SH_ROL, SH_ROR, SH_SAR, SH_SHL, SH_SHR } from './shift.ts';
import { execMovdq, execMovXmm128 } from './sse.ts';
import { execString, STR_CMPS, STR_INS, STR_LODS, STR_MOVS, STR_OUTS, STR_SCAS, STR_STOS } from './string.ts';
import { execCpuid, execRdmsr, execWrmsr } from './system.ts';
import { fastHandler } from './fast.ts';
import { execBmi } from './bmi.ts';

export type Handler = (cpu: X86Cpu, insn: Instruction) => ExecResult;

const unsupported: Handler = () => UNSUPPORTED;

const opCount = Math.max(...Object.values(Op).filter((v): v is number => typeof v === 'number')) + 1;
const HANDLERS: Handler[] = new Array<Handler>(opCount).fill(unsupported);

function on(op: Op, h: Handler): void {
  HANDLERS[op] = h;
}

// Arithmetic and logic (alu.ts)
on(Op.ADD, (c, i) => execBinary(c, i, ALU_ADD));
on(Op.OR, (c, i) => execBinary(c, i, ALU_OR));
on(Op.ADC, (c, i) => execBinary(c, i, ALU_ADC));
on(Op.SBB, (c, i) => execBinary(c, i, ALU_SBB));
on(Op.AND, (c, i) => execBinary(c, i, ALU_AND));
on(Op.SUB, (c, i) => execBinary(c, i, ALU_SUB));
on(Op.XOR, (c, i) => execBinary(c, i, ALU_XOR));
on(Op.CMP, (c, i) => execBinary(c, i, ALU_CMP));
on(Op.TEST, (c, i) => execBinary(c, i, ALU_TEST));
on(Op.INC, (c, i) => execUnary(c, i, 'inc'));
on(Op.DEC, (c, i) => execUnary(c, i, 'dec'));
on(Op.NEG, (c, i) => execUnary(c, i, 'neg'));
on(Op.NOT, (c, i) => execUnary(c, i, 'not'));
// Multiply and divide (muldiv.ts)
on(Op.MUL, (c, i) => execMulAcc(c, i, false));
on(Op.IMUL, (c, i) => (i.nOps === 1 ? execMulAcc(c, i, true) : execImulTrunc(c, i)));
on(Op.DIV, (c, i) => execDiv(c, i, false));
on(Op.IDIV, (c, i) => execDiv(c, i, true));
// Shifts and rotates (shift.ts)
on(Op.ROL, (c, i) => execShift(c, i, SH_ROL));
on(Op.ROR, (c, i) => execShift(c, i, SH_ROR));
on(Op.RCL, (c, i) => execShift(c, i, SH_RCL));
on(Op.RCR, (c, i) => execShift(c, i, SH_RCR));
on(Op.SHL, (c, i) => execShift(c, i, SH_SHL));
on(Op.SAL, (c, i) => execShift(c, i, SH_SHL));
on(Op.SHR, (c, i) => execShift(c, i, SH_SHR));
on(Op.SAR, (c, i) => execShift(c, i, SH_SAR));
on(Op.SHLD, (c, i) => execShiftDouble(c, i, true));
on(Op.SHRD, (c, i) => execShiftDouble(c, i, false));
// Bits (bits.ts)
on(Op.BT, (c, i) => execBt(c, i, BT_TEST));
on(Op.BTS, (c, i) => execBt(c, i, BT_SET));
on(Op.BTR, (c, i) => execBt(c, i, BT_RESET));
on(Op.BTC, (c, i) => execBt(c, i, BT_COMPLEMENT));
on(Op.BSF, (c, i) => execBitScan(c, i, SCAN_BSF));
on(Op.BSR, (c, i) => execBitScan(c, i, SCAN_BSR));
on(Op.TZCNT, (c, i) => execBitScan(c, i, SCAN_TZCNT));
on(Op.LZCNT, (c, i) => execBitScan(c, i, SCAN_LZCNT));
on(Op.POPCNT, (c, i) => execBitScan(c, i, SCAN_POPCNT));
// Data movement (mov.ts)
on(Op.MOV, execMov);
on(Op.MOVNTI, execMov);
on(Op.MOVZX, (c, i) => execMovExtend(c, i, false));
on(Op.MOVSX, (c, i) => execMovExtend(c, i, true));
on(Op.MOVSXD, (c, i) => execMovExtend(c, i, true));
on(Op.LEA, execLea);
on(Op.MOVBE, execMovbe);
on(Op.BSWAP, execBswap);
on(Op.XCHG, execXchg);
on(Op.XADD, execXadd);
on(Op.CMPXCHG, execCmpxchg);
on(Op.CMPXCHG8B, execCmpxchgWide);
on(Op.CMPXCHG16B, execCmpxchgWide);
on(Op.CBW, execCbw);
on(Op.CWD, execCwd);
on(Op.CMOVcc, execCmov);
on(Op.SETcc, execSetcc);
on(Op.XLAT, execXlat);
// Control flow and stack (control.ts)
on(Op.JMP, execJmp);
on(Op.Jcc, execJcc);
on(Op.JCXZ, execJcxz);
on(Op.LOOP, (c, i) => execLoop(c, i, 0));
on(Op.LOOPE, (c, i) => execLoop(c, i, 1));
on(Op.LOOPNE, (c, i) => execLoop(c, i, 2));
on(Op.CALL, execCall);
on(Op.RET, execRet);
on(Op.PUSH, execPush);
on(Op.POP, execPop);
on(Op.PUSHF, execPushf);
on(Op.POPF, execPopf);
on(Op.ENTER, execEnter);
on(Op.LEAVE, execLeave);
on(Op.CLC, (c, i) => execFlagOp(c, i, 'clc'));
on(Op.STC, (c, i) => execFlagOp(c, i, 'stc'));
on(Op.CMC, (c, i) => execFlagOp(c, i, 'cmc'));
on(Op.CLD, (c, i) => execFlagOp(c, i, 'cld'));
on(Op.STD, (c, i) => execFlagOp(c, i, 'std'));
on(Op.LAHF, (c, i) => execLahfSahf(c, i, true));
on(Op.SAHF, (c, i) => execLahfSahf(c, i, false));
on(Op.CLI, (c, i) => execCliSti(c, i, false));
on(Op.STI, (c, i) => execCliSti(c, i, true));
on(Op.NOP, execNop);
on(Op.PAUSE, execNop);
on(Op.ENDBR64, execNop);
on(Op.ENDBR32, execNop);
on(Op.LFENCE, execNop);
on(Op.MFENCE, execNop);
on(Op.SFENCE, execNop);
on(Op.PREFETCH, execNop);
on(Op.PREFETCHW, execNop);
on(Op.PREFETCHNTA, execNop);
on(Op.PREFETCHT0, execNop);
on(Op.PREFETCHT1, execNop);
on(Op.PREFETCHT2, execNop);
on(Op.UD0, () => FAULT_UD);
on(Op.UD1, () => FAULT_UD);
on(Op.UD2, () => FAULT_UD);
// Strings (string.ts)
on(Op.MOVS, (c, i) => execString(c, i, STR_MOVS));
on(Op.CMPS, (c, i) => execString(c, i, STR_CMPS));
on(Op.STOS, (c, i) => execString(c, i, STR_STOS));
on(Op.LODS, (c, i) => execString(c, i, STR_LODS));
on(Op.SCAS, (c, i) => execString(c, i, STR_SCAS));
on(Op.INS, (c, i) => execString(c, i, STR_INS));
on(Op.OUTS, (c, i) => execString(c, i, STR_OUTS));
// Port I/O (io.ts)
on(Op.IN, execIn);
on(Op.OUT, execOut);
// SSE moves (sse.ts)
on(Op.MOVUPS, (c, i) => execMovXmm128(c, i, false));
on(Op.MOVUPD, (c, i) => execMovXmm128(c, i, false));
on(Op.MOVDQU, (c, i) => execMovXmm128(c, i, false));
on(Op.LDDQU, (c, i) => execMovXmm128(c, i, false));
on(Op.MOVAPS, (c, i) => execMovXmm128(c, i, true));
on(Op.MOVAPD, (c, i) => execMovXmm128(c, i, true));
on(Op.MOVDQA, (c, i) => execMovXmm128(c, i, true));
on(Op.MOVNTPS, (c, i) => execMovXmm128(c, i, true));
on(Op.MOVNTPD, (c, i) => execMovXmm128(c, i, true));
on(Op.MOVNTDQ, (c, i) => execMovXmm128(c, i, true));
on(Op.MOVNTDQA, (c, i) => execMovXmm128(c, i, true));
on(Op.MOVD, execMovdq);
on(Op.MOVQ, execMovdq);
// BMI1/BMI2/ADX (bmi.ts)
for (const op of [Op.ANDN, Op.BEXTR, Op.BLSI, Op.BLSMSK, Op.BLSR, Op.BZHI, Op.SHLX, Op.SHRX, Op.SARX, Op.RORX, Op.MULX, Op.PDEP, Op.PEXT, Op.ADCX, Op.ADOX]) on(op, execBmi);
// System hooks (system.ts)
on(Op.CPUID, execCpuid);
on(Op.RDMSR, execRdmsr);
on(Op.WRMSR, execWrmsr);

void RAX; void RCX; void RDX; void RBX;

/** Maps a decode failure to the guest fault it stands for. */
function decodeFault(_cpu: X86Cpu, insn: Instruction): ExecResult {
  return insn.fault === DecodeFault.GeneralProtection ? FAULT_GP0 : FAULT_UD;
}

/**
 * Executes one decoded instruction. `insn.fault` must not be Truncated (fetch more bytes first).
 * Returns null when it retired, a fault, RETRY (not retired; run again), or UNSUPPORTED.
 */
export function execute(cpu: X86Cpu, insn: Instruction): ExecResult {
  if (insn.fault !== DecodeFault.None) return decodeFault(cpu, insn);
  const res = HANDLERS[insn.op]!(cpu, insn);
  if (insn.mode !== 64 && res === null) {
    // EIP wraps at 4 GiB outside long mode (and IP at 64 KiB for 16-bit operand size).
    const r = cpu.regs;
    r.rip = insn.opSize === 2 && insn.mode === 16 ? r.rip & 0xffff : r.rip >>> 0;
  }
  return res;
}

/**
 * The handler to cache with a decoded instruction: a specialised fast handler for the
 * commonest 64-bit-mode register/immediate forms, else the generic one (which, outside long
 * mode, also applies the IP wrap of execute()).
 */
export function handlerFor(insn: Instruction): Handler {
  if (insn.fault !== DecodeFault.None) return decodeFault;
  if (insn.mode !== 64) return execute;
  return fastHandler(insn) ?? HANDLERS[insn.op]!;
}

/** True when the executor has a handler for this Op (decoder coverage tests use it). */
export function isImplemented(op: Op): boolean {
  return HANDLERS[op] !== unsupported;
}

export { RETRY, UNSUPPORTED };
