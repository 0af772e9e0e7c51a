import { test } from 'node:test';
import assert from 'node:assert/strict';
import { I8042 } from '../src/devices/i8042.ts';
import { BootMarker, BOOT_MARKER_PORT } from '../src/devices/boot-marker.ts';
import { ManualClock } from '../src/devices/clock.ts';
import { PortIoBus } from '../src/devices/bus.ts';
import { RecordingIrq } from './helpers/device-test-kit.ts';

function setup() {
  const irq1 = new RecordingIrq();
  const irq12 = new RecordingIrq();
  const kbc = new I8042({ irq1, irq12 });
  const bus = new PortIoBus();
  bus.register(0x60, 1, kbc.dataPort);
  bus.register(0x64, 1, kbc.commandPort);
  const outb = (p: number, v: number) => bus.write(p, 1, v);
  const inb = (p: number) => bus.read(p, 1);
  return { kbc, irq1, irq12, outb, inb };
}

test("Linux i8042 probe: flush, self-test 0x55, command byte round trip, keyboard test", () => {
  const { outb, inb } = setup();
  assert.equal(inb(0x64) & 0x01, 0, 'nothing to flush');
  assert.notEqual(inb(0x64), 0xff, 'a controller is present');
  outb(0x64, 0xaa);
  assert.equal(inb(0x64) & 0x01, 0x01);
  assert.equal(inb(0x60), 0x55);
  outb(0x64, 0x20);
  const ctr = inb(0x60);
  outb(0x64, 0x60);
  outb(0x60, ctr & ~0x01);
  outb(0x64, 0x20);
  assert.equal(inb(0x60), ctr & ~0x01);
  outb(0x64, 0xab);
  assert.equal(inb(0x60), 0x00);
});

test('AUX loopback (0xD3) is answered on the AUX channel with IRQ 12; 0xD4 to a missing mouse times out', () => {
  const { outb, inb, irq12 } = setup();
  outb(0x64, 0x60);
  outb(0x60, 0x47); // KBD and AUX interrupts on
  outb(0x64, 0xd3);
  outb(0x60, 0x5a);
  assert.equal(inb(0x64) & 0x21, 0x21);
  assert.equal(irq12.level, true);
  assert.equal(inb(0x60), 0x5a);
  assert.equal(irq12.level, false);
  outb(0x64, 0xd4);
  outb(0x60, 0xf2);
  assert.equal(inb(0x64) & 0x40, 0x40, 'timeout bit');
  assert.equal(inb(0x60), 0xfe);
});

test('keyboard answers reset and identify; one IRQ 1 edge per byte', () => {
  const { outb, inb, irq1 } = setup();
  outb(0x60, 0xff);
  assert.equal(irq1.rises, 1);
  assert.equal(inb(0x60), 0xfa);
  assert.equal(irq1.rises, 2, 'second byte makes a new edge');
  assert.equal(inb(0x60), 0xaa);
  outb(0x60, 0xf2);
  // Reset CTR has XLATE (bit 6) set, so the set-2 ID byte 0x83 arrives translated as 0x41.
  assert.deepEqual([inb(0x60), inb(0x60), inb(0x60)], [0xfa, 0xab, 0x41]);
  outb(0x60, 0xed);
  outb(0x60, 0x07);
  assert.deepEqual([inb(0x60), inb(0x60)], [0xfa, 0xfa]);
  assert.equal(inb(0x64) & 0x01, 0);
});

test('0xFE to port 0x64 (reboot=k) fires resetRequested; so does an output-port write with bit 0 clear', () => {
  const { kbc, outb } = setup();
  const seen: number[] = [];
  kbc.resetRequested.subscribe((r) => seen.push(r.command));
  outb(0x64, 0xff); // pulse no lines
  assert.deepEqual(seen, []);
  outb(0x64, 0xfe);
  outb(0x64, 0xd1);
  outb(0x60, 0x02);
  assert.deepEqual(seen, [0xfe, 0xd1]);
});

test('a listener that throws does not escape into the bus', () => {
  const { kbc, outb } = setup();
  kbc.resetRequested.subscribe(() => {
    throw new Error('listener bug');
  });
  outb(0x64, 0xfe);
  assert.equal(kbc.resetRequested.listenerErrors.length, 1);
});

test('boot marker: 123 on port 0x3F0 emits one timestamped event; other values are ignored', () => {
  const clock = new ManualClock();
  const marker = new BootMarker(clock);
  const bus = new PortIoBus();
  bus.register(BOOT_MARKER_PORT, 1, marker);
  const events: number[] = [];
  marker.reached.subscribe((e) => events.push(e.timeNs));
  clock.advanceMs(812);
  bus.write(BOOT_MARKER_PORT, 1, 7);
  bus.write(BOOT_MARKER_PORT, 1, 123);
  assert.deepEqual(events, [812e6]);
  assert.equal(marker.firstNs, 812e6);
  assert.equal(marker.ignoredWrites, 1);
  assert.equal(bus.read(BOOT_MARKER_PORT, 1), 0xff);
});
