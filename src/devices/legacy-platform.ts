/**
 * The PC legacy device set of a krun-whp VM, wired the way the MP table
 * (src/loader/mp-table.ts) describes it:
 *
 *   port 0x3F8 COM1 → IRQ 4 (pin 4)   0x2F8 COM2 → IRQ 3   0x3E8 COM3 → IRQ 4   0x2E8 COM4 → IRQ 3
 *   ports 0x40-0x43 PIT, OUT0 → IRQ 0 → IOAPIC pin 2; port 0x61 (PIT gate / OUT2 status)
 *   ports 0x60/0x64 i8042 → IRQ 1 / IRQ 12
 *   ports 0x70/0x71 CMOS/RTC → IRQ 8
 *   port 0x3F0 boot-time marker
 *   MMIO 0xFEC00000 IOAPIC (24 pins) → InterruptInjector (the backend)
 *
 * Only the COM ports asked for are created (the others stay unclaimed: reads all
 * ones, so Linux's 8250 probe finds no UART there). The owner drives time: call
 * `pit.poll()` at `pit.nextIrqNs()` and `rtc.poll()` at `rtc.nextIrqNs()` (and
 * `uart.pollHost()` when the console rings signal), and subscribes to
 * `i8042.resetRequested` and `bootMarker.reached`.
 */
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { IOAPIC_BASE } from '../memory/layout.ts';
import { PortIoBus, MmioBus } from './bus.ts';
import type { ByteSink, ByteSource } from './byte-stream.ts';
import type { Clock } from './clock.ts';
import { hostClock } from './clock.ts';
import { CmosRtc } from './cmos-rtc.ts';
import { I8042 } from './i8042.ts';
import type { InterruptInjector } from './interrupt-injector.ts';
import { IoApic, IOAPIC_MMIO_SIZE } from './ioapic.ts';
import { sharedIrq } from './irq-or.ts';
import { Pit8254 } from './pit8254.ts';
import { Uart16550 } from './uart16550.ts';
import { COM_PORTS } from './uart16550-regs.ts';
import { BootMarker, BOOT_MARKER_PORT } from './boot-marker.ts';

export interface SerialPortConfig {
  /** 1-4 */
  com: 1 | 2 | 3 | 4;
  sink: ByteSink;
  source: ByteSource;
}

export interface LegacyPlatformOptions {
  injector: InterruptInjector;
  /** Number of vCPUs: the IOAPIC takes the first APIC ID after them, as the MP table says. */
  cpus: number;
  clock?: Clock;
  log?: Logger;
  serial?: readonly SerialPortConfig[];
  memoryBelow4G?: number;
  memoryAbove4G?: number;
  /** Default: ioApicIdFor(cpus); must equal the MP table's I/O APIC entry. */
  ioApicId?: number;
  ioApicVersion?: 0x11 | 0x20;
}

/**
 * The IOAPIC's ID for a machine with `cpus` vCPUs: the first APIC ID after the
 * CPUs, within the ID register's 4 bits. Same rule as the MP table builder's
 * defaultIoApicId (src/loader/mp-table.ts; a test checks they agree).
 */
export function ioApicIdFor(cpus: number): number {
  return Math.min(cpus, 0x0f);
}

export interface LegacyPlatform {
  pio: PortIoBus;
  mmio: MmioBus;
  ioapic: IoApic;
  /** Indexed by COM number - 1; undefined where not configured. */
  uarts: (Uart16550 | undefined)[];
  rtc: CmosRtc;
  pit: Pit8254;
  i8042: I8042;
  bootMarker: BootMarker;
}

/** ISA IRQ → IOAPIC pin, as the MP table routes it (IRQ 0 → pin 2). */
export function isaIrqPin(irq: number): number {
  return irq === 0 ? 2 : irq;
}

export function createLegacyPlatform(options: LegacyPlatformOptions): LegacyPlatform {
  const log = options.log ?? silentLogger;
  const clock = options.clock ?? hostClock;
  const pio = new PortIoBus(log);
  const mmio = new MmioBus(log);
  const ioapic = new IoApic(options.injector, { id: options.ioApicId ?? ioApicIdFor(options.cpus), version: options.ioApicVersion, log });
  mmio.register(IOAPIC_BASE, IOAPIC_MMIO_SIZE, ioapic);

  // COM ports: two share each of IRQ 3 and IRQ 4.
  const irq3 = sharedIrq(ioapic.line(3), 2);
  const irq4 = sharedIrq(ioapic.line(4), 2);
  const comIrq = [irq4[0]!, irq3[0]!, irq4[1]!, irq3[1]!];
  const uarts: (Uart16550 | undefined)[] = [undefined, undefined, undefined, undefined];
  for (const s of options.serial ?? []) {
    const port = COM_PORTS[s.com - 1]!;
    const uart = new Uart16550({ name: `${port.name.toLowerCase()}@0x${port.base.toString(16)}`, irq: comIrq[s.com - 1], sink: s.sink, source: s.source });
    pio.register(port.base, 8, uart);
    uarts[s.com - 1] = uart;
  }

  const pit = new Pit8254({ clock, irq0: ioapic.line(isaIrqPin(0)) });
  pio.register(0x40, 4, pit);
  pio.register(0x61, 1, pit.port61Device);
  const i8042 = new I8042({ irq1: ioapic.line(1), irq12: ioapic.line(12) });
  pio.register(0x60, 1, i8042.dataPort);
  pio.register(0x64, 1, i8042.commandPort);
  const rtc = new CmosRtc({ clock, irq: ioapic.line(8), memoryBelow4G: options.memoryBelow4G, memoryAbove4G: options.memoryAbove4G });
  pio.register(0x70, 2, rtc);
  const bootMarker = new BootMarker(clock);
  pio.register(BOOT_MARKER_PORT, 1, bootMarker);
  return { pio, mmio, ioapic, uarts, rtc, pit, i8042, bootMarker };
}
