/**
 * Executor behaviour the native oracle cannot show: locked-write races (RETRY with nothing
 * changed), the operand-kind mirror constants, legacy-mode segmentation and stack width, and
 * the register-file accessors a backend uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, OperandKind } from '../src/x86/decode/index.ts';
import {
  CS, DS, RAX, RBX, RCX, RSP, SS, X86Registers, type X86Cpu, type X86Fault,
} from '../src/x86/cpu.ts';
import { execute } from '../src/x86/exec/executor.ts';
import { RETRY } from '../src/x86/exec/result.ts';
import * as ops from '../src/x86/exec/operands.ts';

/** Little flat CPU over a 64 KiB buffer at linear 0 (enough for legacy-mode tests). */
class SmallCpu implements X86Cpu {
  readonly regs = new X86Registers();
  readonly mem = new Uint8Array(0x10000);
  private readonly dv = new DataView(this.mem.buffer);
  /** When > 0, the next compare-and-writes report that memory changed under us. */
  raceCount = 0;
  readMemory(gva: number, size: number, out: Uint32Array): X86Fault | null {
    if (gva < 0 || gva + size > this.mem.length) return { vector: 14, errorCode: 0, cr2: gva };
    if (size === 1) out[0] = this.mem[gva]!;
    else if (size === 2) out[0] = this.dv.getUint16(gva, true);
    else for (let i = 0; i < size >> 2; i++) out[i] = this.dv.getUint32(gva + 4 * i, true);
    return null;
  }
  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null {
    if (gva < 0 || gva + size > this.mem.length) return { vector: 14, errorCode: 2, cr2: gva };
    if (size === 1) this.mem[gva] = data[0]!;
    else if (size === 2) this.dv.setUint16(gva, data[0]!, true);
    else for (let i = 0; i < size >> 2; i++) this.dv.setUint32(gva + 4 * i, data[i]!, true);
    return null;
  }
  compareAndWriteMemory(gva: number, size: number, expected: Uint32Array, data: Uint32Array): X86Fault | boolean {
    if (this.raceCount > 0) {
      this.raceCount--;
      this.dv.setUint32(gva, this.dv.getUint32(gva, true) ^ 0x100, true); // another agent wrote
      return false;
    }
    const cur = new Uint32Array(4);
    this.readMemory(gva, size, cur);
    if (cur[0] !== expected[0] || (size === 8 && cur[1] !== expected[1])) return false;
    return this.writeMemory(gva, size, data) ?? true;
  }
  readIo(): number { return 0; }
  writeIo(): void {}
  readMsr(_index: number): bigint | X86Fault { return { vector: 13, errorCode: 0 }; }
  writeMsr(): X86Fault { return { vector: 13, errorCode: 0 }; }
  cpuid(_leaf: number, _sub: number, _out: Uint32Array): void {}
}

test('operand-kind constants mirror the decoder enum', () => {
  assert.equal(ops.OK_REG, OperandKind.Reg);
  assert.equal(ops.OK_RM, OperandKind.Rm);
  assert.equal(ops.OK_MEM, OperandKind.Mem);
  assert.equal(ops.OK_IMM, OperandKind.Imm);
  assert.equal(ops.OK_IMM2, OperandKind.Imm2);
  assert.equal(ops.OK_REL, OperandKind.Rel);
  assert.equal(ops.OK_ACC, OperandKind.Acc);
  assert.equal(ops.OK_CL, OperandKind.Cl);
  assert.equal(ops.OK_DX, OperandKind.Dx);
  assert.equal(ops.OK_ONE, OperandKind.One);
  assert.equal(ops.OK_SEG, OperandKind.Seg);
  assert.equal(ops.OK_XMM, OperandKind.Xmm);
  assert.equal(ops.OK_XMMRM, OperandKind.XmmRm);
  assert.equal(19, OperandKind.MmxRm);
});

test('a locked RMW whose memory changed meanwhile returns RETRY and changes nothing', () => {
  const cpu = new SmallCpu();
  const r = cpu.regs;
  // lock add dword ptr [rbx], eax
  const insn = decode(new Uint8Array([0xf0, 0x01, 0x03]), 0, 64);
  r.setGpr(RBX, 0x100n);
  r.setGpr(RAX, 5n);
  r.rip = 0x40;
  r.setRflags(0x8d5);
  cpu.raceCount = 1;
  assert.equal(execute(cpu, insn), RETRY);
  assert.equal(r.rip, 0x40, 'RIP stays on the instruction');
  assert.equal(r.getRflags() & 0x8d5, 0x8d5, 'flags unchanged');
  assert.equal(cpu.mem[0x101], 1, 'only the other agent wrote');
  // the retry then succeeds on the new value
  assert.equal(execute(cpu, insn), null);
  assert.equal(new DataView(cpu.mem.buffer).getUint32(0x100, true), 0x105);
  assert.equal(r.rip, 0x43);
});

test('xchg with memory is implicitly locked (retries on a race)', () => {
  const cpu = new SmallCpu();
  const r = cpu.regs;
  const insn = decode(new Uint8Array([0x87, 0x03]), 0, 64); // xchg dword ptr [rbx], eax
  r.setGpr(RBX, 0x200n);
  r.setGpr(RAX, 7n);
  cpu.raceCount = 1;
  assert.equal(execute(cpu, insn), RETRY);
  assert.equal(r.getGpr(RAX), 7n);
  assert.equal(execute(cpu, insn), null);
  assert.equal(r.getGpr(RAX), 0x100n);
  assert.equal(cpu.mem[0x200], 7);
});

function legacy32(cpu: SmallCpu): void {
  const r = cpu.regs;
  r.efer = 0; // no long mode
  r.cr0 = 1; // protected mode, no paging
  for (let s = 0; s < 6; s++) {
    r.segBase[s] = 0;
    r.segLimit[s] = 0xffff;
    r.segAttr[s] = 0x4093; // D/B, P, S, data RW
  }
  r.segAttr[CS] = 0x409b;
}

test('32-bit protected mode: segment limits raise #GP/#SS, pushes use ESP', () => {
  const cpu = new SmallCpu();
  legacy32(cpu);
  const r = cpu.regs;
  assert.equal(r.bitness, 32);
  r.setGpr(RSP, 0x1000n);
  r.setGpr(RAX, 0xdeadbeefn);
  const push = decode(new Uint8Array([0x50]), 0, 32); // push eax
  assert.equal(execute(cpu, push), null);
  assert.equal(r.getGpr(RSP), 0xffcn);
  assert.equal(new DataView(cpu.mem.buffer).getUint32(0xffc, true), 0xdeadbeef);
  // mov eax, [ebx] beyond DS.limit → #GP(0); via [ebp] (SS) → #SS(0)
  r.setGpr(RBX, 0xfffen);
  assert.deepEqual(execute(cpu, decode(new Uint8Array([0x8b, 0x03]), 0, 32)), { vector: 13, errorCode: 0 });
  r.setGpr(5, 0xfffen);
  assert.deepEqual(execute(cpu, decode(new Uint8Array([0x8b, 0x45, 0x00]), 0, 32)), { vector: 12, errorCode: 0 });
  // a segment base applies outside long mode
  r.segBase[DS] = 0x2000;
  r.setGpr(RBX, 0x10n);
  cpu.mem[0x2010] = 0x5a;
  assert.equal(execute(cpu, decode(new Uint8Array([0x8a, 0x03]), 0, 32)), null); // mov al, [ebx]
  assert.equal(r.getGpr(RAX) & 0xffn, 0x5an);
});

test('16-bit addressing: [bx+si] wraps at 64 KiB', () => {
  const cpu = new SmallCpu();
  legacy32(cpu);
  const r = cpu.regs;
  r.segAttr[CS] = 0x009b; // 16-bit code
  r.segAttr[SS] = 0x0093;
  assert.equal(r.bitness, 16);
  r.setGpr(RBX, 0xfff0n);
  r.setGpr(6, 0x0020n); // si
  cpu.mem[0x10] = 0x77;
  assert.equal(execute(cpu, decode(new Uint8Array([0x8a, 0x00]), 0, 16)), null); // mov al, [bx+si]
  assert.equal(r.getGpr(RAX) & 0xffn, 0x77n);
  // loop with CX in 16-bit mode
  r.setGpr(RCX, 0x10000n); // CX = 0 → wraps to 0xffff and jumps
  r.rip = 0x100;
  assert.equal(execute(cpu, decode(new Uint8Array([0xe2, 0x10]), 0, 16)), null);
  assert.equal(r.getGpr(RCX), 0x1ffffn);
  assert.equal(r.rip, 0x112);
});

test('register file accessors: canonical RIP, RFLAGS with lazy flags, XMM as 128-bit', () => {
  const r = new X86Registers();
  r.setRip(0xffffffff81000000n);
  assert.equal(r.rip, -0x7f000000);
  assert.equal(r.getRip(), 0xffffffff81000000n);
  r.setGpr(RAX, 0xfedcba9876543210n);
  assert.equal(r.gpr[0], 0x76543210);
  assert.equal(r.gpr[1], 0xfedcba98 | 0);
  assert.equal(r.getGpr(RAX), 0xfedcba9876543210n);
  r.setXmm(3, 0x00112233445566778899aabbccddeeffn);
  assert.equal(r.getXmm(3), 0x00112233445566778899aabbccddeeffn);
  assert.equal(r.xmm[12], 0xccddeeff);
  r.setRflags(0xffffffff);
  assert.equal(r.getRflags(), 0x3f7fd7, 'reserved bits read as 0, bit 1 as 1');
  assert.equal(r.cpl, 0);
  r.segAttr[SS] |= 0x60;
  assert.equal(r.cpl, 3);
});

test('#AC on a misaligned access at CPL 3 with CR0.AM and RFLAGS.AC; none at CPL 0', () => {
  const cpu = new SmallCpu();
  const r = cpu.regs;
  const insn = decode(new Uint8Array([0x8b, 0x03]), 0, 64); // mov eax, [rbx]
  r.setGpr(RBX, 0x101n);
  r.cr0 |= 0x40000; // AM
  r.setRflags(0x40000 | 2); // AC
  assert.equal(execute(cpu, insn), null, 'CPL 0: alignment checking does not apply');
  r.rip = 0;
  r.segAttr[CS] |= 0x60;
  r.segAttr[SS] |= 0x60;
  assert.deepEqual(execute(cpu, insn), { vector: 17, errorCode: 0 });
  assert.equal(r.rip, 0);
});

test('CPUID and RDMSR/WRMSR go through the CPU hooks; RDMSR at CPL 3 is #GP(0)', () => {
  const cpu = new SmallCpu();
  const r = cpu.regs;
  const seen: string[] = [];
  cpu.cpuid = (leaf, sub, out) => {
    seen.push(`cpuid ${leaf.toString(16)}/${sub}`);
    out.set([0x11, 0x22, 0x33, 0x44]);
  };
  cpu.readMsr = (index: number) => (index === 0x10 ? 0x1234_5678_9abc_def0n : { vector: 13, errorCode: 0 });
  r.setGpr(RAX, 0xffff_ffff_4000_0000n);
  r.setGpr(RCX, 0x1n);
  assert.equal(execute(cpu, decode(new Uint8Array([0x0f, 0xa2]), 0, 64)), null);
  assert.deepEqual(seen, ['cpuid 40000000/1']);
  assert.equal(r.getGpr(RAX), 0x11n, 'results zero-extend into RAX');
  assert.equal(r.getGpr(RBX), 0x22n);
  r.setGpr(RCX, 0x10n);
  assert.equal(execute(cpu, decode(new Uint8Array([0x0f, 0x32]), 0, 64)), null);
  assert.equal(r.getGpr(RAX), 0x9abcdef0n);
  assert.equal(r.getGpr(2), 0x12345678n);
  r.setGpr(RCX, 0x11n);
  assert.deepEqual(execute(cpu, decode(new Uint8Array([0x0f, 0x32]), 0, 64)), { vector: 13, errorCode: 0 });
  r.segAttr[SS] |= 0x60;
  r.setGpr(RCX, 0x10n);
  assert.deepEqual(execute(cpu, decode(new Uint8Array([0x0f, 0x32]), 0, 64)), { vector: 13, errorCode: 0 }, 'CPL 3');
});

test('64-bit mode: FS/GS bases apply, other segment bases do not; non-canonical → #GP(0), via RSP/RBP → #SS(0)', () => {
  const cpu = new SmallCpu();
  const r = cpu.regs;
  r.segBase[4] = 0x3000; // FS
  r.segBase[DS] = 0x5000; // ignored in 64-bit mode
  cpu.mem[0x3008] = 0x11;
  cpu.mem[0x0008] = 0x22;
  r.setGpr(RBX, 8n);
  assert.equal(execute(cpu, decode(new Uint8Array([0x64, 0x8a, 0x03]), 0, 64)), null); // mov al, fs:[rbx]
  assert.equal(r.getGpr(RAX) & 0xffn, 0x11n);
  assert.equal(execute(cpu, decode(new Uint8Array([0x8a, 0x03]), 0, 64)), null); // mov al, [rbx]
  assert.equal(r.getGpr(RAX) & 0xffn, 0x22n);
  r.setGpr(RBX, 0x0000_8000_0000_0000n);
  assert.deepEqual(execute(cpu, decode(new Uint8Array([0x8a, 0x03]), 0, 64)), { vector: 13, errorCode: 0 });
  r.setGpr(5, 0x0000_8000_0000_0000n);
  assert.deepEqual(execute(cpu, decode(new Uint8Array([0x8a, 0x45, 0x00]), 0, 64)), { vector: 12, errorCode: 0 }); // mov al, [rbp]
});
