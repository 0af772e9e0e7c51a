/**
 * IN and OUT (non-string) (Intel SDM Vol. 2 "IN", "OUT"). Port from imm8 or DX; data in
 * AL/AX/EAX. A 32-bit IN zero-extends into RAX; 8/16-bit IN keeps the rest of RAX (unlike
 * OpenVMM's fast path, which clears RAX[63:32] — hardware does not).
 * Privilege: #GP(0) when CPL > IOPL in protected mode; the TSS I/O bitmap is not consulted.
 * On a hypervisor's I/O exit the hardware has done both checks (`X86Cpu.ioPermissionChecked`).
 */
import type { Instruction } from '../decode/instruction.ts';
import { FAULT_GP0, FLAG_IOPL, RAX, type X86Cpu, type X86Registers } from '../cpu.ts';
import { getReg, OK_DX, setReg } from './operands.ts';
import type { ExecResult } from './result.ts';

export function ioAllowed(r: X86Registers): boolean {
  return (r.cr0 & 1) === 0 || r.cpl <= (r.flagsBase & FLAG_IOPL) >> 12;
}

/** ioAllowed, unless the access already passed the hardware's IOPL/bitmap checks. */
export function ioPermitted(cpu: X86Cpu): boolean {
  return cpu.ioPermissionChecked === true || ioAllowed(cpu.regs);
}

export function execIn(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  if (!ioPermitted(cpu)) return FAULT_GP0;
  const size = insn.s0;
  const port = insn.o1 === OK_DX ? r.gpr[4]! & 0xffff : insn.imm & 0xff;
  setReg(r.gpr, RAX, size, cpu.readIo(port, size), 0);
  r.rip += insn.length;
  return null;
}

export function execOut(cpu: X86Cpu, insn: Instruction): ExecResult {
  const r = cpu.regs;
  if (!ioPermitted(cpu)) return FAULT_GP0;
  const size = insn.s1;
  const port = insn.o0 === OK_DX ? r.gpr[4]! & 0xffff : insn.imm & 0xff;
  cpu.writeIo(port, size, getReg(r.gpr, RAX, size) >>> 0);
  r.rip += insn.length;
  return null;
}
