/**
 * The assembled legacy platform: the MP table's routing matches the device
 * wiring (IRQ 0 → pin 2, COM1 → pin 4), shared COM IRQs OR together, and a
 * Linux-style probe of absent COM ports reads all ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLegacyPlatform, ioApicIdFor } from '../src/devices/legacy-platform.ts';
import { defaultIoApicId } from '../src/loader/mp-table.ts';
import { sharedIrq } from '../src/devices/irq-or.ts';
import { ManualClock } from '../src/devices/clock.ts';
import { IOAPIC_BASE } from '../src/memory/layout.ts';
import { ArraySink, ArraySource, RecordingInjector, RecordingIrq } from './helpers/device-test-kit.ts';

test('PIT IRQ 0 arrives on IOAPIC pin 2 and COM1 on pin 4, with the vectors the guest programmed', () => {
  const injector = new RecordingInjector();
  const clock = new ManualClock();
  const sink = new ArraySink();
  const p = createLegacyPlatform({ cpus: 1, injector, clock, serial: [{ com: 1, sink, source: new ArraySource() }] });
  const route = (pin: number, vector: number) => {
    p.mmio.write(IOAPIC_BASE, 4, 0x10 + 2 * pin);
    p.mmio.write(IOAPIC_BASE + 0x10, 4, vector);
  };
  route(2, 0x30);
  route(4, 0x34);
  p.pio.write(0x43, 1, 0x34);
  p.pio.write(0x40, 1, 0xa9);
  p.pio.write(0x40, 1, 0x04); // 1193: ~1 ms
  clock.advanceMs(1.5);
  p.pit.poll();
  p.pio.write(0x3fc, 1, 0x0b); // MCR: DTR RTS OUT2
  p.pio.write(0x3f9, 1, 0x02); // IER: THRE
  assert.deepEqual(injector.requests.map((r) => r.vector), [0x30, 0x34]);
  p.pio.write(0x3f8, 1, 0x41);
  assert.deepEqual(sink.bytes, [0x41]);
});

test('unconfigured COM ports read all ones (Linux finds no UART there)', () => {
  const p = createLegacyPlatform({ cpus: 2, injector: new RecordingInjector() });
  for (const base of [0x3f8, 0x2f8, 0x3e8, 0x2e8]) assert.equal(p.pio.read(base + 5, 1), 0xff);
  assert.equal(p.uarts.filter(Boolean).length, 0);
});

test('a shared IRQ stays asserted while any source asserts it', () => {
  const target = new RecordingIrq();
  const [a, b] = sharedIrq(target, 2) as [ReturnType<typeof sharedIrq>[0], ReturnType<typeof sharedIrq>[0]];
  a.set(true);
  b.set(true);
  a.set(false);
  assert.equal(target.level, true);
  b.set(false);
  assert.equal(target.level, false);
  assert.equal(target.rises, 1);
});

test('the IOAPIC ID register and the MP table agree for any vCPU count', () => {
  for (const cpus of [1, 2, 4, 15, 16, 64, 254]) {
    const p = createLegacyPlatform({ cpus, injector: new RecordingInjector() });
    p.mmio.write(IOAPIC_BASE, 4, 0);
    assert.equal(p.mmio.read(IOAPIC_BASE + 0x10, 4) >>> 24, defaultIoApicId(cpus), `${cpus} vCPUs`);
    assert.equal(ioApicIdFor(cpus), defaultIoApicId(cpus));
  }
  const p = createLegacyPlatform({ cpus: 1, injector: new RecordingInjector() });
  assert.equal(p.ioapic.version, 0x20, 'MP table default version (0x20) matches the device');
});
