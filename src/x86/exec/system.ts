/**
 * The system instructions that go through X86Cpu hooks: CPUID, RDMSR, WRMSR (Intel SDM Vol. 2).
 * The rest of the system ISA (descriptor tables, control registers, SYSCALL, IRET, HLT, ...)
 * executes against the software CPU's system-state interface, which is built separately.
 */
import type { Instruction } from '../decode/instruction.ts';
import { FAULT_GP0, RAX, RBX, RCX, RDX, type X86Cpu } from '../cpu.ts';
import { setReg } from './operands.ts';
import type { ExecResult } from './result.ts';

const OUT = new Uint32Array(4);

/** CPUID: leaf EAX, subleaf ECX; results zero-extend into RAX, RBX, RCX, RDX. */
export function execCpuid(cpu: X86Cpu, insn: Instruction): ExecResult {
  const g = cpu.regs.gpr;
  OUT.fill(0);
  cpu.cpuid(g[2 * RAX]! >>> 0, g[2 * RCX]! >>> 0, OUT);
  setReg(g, RAX, 4, OUT[0]! | 0, 0);
  setReg(g, RBX, 4, OUT[1]! | 0, 0);
  setReg(g, RCX, 4, OUT[2]! | 0, 0);
  setReg(g, RDX, 4, OUT[3]! | 0, 0);
  cpu.regs.rip += insn.length;
  return null;
}

/** RDMSR: CPL 0 only (#GP(0)); EDX:EAX = MSR[ECX]. */
export function execRdmsr(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  if (r.cpl !== 0) return FAULT_GP0;
  const v = cpu.readMsr(r.gpr[2 * RCX]! >>> 0);
  if (typeof v !== 'bigint') return v;
  setReg(r.gpr, RAX, 4, Number(v & 0xffffffffn) | 0, 0);
  setReg(r.gpr, RDX, 4, Number((v >> 32n) & 0xffffffffn) | 0, 0);
  r.rip += insn.length;
  return null;
}

/** WRMSR: CPL 0 only (#GP(0)); MSR[ECX] = EDX:EAX. */
export function execWrmsr(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  if (r.cpl !== 0) return FAULT_GP0;
  const g = r.gpr;
  const v = (BigInt(g[2 * RDX]! >>> 0) << 32n) | BigInt(g[2 * RAX]! >>> 0);
  const f = cpu.writeMsr(g[2 * RCX]! >>> 0, v);
  if (f !== null) return f;
  r.rip += insn.length;
  return null;
}
