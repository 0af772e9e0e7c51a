/**
 * MMIO / port-I/O exit emulation (src/x86/emulate.ts) against a fake MMIO device that records
 * every access. Each stage-one instruction family is driven at a device address, checking the
 * order, width and value of the device accesses, the final registers and RIP. Instruction
 * bytes come from GNU as (test is skipped without binutils).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, assemblerUnavailable } from './helpers/native-cpu.ts';
import { emulateInstruction, emulatePortIo, ExitCpu, type MmioBus, type PortIoBus } from '../src/x86/emulate.ts';
import { X86Registers, RAX, RBX, RCX, RDX, RSI, RDI, SS, type X86Fault } from '../src/x86/cpu.ts';
import { GuestRam } from '../src/memory/guest-memory.ts';

const MMIO = 0xd000_0000;
const KERNEL_VA = -0x2000_0000; // 0xffffffffe0000000, mapped to the device page
const CODE = 0x1000;
const RAM_BUF = 0x8000;

/** A device that records its accesses; reads return the next programmed value (else 0). */
class FakeMmioDevice implements MmioBus, PortIoBus {
  readonly log: string[] = [];
  readonly readValues: bigint[] = [];
  private next(): bigint {
    return this.readValues.shift() ?? 0n;
  }
  read(gpa: number, size: number, out: Uint32Array): void {
    const v = this.next() & ((1n << BigInt(8 * size)) - 1n);
    for (let i = 0; i < 4; i++) out[i] = Number((v >> BigInt(32 * i)) & 0xffffffffn);
    this.log.push(`R${size} ${hex(gpa)} = ${hex(v)}`);
  }
  write(gpa: number, size: number, data: Uint32Array): void {
    let v = 0n;
    for (let i = Math.max(1, size >> 2) - 1; i >= 0; i--) v = (v << 32n) | BigInt(data[i]!);
    v &= (1n << BigInt(8 * size)) - 1n;
    this.log.push(`W${size} ${hex(gpa)} = ${hex(v)}`);
  }
  readIo(port: number, size: number): number {
    const v = Number(this.next() & 0xffffffffn);
    this.log.push(`IN${size} ${hex(port)} = ${hex(v)}`);
    return v;
  }
  writeIo(port: number, size: number, value: number): void {
    this.log.push(`OUT${size} ${hex(port)} = ${hex(value)}`);
  }
}

function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

function setup() {
  const ram = GuestRam.allocate([{ gpa: 0, size: 0x10_0000 }]);
  const dev = new FakeMmioDevice();
  const regs = new X86Registers();
  regs.rip = CODE;
  const translations: number[] = [];
  const cpu = new ExitCpu({
    regs, ram, mmio: dev, io: dev,
    // identity below 4 GiB; the kernel VA page maps to the device; everything else #PF
    translate: (gva, access): number | X86Fault => {
      translations.push(gva);
      if (gva >= KERNEL_VA && gva < KERNEL_VA + 0x1000) return MMIO + (gva - KERNEL_VA);
      if (gva >= 0 && gva < 0x1_0000_0000 && (gva < 0x10_0000 || (gva >= MMIO && gva < MMIO + 0x1000))) return gva;
      return { vector: 14, errorCode: access === 1 ? 2 : access === 2 ? 0x10 : 0, cr2: gva };
    },
  });
  return { ram, dev, regs, cpu, translations };
}

interface Case {
  asm: string;
  regs?: Partial<Record<number, bigint>>;
  reads?: bigint[];
  rflags?: number;
  /** Expected device log. */
  log: string[];
  /** Expected register values after. */
  after?: Partial<Record<number, bigint>>;
  flags?: { mask: number; value: number };
  outcome?: 'done' | { vector: number };
}

const cases: Case[] = [
  // mov forms
  { asm: 'mov dword ptr [rbx], eax', regs: { [RAX]: 0x1122334455667788n }, log: ['W4 0xd0000000 = 0x55667788'] },
  { asm: 'mov byte ptr [rbx+3], al', regs: { [RAX]: 0xabn }, log: ['W1 0xd0000003 = 0xab'] },
  { asm: 'mov word ptr [rbx+2], cx', regs: { [RCX]: 0xbeefn }, log: ['W2 0xd0000002 = 0xbeef'] },
  { asm: 'mov qword ptr [rbx+8], rax', regs: { [RAX]: 0x1122334455667788n }, log: ['W8 0xd0000008 = 0x1122334455667788'] },
  { asm: 'mov qword ptr [rbx], -2', log: ['W8 0xd0000000 = 0xfffffffffffffffe'] },
  { asm: 'mov eax, dword ptr [rbx+4]', regs: { [RAX]: -1n }, reads: [0xcafebaben], log: ['R4 0xd0000004 = 0xcafebabe'], after: { [RAX]: 0xcafebaben } },
  { asm: 'mov ax, word ptr [rbx]', regs: { [RAX]: 0x1111111111111111n }, reads: [0xbeefn], log: ['R2 0xd0000000 = 0xbeef'], after: { [RAX]: 0x111111111111beefn } },
  { asm: 'mov rdx, qword ptr [rbx]', reads: [0x8877665544332211n], log: ['R8 0xd0000000 = 0x8877665544332211'], after: { [RDX]: 0x8877665544332211n } },
  { asm: 'movabs eax, [0xd0000010]', reads: [0x55n], log: ['R4 0xd0000010 = 0x55'], after: { [RAX]: 0x55n } },
  { asm: 'movzx eax, byte ptr [rbx]', reads: [0xf0n], log: ['R1 0xd0000000 = 0xf0'], after: { [RAX]: 0xf0n } },
  { asm: 'movsx rax, word ptr [rbx]', reads: [0x8001n], log: ['R2 0xd0000000 = 0x8001'], after: { [RAX]: 0xffffffffffff8001n } },
  { asm: 'movsxd rcx, dword ptr [rbx]', reads: [0x80000000n], log: ['R4 0xd0000000 = 0x80000000'], after: { [RCX]: 0xffffffff80000000n } },
  // arithmetic and logic with memory operands
  { asm: 'add dword ptr [rbx], 5', reads: [0xfffffffen], log: ['R4 0xd0000000 = 0xfffffffe', 'W4 0xd0000000 = 0x3'], flags: { mask: 0x8d5, value: 0x15 } },
  { asm: 'or byte ptr [rbx], cl', regs: { [RCX]: 0x80n }, reads: [0x01n], log: ['R1 0xd0000000 = 0x1', 'W1 0xd0000000 = 0x81'], flags: { mask: 0x8c5, value: 0x84 } },
  { asm: 'sub qword ptr [rbx], rax', regs: { [RAX]: 1n }, reads: [0n], log: ['R8 0xd0000000 = 0x0', 'W8 0xd0000000 = 0xffffffffffffffff'], flags: { mask: 0x8c5, value: 0x85 } },
  { asm: 'cmp dword ptr [rbx], 0x10', reads: [0x10n], log: ['R4 0xd0000000 = 0x10'], flags: { mask: 0x8c5, value: 0x44 } },
  { asm: 'test word ptr [rbx], 0x8000', reads: [0x8000n], log: ['R2 0xd0000000 = 0x8000'], flags: { mask: 0x8c1, value: 0x80 } },
  { asm: 'xor eax, dword ptr [rbx]', regs: { [RAX]: 0xffn }, reads: [0xffn], log: ['R4 0xd0000000 = 0xff'], after: { [RAX]: 0n }, flags: { mask: 0x40, value: 0x40 } },
  { asm: 'lock inc dword ptr [rbx]', reads: [0x7fffffffn], log: ['R4 0xd0000000 = 0x7fffffff', 'W4 0xd0000000 = 0x80000000'], flags: { mask: 0x880, value: 0x880 } },
  { asm: 'neg byte ptr [rbx]', reads: [1n], log: ['R1 0xd0000000 = 0x1', 'W1 0xd0000000 = 0xff'] },
  { asm: 'not word ptr [rbx]', reads: [0x00ffn], log: ['R2 0xd0000000 = 0xff', 'W2 0xd0000000 = 0xff00'] },
  // xchg, cmpxchg, xadd: a locked RMW on a device is one read and one write (no second read
  // for a compare: it could change a read-sensitive register)
  { asm: 'xchg dword ptr [rbx], eax', regs: { [RAX]: 0x1234n }, reads: [0x5678n], log: ['R4 0xd0000000 = 0x5678', 'W4 0xd0000000 = 0x1234'], after: { [RAX]: 0x5678n } },
  { asm: 'lock cmpxchg dword ptr [rbx], ecx', regs: { [RAX]: 5n, [RCX]: 9n }, reads: [5n], log: ['R4 0xd0000000 = 0x5', 'W4 0xd0000000 = 0x9'], flags: { mask: 0x40, value: 0x40 }, after: { [RAX]: 5n } },
  { asm: 'cmpxchg dword ptr [rbx], ecx', regs: { [RAX]: 5n, [RCX]: 9n }, reads: [6n], log: ['R4 0xd0000000 = 0x6', 'W4 0xd0000000 = 0x6'], flags: { mask: 0x40, value: 0 }, after: { [RAX]: 6n } },
  { asm: 'lock xadd qword ptr [rbx], rax', regs: { [RAX]: 3n }, reads: [10n], log: ['R8 0xd0000000 = 0xa', 'W8 0xd0000000 = 0xd'], after: { [RAX]: 10n } },
  { asm: 'cmpxchg8b qword ptr [rbx]', regs: { [RAX]: 1n, [RDX]: 2n, [RBX]: MMIO_N(), [RCX]: 4n }, reads: [0x0000000200000001n], log: ['R8 0xd0000000 = 0x200000001', 'W8 0xd0000000 = 0x4d0000000'], flags: { mask: 0x40, value: 0x40 } },
  // bit tests
  { asm: 'bt dword ptr [rbx], 3', reads: [8n], log: ['R4 0xd0000000 = 0x8'], flags: { mask: 1, value: 1 } },
  { asm: 'bts dword ptr [rbx], 4', reads: [0n], log: ['R4 0xd0000000 = 0x0', 'W4 0xd0000000 = 0x10'], flags: { mask: 1, value: 0 } },
  { asm: 'btr word ptr [rbx], 0', reads: [0xffffn], log: ['R2 0xd0000000 = 0xffff', 'W2 0xd0000000 = 0xfffe'] },
  { asm: 'bt dword ptr [rbx], eax', regs: { [RAX]: 40n }, reads: [0x100n], log: ['R4 0xd0000004 = 0x100'], flags: { mask: 1, value: 1 } },
  // setcc / cmovcc
  { asm: 'setz byte ptr [rbx]', rflags: 0x40, log: ['W1 0xd0000000 = 0x1'] },
  { asm: 'cmovz eax, dword ptr [rbx]', regs: { [RAX]: 0xffffffff00000007n }, rflags: 0, reads: [9n], log: ['R4 0xd0000000 = 0x9'], after: { [RAX]: 7n } },
  // mul / div
  { asm: 'mul dword ptr [rbx]', regs: { [RAX]: 0x10000n }, reads: [0x10000n], log: ['R4 0xd0000000 = 0x10000'], after: { [RAX]: 0n, [RDX]: 1n }, flags: { mask: 0x801, value: 0x801 } },
  { asm: 'div dword ptr [rbx]', regs: { [RAX]: 100n, [RDX]: 0n }, reads: [7n], log: ['R4 0xd0000000 = 0x7'], after: { [RAX]: 14n, [RDX]: 2n } },
  { asm: 'idiv qword ptr [rbx]', reads: [0n], log: ['R8 0xd0000000 = 0x0'], outcome: { vector: 0 } },
  // shifts and rotates
  { asm: 'shl dword ptr [rbx], 4', reads: [0x1000000fn], log: ['R4 0xd0000000 = 0x1000000f', 'W4 0xd0000000 = 0xf0'], flags: { mask: 1, value: 1 } },
  { asm: 'rol word ptr [rbx], 1', reads: [0x8001n], log: ['R2 0xd0000000 = 0x8001', 'W2 0xd0000000 = 0x3'] },
  { asm: 'shld dword ptr [rbx], eax, 8', regs: { [RAX]: 0xab000000n }, reads: [0x00123456n], log: ['R4 0xd0000000 = 0x123456', 'W4 0xd0000000 = 0x123456ab'] },
  { asm: 'sar byte ptr [rbx], cl', regs: { [RCX]: 0n }, reads: [0x80n], log: ['R1 0xd0000000 = 0x80'] },
  // string instructions
  { asm: 'rep movsd', regs: { [RSI]: BigInt(RAM_BUF), [RDI]: MMIO_N(), [RCX]: 3n }, log: ['W4 0xd0000000 = 0x3020100', 'W4 0xd0000004 = 0x7060504', 'W4 0xd0000008 = 0xb0a0908'], after: { [RCX]: 0n, [RSI]: BigInt(RAM_BUF + 12), [RDI]: MMIO_N() + 12n } },
  { asm: 'rep stosb', regs: { [RDI]: MMIO_N() + 2n, [RCX]: 2n, [RAX]: 0x5an }, rflags: 0x400, log: ['W1 0xd0000002 = 0x5a', 'W1 0xd0000001 = 0x5a'], after: { [RDI]: MMIO_N() } },
  { asm: 'lodsd', regs: { [RSI]: MMIO_N() }, reads: [0x44332211n], log: ['R4 0xd0000000 = 0x44332211'], after: { [RAX]: 0x44332211n, [RSI]: MMIO_N() + 4n } },
  { asm: 'movsw', regs: { [RSI]: MMIO_N(), [RDI]: BigInt(RAM_BUF + 0x100) }, reads: [0xbeefn], log: ['R2 0xd0000000 = 0xbeef'] },
  { asm: 'repe cmpsb', regs: { [RSI]: BigInt(RAM_BUF), [RDI]: MMIO_N(), [RCX]: 4n }, reads: [0n, 1n, 7n], log: ['R1 0xd0000000 = 0x0', 'R1 0xd0000001 = 0x1', 'R1 0xd0000002 = 0x7'], after: { [RCX]: 1n } },
  { asm: 'repne scasw', regs: { [RDI]: MMIO_N(), [RCX]: 5n, [RAX]: 0x42n }, reads: [1n, 0x42n], log: ['R2 0xd0000000 = 0x1', 'R2 0xd0000002 = 0x42'], after: { [RCX]: 3n }, flags: { mask: 0x40, value: 0x40 } },
  { asm: 'rep outsb', regs: { [RSI]: BigInt(RAM_BUF + 1), [RCX]: 3n, [RDX]: 0x3f8n }, log: ['OUT1 0x3f8 = 0x1', 'OUT1 0x3f8 = 0x2', 'OUT1 0x3f8 = 0x3'] },
  { asm: 'rep insw', regs: { [RDI]: MMIO_N(), [RCX]: 2n, [RDX]: 0x1f0n }, reads: [0x1234n, 0x5678n], log: ['IN2 0x1f0 = 0x1234', 'W2 0xd0000000 = 0x1234', 'IN2 0x1f0 = 0x5678', 'W2 0xd0000002 = 0x5678'] },
  // SSE 128-bit moves
  { asm: 'movdqu xmmword ptr [rbx+1], xmm0', log: ['W16 0xd0000001 = 0x0f0e0d0c0b0a09080706050403020100'.replace('0x0f', '0xf')] },
  { asm: 'movaps xmm1, xmmword ptr [rbx+16]', reads: [0x00112233445566778899aabbccddeeffn], log: ['R16 0xd0000010 = 0x112233445566778899aabbccddeeff'] },
  { asm: 'movaps xmm1, xmmword ptr [rbx+8]', log: [], outcome: { vector: 13 } },
  // the kernel's view: high canonical VA mapped to the device
  { asm: 'mov dword ptr [rdx+0x30], 0x1', regs: { [RDX]: BigInt.asUintN(64, BigInt(KERNEL_VA)) }, log: ['W4 0xd0000030 = 0x1'] },
];

function MMIO_N(): bigint {
  return BigInt(MMIO);
}

test('exit emulation drives a fake MMIO device with the right widths and values', (t) => {
  const skip = assemblerUnavailable();
  if (skip) {
    t.skip(skip);
    return;
  }
  const codes = assemble(cases.map((c) => c.asm));
  cases.forEach((c, i) => {
    const { ram, dev, regs, cpu } = setup();
    for (let b = 0; b < 256; b++) ram.writeU8(RAM_BUF + b, b);
    for (let x = 0; x < 64; x++) regs.xmm[x] = 0;
    for (let b = 0; b < 16; b++) regs.xmm[b >> 2] |= b << ((b & 3) * 8);
    regs.setGpr(RBX, BigInt(MMIO));
    for (const [k, v] of Object.entries(c.regs ?? {})) regs.setGpr(Number(k), BigInt.asUintN(64, v!));
    regs.setRflags(c.rflags ?? 0);
    dev.readValues.push(...(c.reads ?? []));
    const code = codes[i]!;
    ram.write(CODE, code);
    const before = regs.gpr.slice();
    const out = emulateInstruction(cpu, code);
    const want = c.outcome ?? 'done';
    const label = `${c.asm}`;
    if (want === 'done') {
      assert.equal(out.kind, 'done', `${label}: ${JSON.stringify(out)}`);
      assert.equal(regs.rip, CODE + code.length, `${label}: RIP advanced by the length`);
    } else {
      assert.equal(out.kind, 'exception', `${label}: ${JSON.stringify(out)}`);
      if (out.kind === 'exception') assert.equal(out.fault.vector, want.vector, label);
      assert.equal(regs.rip, CODE, `${label}: RIP unchanged on a fault`);
      assert.deepEqual(regs.gpr, before, `${label}: registers unchanged on a fault`);
    }
    assert.deepEqual(dev.log, c.log, `${label}: device accesses`);
    for (const [k, v] of Object.entries(c.after ?? {})) {
      assert.equal(regs.getGpr(Number(k)), BigInt.asUintN(64, v!), `${label}: register ${k}`);
    }
    if (c.flags) assert.equal(regs.getRflags() & c.flags.mask, c.flags.value, `${label}: flags`);
  });
  t.diagnostic(`${cases.length} MMIO/string-I/O instructions checked`);
});

test('a long rep movs stops after a bounded chunk with RIP on the instruction, then completes', (t) => {
  if (assemblerUnavailable()) return t.skip(assemblerUnavailable());
  const { dev, regs, cpu, ram } = setup();
  const [code] = assemble(['rep movsb']);
  ram.write(CODE, code!);
  for (let b = 0; b < 3000; b++) ram.writeU8(RAM_BUF + b, (b * 7 + 1) & 0xff); // a pattern, so the last write's value means something
  regs.setGpr(RSI, BigInt(RAM_BUF));
  regs.setGpr(RDI, BigInt(MMIO));
  regs.setGpr(RCX, 3000n);
  let retries = 0;
  for (;;) {
    assert.ok(retries < 10, 'the chunked rep movs never completed');
    const out = emulateInstruction(cpu, code!);
    if (out.kind === 'retry') {
      retries++;
      assert.equal(regs.rip, CODE, 'RIP stays on the instruction between chunks');
      assert.ok(regs.getGpr(RCX) > 0n);
      continue;
    }
    assert.equal(out.kind, 'done');
    break;
  }
  assert.equal(retries, 2); // 1024 + 1024 + 952
  assert.equal(regs.getGpr(RCX), 0n);
  assert.equal(regs.rip, CODE + 2);
  assert.equal(dev.log.length, 3000);
  assert.equal(dev.log[0], `W1 ${hex(MMIO)} = ${hex(1)}`);
  assert.equal(dev.log[2999], `W1 ${hex(MMIO + 2999)} = ${hex((2999 * 7 + 1) & 0xff)}`);
});

test('a #PF during emulation is returned as an exception with CR2; RIP and registers unchanged', (t) => {
  const noAs = assemblerUnavailable();
  if (noAs) return t.skip(noAs);
  const { dev, regs, cpu } = setup();
  const [code] = assemble(['mov dword ptr [rax], ecx']);
  regs.setGpr(RAX, 0x7000_0000n); // not mapped
  const out = emulateInstruction(cpu, code!);
  assert.deepEqual(out, { kind: 'exception', fault: { vector: 14, errorCode: 2, cr2: 0x7000_0000 } });
  assert.equal(regs.rip, CODE);
  assert.deepEqual(dev.log, []);
});

test('instruction bytes cut short by the exit are completed by fetching through translation', (t) => {
  const noAs = assemblerUnavailable();
  if (noAs) return t.skip(noAs);
  const { dev, regs, cpu, ram, translations } = setup();
  const [code] = assemble(['mov dword ptr [rbx+0x40], 0x12345678']);
  ram.write(CODE, code!);
  regs.setGpr(RBX, BigInt(MMIO));
  const out = emulateInstruction(cpu, code!.subarray(0, 3));
  assert.equal(out.kind, 'done');
  assert.deepEqual(dev.log, ['W4 0xd0000040 = 0x12345678']);
  assert.ok(translations.includes(CODE + 3), 'fetched the missing bytes at RIP+3');
  assert.equal(regs.rip, CODE + code!.length);
});

test('plain IN/OUT take the fast path from exit information, without decoding', () => {
  const dev = new FakeMmioDevice();
  dev.readValues.push(0xabn, 0x12345678n);
  const a = emulatePortIo({ port: 0x3f8, size: 1, isWrite: false, rax: 0xffff_ffff_ffff_ff00n, rip: 0x1000n, instructionLength: 1 }, dev);
  assert.deepEqual(a, { rax: 0xffff_ffff_ffff_ffabn, rip: 0x1001n }, 'IN AL keeps RAX[63:8]');
  const b = emulatePortIo({ port: 0xcfc, size: 4, isWrite: false, rax: 0xffff_ffff_ffff_ffffn, rip: 0x1000n, instructionLength: 2 }, dev);
  assert.deepEqual(b, { rax: 0x12345678n, rip: 0x1002n }, 'IN EAX zero-extends');
  const c = emulatePortIo({ port: 0x80, size: 2, isWrite: true, rax: 0x1234_5678_9abcn, rip: 0xffff_ffff_ffff_fffen, instructionLength: 2 }, dev);
  assert.deepEqual(c, { rax: 0x1234_5678_9abcn, rip: 0n });
  assert.deepEqual(dev.log, ['IN1 0x3f8 = 0xab', 'IN4 0xcfc = 0x12345678', 'OUT2 0x80 = 0x9abc']);
});

test('an instruction the emulator lacks is reported (with its text) for #UD injection', () => {
  const { regs, cpu } = setup();
  const out = emulateInstruction(cpu, new Uint8Array([0x0f, 0x01, 0xd9])); // vmmcall
  assert.equal(out.kind, 'unsupported');
  if (out.kind === 'unsupported') {
    assert.equal(out.fault.vector, 6);
    assert.match(out.text, /vmmcall/);
  }
  assert.equal(regs.rip, CODE);
});

test('locked instructions on RAM go through an atomic compare-exchange on the RAM view', (t) => {
  const noAs = assemblerUnavailable();
  if (noAs) return t.skip(noAs);
  const { dev, regs, cpu, ram } = setup();
  const [add, cx16, xchg] = assemble(['lock add dword ptr [rsi], 3', 'lock cmpxchg qword ptr [rsi+8], rcx', 'xchg word ptr [rsi+2], ax']);
  regs.setGpr(RSI, BigInt(RAM_BUF));
  ram.writeU32(RAM_BUF, 0x10);
  assert.equal(emulateInstruction(cpu, add!).kind, 'done');
  assert.equal(ram.readU32(RAM_BUF), 0x13);
  ram.writeU64(RAM_BUF + 8, 0x1_0000_0000n);
  regs.setGpr(RAX, 0x1_0000_0000n);
  regs.setGpr(RCX, 0xabcdn);
  regs.rip = CODE;
  assert.equal(emulateInstruction(cpu, cx16!).kind, 'done');
  assert.equal(ram.readU64(RAM_BUF + 8), 0xabcdn);
  regs.setGpr(RAX, 0x7777n);
  regs.rip = CODE;
  assert.equal(emulateInstruction(cpu, xchg!).kind, 'done');
  assert.equal(ram.readU32(RAM_BUF), 0x7777_0013);
  assert.equal(regs.getGpr(RAX), 0n);
  assert.deepEqual(dev.log, [], 'RAM never reaches the device');
});

test("the exit's own GVA→GPA pair seeds the translation cache (no page walk for the data access)", () => {
  const { dev, regs, cpu, translations } = setup();
  regs.setGpr(RBX, BigInt.asUintN(64, BigInt(KERNEL_VA + 0x40)));
  regs.setGpr(RAX, 0x99n);
  cpu.flushTranslations();
  cpu.seedTranslation(KERNEL_VA + 0x40, MMIO + 0x40, 1 /* write */);
  const out = emulateInstruction(cpu, new Uint8Array([0x89, 0x03])); // mov dword ptr [rbx], eax
  assert.equal(out.kind, 'done');
  assert.deepEqual(translations, []);
  assert.deepEqual(dev.log, ['W4 0xd0000040 = 0x99']);
});

test('string I/O on an exit at CPL 3 with IOPL 0 runs: the hardware already passed the IOPL/bitmap checks', (t) => {
  // A Linux process given ports with ioperm() runs at IOPL 0; the TSS bitmap lets it through,
  // and the exit only happens after that check (SDM Vol. 3C §26.1.1). A #GP here would be ours.
  const noAs = assemblerUnavailable();
  if (noAs) return t.skip(noAs);
  const { dev, regs, cpu, ram } = setup();
  const [code] = assemble(['rep outsb']);
  ram.write(CODE, code!);
  for (let b = 0; b < 3; b++) ram.writeU8(RAM_BUF + b, 0x41 + b);
  regs.segAttr[SS] = 0xc093 | (3 << 5); // SS.DPL = CPL = 3
  regs.setRflags(0); // IOPL 0
  regs.setGpr(RSI, BigInt(RAM_BUF));
  regs.setGpr(RCX, 3n);
  regs.setGpr(RDX, 0x3f8n);
  assert.equal(regs.cpl, 3);
  assert.equal(emulateInstruction(cpu, code!).kind, 'done');
  assert.deepEqual(dev.log, ['OUT1 0x3f8 = 0x41', 'OUT1 0x3f8 = 0x42', 'OUT1 0x3f8 = 0x43']);
});

test('INS whose destination page is not present faults before reading the port (the device keeps its byte)', (t) => {
  const noAs = assemblerUnavailable();
  if (noAs) return t.skip(noAs);
  const { dev, regs, cpu, ram } = setup();
  const [code] = assemble(['rep insb']);
  ram.write(CODE, code!);
  dev.readValues.push(0x5an);
  regs.setGpr(RDI, 0x7000_0000n); // not mapped
  regs.setGpr(RCX, 1n);
  regs.setGpr(RDX, 0x3f8n);
  const out = emulateInstruction(cpu, code!);
  assert.deepEqual(out, { kind: 'exception', fault: { vector: 14, errorCode: 2, cr2: 0x7000_0000 } });
  assert.deepEqual(dev.log, [], 'no IN was made');
  assert.equal(dev.readValues.length, 1, 'the byte is still there for the retry');
});
