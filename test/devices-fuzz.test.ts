/**
 * Hostile register traffic: random widths, offsets (inside and around each
 * device's range), values and interleavings, including divisor 0, FIFO
 * overruns, reads of write-only registers, IOAPIC selects out of range, RTC
 * indexes with the NMI bit, PIT read-back storms and i8042 queue floods. No
 * access may throw, every read must be a value of the access width, and the
 * UART must neither lose nor invent host input bytes.
 *
 * The seed is printed (test diagnostic); replay with FUZZ_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortIoBus, MmioBus } from '../src/devices/bus.ts';
import { Uart16550 } from '../src/devices/uart16550.ts';
import { IoApic } from '../src/devices/ioapic.ts';
import { CmosRtc } from '../src/devices/cmos-rtc.ts';
import { Pit8254 } from '../src/devices/pit8254.ts';
import { I8042 } from '../src/devices/i8042.ts';
import { BootMarker } from '../src/devices/boot-marker.ts';
import { ManualClock } from '../src/devices/clock.ts';
import { IOAPIC_BASE } from '../src/memory/layout.ts';
import type { InterruptInjector } from '../src/devices/interrupt-injector.ts';
import { ArraySink, ArraySource, fuzzSeed, prng } from './helpers/device-test-kit.ts';

const SIZES = [1, 2, 4] as const;
const OPS = 40_000;

test('fuzz: every legacy device survives random register traffic', (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);

  const clock = new ManualClock();
  let delivered = 0;
  let ioapic: IoApic;
  const injector: InterruptInjector = {
    requestInterrupt(r) {
      delivered++;
      // A guest that EOIs right away (same-thread reentrancy) now and then.
      if (rnd() < 0.3) ioapic.eoi(r.vector);
    },
  };
  ioapic = new IoApic(injector, { id: 2 });
  const sink = new ArraySink(64);
  const inputBytes = Array.from({ length: 5000 }, () => int(256));
  const source = new ArraySource(inputBytes);
  const uart = new Uart16550({ irq: ioapic.line(4), sink, source });
  const rtc = new CmosRtc({ clock, memoryBelow4G: 256 << 20, irq: ioapic.line(8) });
  const pit = new Pit8254({ clock, irq0: ioapic.line(2) });
  const kbc = new I8042({ irq1: ioapic.line(1), irq12: ioapic.line(12) });
  const marker = new BootMarker(clock);
  let resets = 0;
  kbc.resetRequested.subscribe(() => resets++);

  const pio = new PortIoBus();
  pio.register(0x3f8, 8, uart);
  pio.register(0x70, 2, rtc);
  pio.register(0x40, 4, pit);
  pio.register(0x61, 1, pit.port61Device);
  pio.register(0x60, 1, kbc.dataPort);
  pio.register(0x64, 1, kbc.commandPort);
  pio.register(0x3f0, 1, marker);
  const mmio = new MmioBus();
  mmio.register(IOAPIC_BASE, 0x1000, ioapic);

  const portTargets = [
    [0x3f8, 9],
    [0x70, 3],
    [0x40, 5],
    [0x60, 6],
    [0x3f0, 2],
  ] as const;
  let rxSeen = 0;
  for (let i = 0; i < OPS; i++) {
    const size = SIZES[int(3)]!;
    const value = rnd() < 0.2 ? [0, 0xff, 0xffffffff, 0x80, 0x7f][int(5)]! : int(2 ** 32);
    const r = rnd();
    if (r < 0.55) {
      const [base, span] = portTargets[int(portTargets.length)]!;
      const port = base - 1 + int(span + 1);
      if (rnd() < 0.5) {
        const v = pio.read(port, size);
        assert.ok(Number.isInteger(v) && v >= 0 && v <= 2 ** (8 * size) - 1, `read ${v} of width ${size} at 0x${port.toString(16)}`);
        if (port === 0x3f8 && size === 1) rxSeen++;
      } else pio.write(port, size, value);
    } else if (r < 0.8) {
      // IOAPIC: mostly IOREGSEL/IOWIN/EOI, with any select value (0-255)
      const off = [0x00, 0x10, 0x40, 0x13, 0x20, 0xffc][int(6)]! + (size === 1 ? int(4) : 0);
      if (rnd() < 0.5) {
        const v = mmio.read(IOAPIC_BASE + off, size);
        assert.ok(Number.isInteger(v) && v >= 0 && v <= 2 ** (8 * size) - 1);
      } else mmio.write(IOAPIC_BASE + off, size, off === 0 ? int(256) : value);
    } else if (r < 0.85) {
      ioapic.line(int(24)).set(rnd() < 0.5);
    } else if (r < 0.9) {
      clock.advanceNs(int(5e6));
      pit.poll();
      rtc.poll();
    } else if (r < 0.95) {
      sink.capacity = rnd() < 0.5 ? sink.bytes.length : Infinity;
      uart.pollHost();
    } else {
      ioapic.eoi(int(256));
    }
  }
  t.diagnostic(
    `uart tx=${uart.stats.txBytes} rx=${uart.stats.rxBytes} txDropped=${uart.stats.txDropped} loopOverruns=${uart.stats.rxOverruns}; ` +
      `ioapic delivered=${delivered}; pit irqs=${pit.stats.irqs}; i8042 resets=${resets} dropped=${kbc.droppedBytes}; ` +
      `unclaimed pio r/w/width=${pio.unclaimed.reads}/${pio.unclaimed.writes}/${pio.unclaimed.badWidth}; rbr reads=${rxSeen}`,
  );
});

test('fuzz: UART host input is never dropped, whatever the guest does to FCR/MCR/LCR', (t) => {
  const seed = fuzzSeed() ^ 0x5a5a;
  t.diagnostic(`fuzz seed ${seed}`);
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const input = Array.from({ length: 3000 }, (_, i) => i & 0xff);
  const source = new ArraySource(input);
  const uart = new Uart16550({ source });
  // FIFOs on before input flows: toggling FCR bit 0 later would clear them, which is the
  // guest's explicit request (datasheet), not a loss by the device.
  uart.write(2, 1, 0x01);
  const got: number[] = [];
  for (let i = 0; i < 100_000 && got.length < input.length; i++) {
    const r = rnd();
    if (r < 0.1) uart.write(3, 1, int(256) & 0x7f); // LCR without DLAB mostly
    else if (r < 0.15) uart.write(4, 1, 0x02 | (int(2) ? 0x08 : 0)); // MCR: RTS on, no loopback
    else if (r < 0.2) uart.write(2, 1, 0x01 | (int(4) << 6)); // FCR: FIFO on, any trigger, no clearing
    else if (r < 0.25) uart.write(1, 1, int(16));
    else if (r < 0.3) uart.read(1 + int(7), 1); // any register but RBR
    else if (r < 0.35) uart.pollHost();
    else if (uart.read(5, 1) & 1 && (uart.read(3, 1) & 0x80) === 0) got.push(uart.read(0, 1));
  }
  assert.deepEqual(got, input.slice(0, got.length), 'bytes arrive in order, none skipped');
  assert.ok(got.length > 1000, `made progress (${got.length} bytes)`);
});
