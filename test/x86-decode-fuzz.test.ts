/**
 * Decoder robustness and the SDM rules the objdump comparison cannot see: random byte
 * strings never throw or hang, lengths stay within 15, truncated buffers say Truncated,
 * over-long instructions give #GP(0), and decodeInto reuses its output object.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, decodeInto, DecodeFault, Instruction, Op, OperandKind, Prefix, Reg, Seg } from '../src/x86/decode/index.ts';
import type { DecodeMode } from '../src/x86/decode/index.ts';

const DEEP = process.env.X86_DEEP === '1';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

test('random byte strings never throw; lengths ≤ 15; faults are #UD, #GP or Truncated', () => {
  const r = rng(1234);
  const buf = new Uint8Array(32);
  const inst = new Instruction();
  const n = DEEP ? 2_000_000 : 200_000;
  const seen = new Map<DecodeFault, number>();
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 32; j++) buf[j] = r() & 0xff;
    // Bias towards escapes and prefixes, where the decoder has most paths.
    if (i % 3 === 0) buf[0] = [0x0f, 0xc4, 0xc5, 0x66, 0xf3, 0xf2, 0xf0, 0x48][i % 8]!;
    const mode = ([64, 32, 16] as const)[i % 3]!;
    const limit = i % 5 === 0 ? r() % 16 : 32;
    const f = decodeInto(buf, 0, mode, inst, limit);
    seen.set(f, (seen.get(f) ?? 0) + 1);
    assert.ok(inst.length <= 15, `length ${inst.length}`);
    if (f === DecodeFault.None) {
      assert.ok(inst.length >= 1 && inst.length <= limit);
      assert.notEqual(inst.op, Op.INVALID);
      assert.ok(inst.nOps >= 0 && inst.nOps <= 4);
    } else {
      assert.ok([DecodeFault.InvalidOpcode, DecodeFault.GeneralProtection, DecodeFault.Truncated].includes(f));
      assert.equal(inst.op, Op.INVALID);
    }
  }
  assert.ok((seen.get(DecodeFault.None) ?? 0) > n / 3);
  assert.ok((seen.get(DecodeFault.InvalidOpcode) ?? 0) > 0);
  assert.ok((seen.get(DecodeFault.Truncated) ?? 0) > 0);
});

test('the in-place path (long buffer) and the near-end path (short buffer) decode identically', () => {
  // decodeInto reads long buffers without bounds checks and copies short tails into a
  // scratch buffer; both must give the same Instruction.
  const r = rng(99);
  const big = new Uint8Array(1 << 16);
  for (let j = 0; j < big.length; j++) big[j] = r() & 0xff;
  const a = new Instruction();
  const b = new Instruction();
  for (let i = 0; i < 50_000; i++) {
    const off = r() % (big.length - 128);
    if (i % 2 === 0) big[off] = [0x0f, 0xc4, 0xc5, 0x66, 0xf3, 0x48, 0xd9, 0x8b][i % 8]!;
    const mode = ([64, 32, 16] as const)[i % 3]!;
    const fa = decodeInto(big, off, mode, a);
    const fb = decodeInto(big.slice(off, off + 20), 0, mode, b);
    assert.equal(fa, fb);
    assert.deepEqual({ ...a }, { ...b }, `offset ${off}`);
  }
});

test('every proper prefix of a valid instruction is Truncated, and the full one decodes', () => {
  const cases = ['48b80102030405060708', 'f0480fc70c24', '66f30fb8c0', 'c4e17d6fc1', '8b8485ffffff7f', '0f01f8'];
  for (const h of cases) {
    const b = hex(h);
    for (let k = 0; k < b.length; k++) {
      assert.equal(decode(b, 0, 64, k).fault, DecodeFault.Truncated, `${h} cut at ${k}`);
    }
    const i = decode(b, 0, 64);
    assert.equal(i.fault, DecodeFault.None, h);
    assert.equal(i.length, b.length, h);
  }
});

test('15-byte limit: 15 bytes decode, 16 give #GP(0) (SDM Vol. 2 §2.3.11)', () => {
  // 11 × 66, then mov eax, imm32... with 66 it is imm16: 66×11 + b8 + imm16 = 14; use lea with disp32.
  const ok = hex('2e'.repeat(8) + '8d8424' + '11223344'); // 8 + 3 + 4 = 15
  assert.equal(decode(ok, 0, 64).fault, DecodeFault.None);
  assert.equal(decode(ok, 0, 64).length, 15);
  const long = hex('2e'.repeat(9) + '8d8424' + '11223344');
  assert.equal(decode(long, 0, 64).fault, DecodeFault.GeneralProtection);
  assert.equal(decode(hex('66'.repeat(20)), 0, 64).fault, DecodeFault.GeneralProtection);
});

test('prefix rules: last segment override wins; REX only right before the opcode; LOCK checks', () => {
  let i = decode(hex('2e368b00'), 0, 32);
  assert.equal(i.segOverride, Seg.SS);
  assert.equal(i.seg, Seg.SS);
  // In long mode DS does not displace an earlier FS.
  i = decode(hex('643e8b00'), 0, 64);
  assert.equal(i.seg, Seg.FS);
  // REX then 66: REX ignored → eax-sized? no: 66 → ax, and no REX.W.
  i = decode(hex('48668b00'), 0, 64);
  assert.equal(i.rex, 0);
  assert.equal(i.opSize, 2);
  i = decode(hex('66488b00'), 0, 64);
  assert.equal(i.opSize, 8);
  assert.equal(decode(hex('f001c0'), 0, 64).fault, DecodeFault.InvalidOpcode); // register destination
  assert.equal(decode(hex('f03900'), 0, 64).fault, DecodeFault.InvalidOpcode); // CMP is not lockable
  i = decode(hex('f00100'), 0, 64);
  assert.equal(i.fault, DecodeFault.None);
  assert.ok(i.prefixes & Prefix.LOCK);
});

test('64-bit-invalid opcodes and memory-only forms give #UD', () => {
  for (const h of ['06', '07', '0e', '16', '1e', '27', '2f', '37', '3f', '60', '61', 'ce', 'd40a', 'd50a', '9a000000000000', 'ea000000000000']) {
    assert.equal(decode(hex(h), 0, 64).fault, DecodeFault.InvalidOpcode, h);
    assert.notEqual(decode(hex(h), 0, 32).fault, DecodeFault.InvalidOpcode, h);
  }
  assert.equal(decode(hex('8dc0'), 0, 64).fault, DecodeFault.InvalidOpcode); // lea reg form
  assert.equal(decode(hex('0fc7c8'), 0, 64).fault, DecodeFault.InvalidOpcode); // cmpxchg8b reg form
  assert.equal(decode(hex('0f01f8'), 0, 32).fault, DecodeFault.InvalidOpcode); // swapgs outside long mode
  assert.equal(decode(hex('0f0b'), 0, 64).op, Op.UD2);
});

test('decoded form: operands, registers, memory, immediates', () => {
  // mov r64, imm64: immHi:imm is the full value.
  let i = decode(hex('49b90807060504030201'), 0, 64);
  assert.equal(i.op, Op.MOV);
  assert.equal(i.o0, OperandKind.Rm);
  assert.equal(i.hasMem, false);
  assert.equal(i.rm, Reg.R9);
  assert.equal(i.imm >>> 0, 0x05060708);
  assert.equal(i.immHi >>> 0, 0x01020304);
  // add rax, -1 (83 /0 ib): sign-extended imm8.
  i = decode(hex('4883c0ff'), 0, 64);
  assert.equal(i.imm, -1);
  assert.equal(i.immHi, -1);
  // mov ah, [rip+0x10]: no REX → high byte register 20.
  i = decode(hex('8a2510000000'), 0, 64);
  assert.equal(i.reg, Reg.AH);
  assert.equal(i.base, Reg.RIP);
  assert.ok(i.ripRel);
  assert.equal(i.disp, 0x10);
  // With REX, register 4 is SPL.
  i = decode(hex('408a2510000000'), 0, 64);
  assert.equal(i.reg, 4);
  // 16-bit [bp+di-2]: SS default.
  i = decode(hex('8b43fe'), 0, 16);
  assert.equal(i.base, Reg.RBP);
  assert.equal(i.index, Reg.RDI);
  assert.equal(i.disp, -2);
  assert.equal(i.seg, Seg.SS);
  // SIB: [rax+rcx*8+0x7fffffff]
  i = decode(hex('8b84c8ffffff7f'), 0, 64);
  assert.deepEqual([i.base, i.index, i.scale, i.disp], [Reg.RAX, Reg.RCX, 3, 0x7fffffff]);
  // Jcc rel32 and cc.
  i = decode(hex('0f84fcffffff'), 0, 64);
  assert.deepEqual([i.op, i.cc, i.imm, i.o0], [Op.Jcc, 4, -4, OperandKind.Rel]);
  // ENTER imm16, imm8.
  i = decode(hex('c810000f'), 0, 64);
  assert.deepEqual([i.op, i.imm, i.imm2, i.o1], [Op.ENTER, 0x10, 0x0f, OperandKind.Imm2]);
  // movzx eax, byte [rsi]: per-operand sizes.
  i = decode(hex('0fb606'), 0, 64);
  assert.deepEqual([i.op, i.s0, i.s1], [Op.MOVZX, 4, 1]);
  // rep movsq
  i = decode(hex('f348a5'), 0, 64);
  assert.deepEqual([i.op, i.opSize, i.o0, i.o1], [Op.MOVS, 8, OperandKind.StrDst, OperandKind.StrSrc]);
  assert.ok(i.prefixes & Prefix.REP);
  // SSE: movdqu xmm9, [rax] (F3 0F 6F, REX.R)
  i = decode(hex('f3440f6f08'), 0, 64);
  assert.deepEqual([i.op, i.reg, i.s0, i.s1], [Op.MOVDQU, 9, 16, 16]);
  // VEX: vmovdqu ymm1, [rax]
  i = decode(hex('c5fe6f08'), 0, 64);
  assert.deepEqual([i.op, i.vex, i.vexL, i.vecSize, i.s0], [Op.MOVDQU, 2, 1, 32, 32]);
  // mov cr3, rax: 64-bit regardless of prefixes; mod bits ignored.
  i = decode(hex('0f2218'), 0, 64);
  assert.deepEqual([i.op, i.reg, i.rm, i.opSize, i.hasMem], [Op.MOV_CR, 3, 0, 8, false]);
});

test('decodeInto reuses the output object (no stale fields)', () => {
  const out = new Instruction();
  decodeInto(hex('8b84c8ffffff7f'), 0, 64, out);
  assert.equal(out.hasMem, true);
  decodeInto(hex('90'), 0, 64, out);
  assert.deepEqual([out.op, out.hasMem, out.base, out.index, out.disp, out.length], [Op.NOP, false, -1, -1, 0, 1]);
  const mode: DecodeMode = 64;
  assert.equal(decodeInto(hex('f390'), 0, mode, out), DecodeFault.None);
  assert.equal(out.op, Op.PAUSE);
});
