import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeInto, DecodeFault, Instruction } from '../src/x86/decode/index.ts';
import { X86Registers, RCX, RSI, type X86Cpu, type X86Fault } from '../src/x86/cpu.ts';
import { execute, handlerFor, type Handler } from '../src/x86/exec/executor.ts';
import { chainBlock, type BlockExit } from '../src/x86/exec/block.ts';

class RamCpu implements X86Cpu {
  readonly regs = new X86Registers();
  constructor(readonly ram: Uint8Array) {}
  readMemory(gva: number, size: number, out: Uint32Array): X86Fault | null {
    if (gva < 0 || gva + size > this.ram.length) return { vector: 14, errorCode: 0, cr2: gva };
    out[0] = 0; out[1] = 0;
    for (let i = 0; i < size; i++) out[i >> 2]! |= this.ram[gva + i]! << (8 * (i & 3));
    return null;
  }
  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null {
    if (gva < 0 || gva + size > this.ram.length) return { vector: 14, errorCode: 2, cr2: gva };
    for (let i = 0; i < size; i++) this.ram[gva + i] = data[i >> 2]! >>> (8 * (i & 3));
    return null;
  }
  compareAndWriteMemory(): boolean { return true; }
  readIo(): number { return 0; }
  writeIo(): void {}
  readMsr(): bigint { return 0n; }
  writeMsr(): null { return null; }
  cpuid(): void {}
}

// mov eax,[rsi+8]; add eax,ebx; sub edx,3; and eax,0xffff; or ebx,eax; xor r8d,edx; inc edi;
// mov r9,rax; cmp edx,ebx; dec ecx; jnz top
const LOOP = Buffer.from('8b460801d883ea0325ffff000009c34131d0ffc74989c139daffc975e3', 'hex');

function decodeBlock(ram: Uint8Array, at: number) {
  const insns: Instruction[] = [], handlers: Handler[] = [], next: number[] = [];
  for (;;) {
    const insn = new Instruction();
    assert.equal(decodeInto(ram, at, 64, insn, at + 15), DecodeFault.None);
    insns.push(insn); handlers.push(handlerFor(insn)); at += insn.length; next.push(at);
    if (insn.o0 === 6 /* Rel */) return { insns, handlers, next };
  }
}

function setup(rsi: bigint) {
  const ram = new Uint8Array(0x10000);
  ram.set(LOOP, 0x1000);
  new DataView(ram.buffer).setUint32(0x8008, 0x89abcdef, true);
  const cpu = new RamCpu(ram);
  cpu.regs.rip = 0x1000;
  cpu.regs.setGpr(RSI, rsi);
  cpu.regs.setGpr(RCX, 5n);
  return cpu;
}

test('a chained block gives the same registers and flags as execute() one instruction at a time', () => {
  const a = setup(0x8000n), b = setup(0x8000n);
  const blk = decodeBlock(a.ram, 0x1000);
  const run = chainBlock(blk.insns, blk.handlers, blk.next);
  const exit: BlockExit = { fault: null };
  for (let iter = 0; iter < 5; iter++) {
    assert.equal(run(a, exit), 11);
    assert.equal(exit.fault, null);
    for (const insn of blk.insns) assert.equal(execute(b, insn), null);
    assert.deepEqual([...a.regs.gpr], [...b.regs.gpr]);
    assert.equal(a.regs.rip, b.regs.rip);
    assert.equal(a.regs.getRflags(), b.regs.getRflags());
  }
  assert.equal(a.regs.rip, 0x1000 + LOOP.length); // ecx reached 0: jnz fell through
});

test('a fault stops the block at the faulting instruction and is reported', () => {
  const cpu = setup(0xfff0_0000n); // [rsi+8] is outside the 64 KiB of RAM: #PF from readMemory
  const blk = decodeBlock(cpu.ram, 0x1000);
  const exit: BlockExit = { fault: null };
  assert.equal(chainBlock(blk.insns, blk.handlers, blk.next)(cpu, exit), 1);
  assert.equal(exit.fault?.vector, 14);
  assert.equal(cpu.regs.rip, 0x1000); // not retired
});

test('a branch out of the middle of a block ends it there', () => {
  // jnz +2 placed mid-block: when taken, RIP differs from the fall-through address.
  const ram = new Uint8Array(0x10000);
  ram.set(Buffer.from('ffc17502ffc1ffc1', 'hex'), 0x1000); // inc ecx; jnz +2; inc ecx; inc ecx
  const cpu = new RamCpu(ram);
  cpu.regs.rip = 0x1000;
  const insns: Instruction[] = [], handlers: Handler[] = [], next: number[] = [];
  let at = 0x1000;
  for (let k = 0; k < 4; k++) {
    const insn = new Instruction();
    decodeInto(ram, at, 64, insn, at + 15);
    insns.push(insn); handlers.push(handlerFor(insn)); at += insn.length; next.push(at);
  }
  const exit: BlockExit = { fault: null };
  assert.equal(chainBlock(insns, handlers, next)(cpu, exit), 2);
  assert.equal(cpu.regs.rip, 0x1006);
  assert.equal(cpu.regs.gpr[2], 1);
  assert.throws(() => chainBlock([], [], []), RangeError);
});
