/**
 * RegisterBatch over real native memory (koffi.alloc, which works on Linux):
 * the WHV_REGISTER_VALUE array is 16-byte aligned, names are the header's
 * WHV_REGISTER_NAME values, and accessors write the header's layout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKoffi } from '../src/native/koffi.ts';
import { allocAligned } from '../src/whp/native-memory.ts';
import { RegisterBatch, registerName } from '../src/whp/register-batch.ts';
import { segment, u64 } from '../src/whp/exit-context.ts';

function koffiOrSkip(t: { skip: (m: string) => void }) {
  try {
    return loadKoffi();
  } catch (err) {
    t.skip(`koffi does not load on this host: ${(err as Error).message}`);
    return undefined;
  }
}

test('aligned native blocks: every address is a multiple of 16 and the view is the memory at it', (t) => {
  const koffi = koffiOrSkip(t);
  if (!koffi) return;
  for (const size of [1, 12, 224, 1000, 4097]) {
    const b = allocAligned(koffi, size, 16);
    assert.equal(b.address % 16n, 0n, `size ${size}`);
    b.bytes[0] = 0xab;
    assert.equal(koffi.decode(b.address, 'uint8_t'), 0xab);
    b.free();
    b.free();
  }
  assert.throws(() => allocAligned(koffi, 16, 12), /power of two/);
});

test('a batch for the IO-exit registers: names, 16-aligned values, 64-bit halves, carry, BigInt', (t) => {
  const koffi = koffiOrSkip(t);
  if (!koffi) return;
  const names = ['Rax', 'Rip', 'Rflags', 'Cs', 'Gdtr'] as const;
  const b = new RegisterBatch(names, allocAligned(koffi, RegisterBatch.byteSize(names.length), 16));
  assert.equal(b.valuesAddress % 16n, 0n);
  assert.equal(b.namesAddress % 4n, 0n);
  assert.deepEqual(koffi.decode(b.namesAddress, 'uint32_t', 5), new Uint32Array([0x0, 0x10, 0x11, 0x13, 0x1b]));
  assert.equal(b.slot.Rip, 1);
  b.setU64(b.slot.Rip, 0xfffffffe, 0xffffffff);
  b.addU64(b.slot.Rip, 3);
  assert.equal(b.getBigInt(b.slot.Rip), 0x1n, 'carry wraps the 64-bit value');
  b.setBigInt(b.slot.Rax, 0x1122334455667788n);
  assert.deepEqual(b.getU64(b.slot.Rax, u64()), { lo: 0x55667788, hi: 0x11223344 });
  // The values live at valuesAddress: Rax is slot 0.
  assert.equal(koffi.decode(b.valuesAddress, 'uint64_t'), 0x1122334455667788n);
  const cs = segment();
  cs.base.lo = 0x1000;
  cs.limit = 0xffffffff;
  cs.selector = 0x10;
  cs.attributes = 0xa09b;
  b.setSegment(b.slot.Cs, cs);
  const at = b.valuesAddress + 16n * 3n;
  assert.equal(koffi.decode(at + 12n, 'uint16_t'), 0x10, 'Selector at +12');
  assert.equal(koffi.decode(at + 14n, 'uint16_t'), 0xa09b, 'Attributes at +14');
  assert.deepEqual(b.getSegment(b.slot.Cs, segment()), cs);
  b.setTable(b.slot.Gdtr, 0xffff8880_00001000n, 0x7f);
  assert.equal(koffi.decode(b.valuesAddress + 16n * 4n + 6n, 'uint16_t'), 0x7f, 'Table.Limit at +6');
  assert.deepEqual(b.getTable(b.slot.Gdtr), { base: 0xffff888000001000n, limit: 0x7f });
  b.free();
});

test('register short names map to the header values; unknown names and misaligned buffers are refused', () => {
  assert.equal(registerName('Efer'), 0x2001);
  assert.equal(registerName('InternalActivityState'), 0x80000005);
  assert.equal(registerName('DeliverabilityNotifications'), 0x80000004);
  assert.throws(() => registerName('Eax'), /unknown WHP register 'Eax'/);
  const buf = new Uint8Array(64);
  assert.throws(() => new RegisterBatch(['Rax'], { address: 0x1008n, bytes: buf, free() {} }), /not 16-byte aligned/);
});
