/**
 * 8254 PIT: count-down rate at 1.193182 MHz under a virtual clock, the Linux
 * calibration sequence on counter 2 / port 0x61, periodic IRQ 0, latch and
 * read-back, modes 3 and BCD.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pit8254, PIT_HZ } from '../src/devices/pit8254.ts';
import { ManualClock } from '../src/devices/clock.ts';
import { PortIoBus } from '../src/devices/bus.ts';
import { RecordingIrq } from './helpers/device-test-kit.ts';

function setup() {
  const clock = new ManualClock();
  const irq = new RecordingIrq();
  const pit = new Pit8254({ clock, irq0: irq });
  const bus = new PortIoBus();
  bus.register(0x40, 4, pit);
  bus.register(0x61, 1, pit.port61Device);
  const outb = (p: number, v: number) => bus.write(p, 1, v);
  const inb = (p: number) => bus.read(p, 1);
  return { clock, irq, pit, outb, inb };
}

test('count-down rate: 1 ms of virtual time is 1193 ticks; 1 s is 1193182', () => {
  const { clock, outb, inb } = setup();
  outb(0x43, 0x34); // counter 0, LSB then MSB, mode 2, binary
  outb(0x40, 0x00);
  outb(0x40, 0x00); // 65536
  const read = () => {
    outb(0x43, 0x00); // latch counter 0
    return inb(0x40) | (inb(0x40) << 8);
  };
  const c0 = read();
  clock.advanceMs(1);
  const c1 = read();
  assert.equal((c0 - c1 + 0x10000) % 0x10000, Math.floor(PIT_HZ / 1000));
  clock.advanceNs(1e9);
  const ticks = Math.floor((1.001e9 * PIT_HZ) / 1e9);
  assert.equal(read(), (0x10000 - (ticks % 0x10000)) % 0x10000);
});

test("Linux's quick_pit_calibrate / pit_calibrate_tsc sequence on counter 2 and port 0x61", () => {
  const { clock, outb, inb } = setup();
  outb(0x61, (inb(0x61) & ~0x02) | 0x01); // gate high, speaker off
  outb(0x43, 0xb0); // counter 2, LSB/MSB, mode 0, binary
  outb(0x42, 0xff);
  outb(0x42, 0xff);
  inb(0x42);
  const msb0 = inb(0x42);
  assert.equal(msb0, 0xff);
  assert.equal(inb(0x61) & 0x20, 0, 'OUT2 low while counting (mode 0)');
  // Place virtual time at the middle of tick `t` after the count was written.
  const at = (t: number) => clock.advanceNs((t + 0.5) * (1e9 / PIT_HZ) - clock.monotonicNs());
  at(3 * 256 + 2); // the load clock + 3·256 + 1 decrements: 0xFFFF → 0xFCFE
  inb(0x42);
  assert.equal(inb(0x42), 0xfc, 'MSB drops by one every 256 ticks');
  // pit_calibrate_tsc: OUT2 rises at terminal count, 0xFFFF + 1 ticks after the write
  at(0xffff);
  assert.equal(inb(0x61) & 0x20, 0);
  at(0x10000);
  assert.equal(inb(0x61) & 0x20, 0x20);
  assert.equal(inb(0x61) & 0x03, 0x01, 'written bits read back');
});

test('gate low pauses counter 2 in mode 0', () => {
  const { clock, outb, inb } = setup();
  outb(0x61, 0x01);
  outb(0x43, 0xb0);
  outb(0x42, 0x00);
  outb(0x42, 0x10); // 4096
  clock.advanceNs(1e6);
  outb(0x61, 0x00);
  outb(0x43, 0x80);
  const a = inb(0x42) | (inb(0x42) << 8);
  clock.advanceNs(5e6);
  outb(0x43, 0x80);
  const b = inb(0x42) | (inb(0x42) << 8);
  assert.equal(a, b);
  assert.equal(a, 4096 - (Math.floor((1e6 * PIT_HZ) / 1e9) - 1));
});

test('counter 0 mode 2 drives IRQ 0 periodically; missed periods are coalesced; nextIrqNs schedules it', () => {
  const { clock, outb, pit, irq } = setup();
  outb(0x43, 0x34);
  outb(0x40, 1193 & 0xff);
  outb(0x40, 1193 >> 8); // ~1 kHz
  const next = pit.nextIrqNs();
  assert.ok(Math.abs(next - 1193 * (1e9 / PIT_HZ)) < 1, `next edge at ${next}`);
  clock.advanceNs(next - 1);
  pit.poll();
  assert.equal(irq.rises, 0);
  clock.advanceNs(1);
  pit.poll();
  assert.equal(irq.rises, 1);
  assert.equal(irq.level, false, 'pulsed (edge)');
  clock.advanceMs(10);
  pit.poll();
  assert.equal(irq.rises, 2);
  assert.equal(pit.stats.coalescedTicks, 9);
});

test('counter 0 mode 0: a single IRQ at terminal count', () => {
  const { clock, outb, pit, irq } = setup();
  outb(0x43, 0x30);
  outb(0x40, 100);
  outb(0x40, 0);
  clock.advanceMs(50);
  pit.poll();
  clock.advanceMs(50);
  pit.poll();
  assert.equal(irq.rises, 1);
  assert.equal(pit.nextIrqNs(), -1);
});

test('read-back command latches status (OUT, null count, RW, mode) and count', () => {
  const { clock, outb, inb } = setup();
  outb(0x43, 0x36); // counter 0, LSB/MSB, mode 3
  assert.equal((outb(0x43, 0xe2), inb(0x40)), 0x40 | 0x30 | 0x06 | 0x80, 'null count before the count is written');
  outb(0x40, 0x00);
  outb(0x40, 0x01); // 256
  clock.advanceNs(10 * (1e9 / PIT_HZ));
  outb(0x43, 0xc2); // latch count and status of counter 0
  assert.equal(inb(0x40), 0x80 | 0x30 | 0x06);
  const count = inb(0x40) | (inb(0x40) << 8);
  assert.equal(count, 256 - 20, 'mode 3 counts down by two');
});

test('LSB-only and MSB-only access, BCD counting', () => {
  const { clock, outb, inb } = setup();
  outb(0x43, 0x91); // counter 2, LSB only, mode 0, BCD
  outb(0x61, 0x01);
  outb(0x42, 0x99);
  clock.advanceNs(10 * (1e9 / PIT_HZ));
  assert.equal(inb(0x42), 0x90, 'BCD 99 - 9');
  outb(0x43, 0xa0); // MSB only
  outb(0x42, 0x12);
  assert.equal(inb(0x42), 0x12);
});

test('port 0x61 bit 4 toggles with the refresh clock (15.085 µs)', () => {
  const { clock, inb } = setup();
  const a = inb(0x61) & 0x10;
  clock.advanceNs(15_085);
  assert.notEqual(inb(0x61) & 0x10, a);
});

// Place virtual time at the middle of tick `t` (ticks since the PIT was created at time 0).
const atTick = (clock: ManualClock, t: number) => clock.advanceNs((t + 0.5) * (1e9 / PIT_HZ) - clock.monotonicNs());

test('mode 0: the first byte of a two-byte count holds the count; the second byte loads the new count', () => {
  const { clock, outb, inb } = setup();
  const latch2 = () => (outb(0x43, 0x80), inb(0x42) | (inb(0x42) << 8));
  outb(0x61, 0x01); // gate high
  outb(0x43, 0xb0); // counter 2, LSB/MSB, mode 0
  outb(0x42, 100);
  outb(0x42, 0);
  atTick(clock, 50);
  assert.equal(latch2(), 51, 'loading clock + 49 decrements');
  outb(0x42, 0x20); // first byte: "writing the first byte disables counting"
  atTick(clock, 60);
  assert.equal(latch2(), 51, 'held while counting is disabled');
  assert.equal(inb(0x42) | (inb(0x42) << 8), 51, 'unlatched read shows the held count too');
  outb(0x42, 0x00); // second byte: count 0x0020 loads on the next CLK
  atTick(clock, 65);
  assert.equal(latch2(), 32 - 4);
});

test('modes 2 and 3: GATE low holds the count; the rising edge reloads N', () => {
  for (const [mode, at10] of [[2, 100 - 10], [3, 100 - 2 * 10]] as const) {
    const { clock, outb, inb } = setup();
    const latch2 = () => (outb(0x43, 0x80), inb(0x42) | (inb(0x42) << 8));
    outb(0x61, 0x01);
    outb(0x43, 0xb0 | (mode << 1));
    outb(0x42, 100);
    outb(0x42, 0);
    atTick(clock, 5);
    const fiveAfterLoad = latch2();
    atTick(clock, 10);
    assert.equal(latch2(), at10, `mode ${mode} at tick 10`);
    outb(0x61, 0x00); // GATE low: counting disabled
    atTick(clock, 40);
    assert.equal(latch2(), at10, `mode ${mode}: held while GATE is low`);
    assert.equal(inb(0x61) & 0x20, 0x20, `mode ${mode}: OUT high while GATE is low`);
    outb(0x61, 0x01); // rising edge: reload N and count again
    atTick(clock, 45);
    assert.equal(latch2(), fiveAfterLoad, `mode ${mode}: counts from N again after the rising edge`);
  }
});

test('nextIrqNs: a poll at the returned time sees the edge (tick round trip, incl. tick 4,176,137)', () => {
  const edges = [4_176_137];
  for (let t = 200; t < 5_000_000; t += 9_973) edges.push(t);
  for (let t = 4_176_000; t < 4_176_300; t++) edges.push(t);
  for (const t of edges) {
    const { clock, outb, pit, irq } = setup();
    atTick(clock, t - 101);
    outb(0x43, 0x30); // counter 0, mode 0: OUT rises N + 1 ticks after the write
    outb(0x40, 100);
    outb(0x40, 0);
    const next = pit.nextIrqNs();
    assert.ok(next >= t * (1e9 / PIT_HZ) - 1 && next <= (t + 1) * (1e9 / PIT_HZ), `tick ${t}: ${next}`);
    clock.advanceNs(next - clock.monotonicNs());
    assert.equal(clock.monotonicNs(), next);
    pit.poll();
    assert.equal(irq.rises, 1, `edge at tick ${t} seen by a poll at ${next} ns`);
  }
});
