/**
 * IOAPIC (82093AA register interface, version 0x20 EOI register): identification,
 * redirection, masking, edge vs level, remote IRR and both EOI paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IoApic, RTE_BITS } from '../src/devices/ioapic.ts';
import { MmioBus } from '../src/devices/bus.ts';
import { IOAPIC_BASE } from '../src/memory/layout.ts';
import { DeliveryMode, DestinationMode, TriggerMode } from '../src/devices/interrupt-injector.ts';
import { RecordingInjector } from './helpers/device-test-kit.ts';

function setup(version: 0x11 | 0x20 = 0x20) {
  const inj = new RecordingInjector();
  const ioapic = new IoApic(inj, { id: 1, version });
  const bus = new MmioBus();
  bus.register(IOAPIC_BASE, 0x1000, ioapic);
  const rd = (index: number) => {
    bus.write(IOAPIC_BASE, 4, index);
    return bus.read(IOAPIC_BASE + 0x10, 4);
  };
  const wr = (index: number, v: number) => {
    bus.write(IOAPIC_BASE, 4, index);
    bus.write(IOAPIC_BASE + 0x10, 4, v);
  };
  const program = (pin: number, low: number, dest = 0) => {
    wr(0x11 + 2 * pin, dest << 24);
    wr(0x10 + 2 * pin, low);
  };
  return { inj, ioapic, bus, rd, wr, program };
}

test('ID, version (0x20, 24 entries) and arbitration registers', () => {
  const { rd, wr } = setup();
  assert.equal(rd(0x00), 1 << 24);
  assert.equal(rd(0x01), 0x00170020);
  wr(0x00, 0x0f000000);
  assert.equal(rd(0x00), 0x0f000000);
  assert.equal(rd(0x02), 0x0f000000);
  wr(0x01, 0); // version is read-only
  assert.equal(rd(0x01), 0x00170020);
  assert.equal(setup(0x11).rd(0x01), 0x00170011);
});

test('redirection entries reset masked; delivery status and remote IRR are read-only', () => {
  const { rd, wr } = setup();
  for (let pin = 0; pin < 24; pin++) assert.equal(rd(0x10 + 2 * pin), RTE_BITS.MASKED);
  wr(0x10, 0xffffffff);
  assert.equal(rd(0x10), 0x1ffff & ~((1 << 12) | (1 << 14)));
  wr(0x11, 0xffffffff);
  assert.equal(rd(0x11), 0xff000000);
});

test('edge pin: one interrupt per rising edge with the programmed vector, destination and modes', () => {
  const { inj, ioapic, program } = setup();
  program(4, 0x24 | (DeliveryMode.LowestPriority << 8) | RTE_BITS.DEST_LOGICAL, 0x03);
  const line = ioapic.line(4);
  line.set(true);
  line.set(true); // no new edge
  line.set(false);
  line.pulse();
  assert.equal(inj.requests.length, 2);
  assert.deepEqual(inj.requests[0], {
    vector: 0x24,
    destination: 0x03,
    destinationMode: DestinationMode.Logical,
    deliveryMode: DeliveryMode.LowestPriority,
    trigger: TriggerMode.Edge,
  });
});

test('masking: edges on a masked pin are discarded, not held pending', () => {
  const { inj, ioapic, program } = setup();
  program(2, 0x30 | RTE_BITS.MASKED);
  ioapic.line(2).pulse();
  program(2, 0x30);
  assert.equal(inj.requests.length, 0);
  assert.equal(ioapic.stats.maskedEdges, 1);
  ioapic.line(2).pulse();
  assert.equal(inj.requests.length, 1);
});

test('level pin: remote IRR blocks re-delivery until EOI; EOI with the line still high re-delivers', () => {
  const { inj, ioapic, program, rd } = setup();
  program(10, 0x41 | RTE_BITS.LEVEL);
  const line = ioapic.line(10);
  line.set(true);
  assert.equal(inj.requests.length, 1);
  assert.equal(inj.requests[0]!.trigger, TriggerMode.Level);
  assert.ok(rd(0x10 + 20) & RTE_BITS.REMOTE_IRR);
  line.set(true);
  assert.equal(inj.requests.length, 1, 'remote IRR set: no second message');
  ioapic.eoi(0x99); // other vector: no effect
  assert.ok(rd(0x10 + 20) & RTE_BITS.REMOTE_IRR);
  ioapic.eoi(0x41); // LAPIC broadcast EOI, line still asserted
  assert.equal(inj.requests.length, 2);
  line.set(false);
  ioapic.eoi(0x41);
  assert.equal(rd(0x10 + 20) & RTE_BITS.REMOTE_IRR, 0);
  assert.equal(inj.requests.length, 2);
});

test('version 0x20 EOI register (+0x40) clears remote IRR; absent on version 0x11', () => {
  for (const version of [0x20, 0x11] as const) {
    const { inj, ioapic, program, bus, rd } = setup(version);
    program(5, 0x55 | RTE_BITS.LEVEL);
    ioapic.line(5).set(true);
    ioapic.line(5).set(false);
    bus.write(IOAPIC_BASE + 0x40, 4, 0x55);
    const irr = rd(0x10 + 10) & RTE_BITS.REMOTE_IRR;
    assert.equal(irr === 0, version === 0x20, `version ${version}`);
    assert.equal(inj.requests.length, 1);
  }
});

test('unmasking a level pin that is held high delivers it', () => {
  const { inj, ioapic, program } = setup();
  program(9, 0x61 | RTE_BITS.LEVEL | RTE_BITS.MASKED);
  ioapic.line(9).set(true);
  assert.equal(inj.requests.length, 0);
  program(9, 0x61 | RTE_BITS.LEVEL);
  assert.equal(inj.requests.length, 1);
});

test('out-of-range register selects and narrow accesses never throw', () => {
  const { rd, wr, bus } = setup();
  for (const idx of [0x03, 0x0f, 0x40, 0x7f, 0xff]) {
    assert.equal(rd(idx), 0xffffffff);
    wr(idx, 0x12345678);
  }
  bus.write(IOAPIC_BASE, 1, 0x10);
  assert.equal(bus.read(IOAPIC_BASE, 1), 0x10);
  bus.write(IOAPIC_BASE + 0x10, 1, 0x31); // vector byte only
  assert.equal(bus.read(IOAPIC_BASE + 0x10, 4), 0x10031);
  assert.equal(bus.read(IOAPIC_BASE + 0x12, 1), 0x01, 'byte 2 holds the mask bit');
  assert.equal(bus.read(IOAPIC_BASE + 0x20, 4), 0xffffffff);
  assert.throws(() => setup().ioapic.line(24), RangeError);
});

test('an injector that EOIs synchronously does not recurse; a stuck level line cannot hang the IOAPIC', () => {
  let ioapic!: IoApic;
  let count = 0;
  ioapic = new IoApic(
    {
      requestInterrupt(r) {
        count++;
        ioapic.eoi(r.vector); // same-thread "guest" that EOIs at once
      },
    },
    { id: 0 },
  );
  ioapic.write(0x00, 4, 0x10 + 2 * 7);
  ioapic.write(0x10, 4, 0x47 | RTE_BITS.LEVEL);
  ioapic.line(7).set(true); // held high forever
  assert.ok(count > 1 && count <= 100, `bounded re-delivery (${count})`);
});
