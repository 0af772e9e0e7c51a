/**
 * Emulator callbacks: a throwing JS callback must return a failing HRESULT to
 * C (koffi would otherwise return 0 = S_OK). Checked through a real koffi
 * registered callback called from native code (koffi.call), which works on
 * Linux; WinHvEmulation.dll itself needs Windows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKoffi } from '../src/native/koffi.ts';
import { guardCallback } from '../src/whp/whp-emulator.ts';
import { koffiTypesFor } from '../src/whp/koffi-types.ts';
import { whpRegistry } from '../src/whp/whp-decls.ts';
import { WHV_CALLBACKS } from '../src/whp/whp-functions.ts';
import { E_FAIL } from '../src/whp/hresult.ts';

test('guardCallback: a throw becomes E_FAIL and the first error is kept for the caller', () => {
  const sink: { error: unknown } = { error: undefined };
  const ok = guardCallback(sink, (x: number) => x);
  const bad = guardCallback(sink, (): number => {
    throw new Error('device exploded');
  });
  assert.equal(ok(0), 0);
  assert.equal(bad(), E_FAIL);
  assert.equal(bad(), E_FAIL);
  assert.equal((sink.error as Error).message, 'device exploded');
});

test('through a koffi-registered WHV_EMULATOR_IO_PORT_CALLBACK: native caller sees E_FAIL, and the IO info is decoded', (t) => {
  let koffi;
  try {
    koffi = loadKoffi();
  } catch (err) {
    return t.skip(`koffi does not load on this host: ${(err as Error).message}`);
  }
  const kt = koffiTypesFor(koffi, whpRegistry);
  const proto = kt.proto(WHV_CALLBACKS[0]!);
  const sink: { error: unknown } = { error: undefined };
  const seen: number[] = [];
  const cb = guardCallback(sink, (_ctx: unknown, info: bigint) => {
    const dv = new DataView(koffi.view(info, 12));
    seen.push(dv.getUint8(0), dv.getUint16(2, true), dv.getUint16(4, true), dv.getUint32(8, true));
    if (dv.getUint16(2, true) === 0xdead) throw new Error('no device');
    return 0;
  });
  const ptr = koffi.register(cb, koffi.pointer(proto));
  try {
    const info = new Uint8Array(12);
    const dv = new DataView(info.buffer);
    dv.setUint8(0, 1);
    dv.setUint16(2, 0x3f8, true);
    dv.setUint16(4, 1, true);
    dv.setUint32(8, 0x41, true);
    assert.equal(koffi.call(ptr, proto, null, info), 0);
    assert.deepEqual(seen, [1, 0x3f8, 1, 0x41]);
    dv.setUint16(2, 0xdead, true);
    assert.equal(koffi.call(ptr, proto, null, info), E_FAIL);
    assert.match((sink.error as Error).message, /no device/);
  } finally {
    koffi.unregister(ptr);
  }
});
