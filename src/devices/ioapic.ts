/**
 * I/O APIC (Intel 82093AA datasheet, 3.0 "Register description"), 24 pins, at
 * IOAPIC_BASE (0xFEC00000) on the MMIO bus.
 *
 * Memory-mapped registers: IOREGSEL at +0x00 (index), IOWIN at +0x10 (data),
 * and the EOI register at +0x40 (version 0x20 parts, ICH and later). Indirect
 * registers: 0x00 ID (bits 27:24), 0x01 version (bits 7:0 version, 23:16 max
 * redirection entry = 23), 0x02 arbitration ID, 0x10 + 2n / 0x11 + 2n the low /
 * high halves of redirection entry n.
 *
 * Version: 0x20 by default (QEMU's default too). Both EOI paths are live:
 * - `eoi(vector)`: the broadcast EOI a local APIC sends for a level-triggered
 *   vector. WHP's LAPIC reports it as an ApicEoi exit and the backend calls this
 *   (OpenVMM does the same with its 0x11 IOAPIC).
 * - the EOI register (+0x40): Linux writes it instead of the mask / edge / level
 *   / unmask sequence (4 MMIO exits, each a VM exit) when it must clear a stale
 *   remote IRR itself (`__eoi_ioapic_pin`, used with directed EOI and for the
 *   LAPIC/IOAPIC trigger-mismatch fix-up). Version 0x11 makes Linux use the
 *   slow sequence, which also works here. With `version: 0x11` the register is
 *   absent (reads all ones, writes ignored), as on an 82093AA.
 *
 * Pins are logical (asserted / not asserted). The polarity bit is stored and
 * reported but not applied: the devices drive their lines by meaning, not by
 * voltage, and the MP table declares ISA interrupts active-high.
 *
 * Edge pins deliver on a rising edge; a masked edge is discarded (datasheet,
 * bit 16). Level pins deliver while asserted and remote IRR is clear; remote IRR
 * is set on delivery and cleared by an EOI for the entry's vector, after which a
 * still-asserted line is delivered again.
 */
import type { AccessSize, BusDevice, IrqLine } from './device.ts';
import { ACCESS_1_2_4 } from './device.ts';
import type { InterruptInjector, InterruptRequest } from './interrupt-injector.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';

export const IOAPIC_PINS = 24;
export const IOAPIC_MMIO_SIZE = 0x1000;
export const IOAPIC_DEFAULT_VERSION = 0x20;

const REG_SELECT = 0x00;
const REG_WINDOW = 0x10;
const REG_EOI = 0x40;

const IDX_ID = 0x00;
const IDX_VERSION = 0x01;
const IDX_ARBITRATION = 0x02;
const IDX_REDIR_BASE = 0x10;

// Redirection entry, low dword.
const RTE_VECTOR = 0xff;
const RTE_DELIVERY_MODE_SHIFT = 8;
const RTE_DEST_LOGICAL = 1 << 11;
const RTE_DELIVERY_STATUS = 1 << 12;
const RTE_POLARITY_LOW = 1 << 13;
const RTE_REMOTE_IRR = 1 << 14;
const RTE_LEVEL = 1 << 15;
const RTE_MASKED = 1 << 16;
/** Bits the guest may write in the low dword (delivery status and remote IRR are read-only). */
const RTE_LOW_WRITABLE = 0x1_ffff & ~(RTE_DELIVERY_STATUS | RTE_REMOTE_IRR);
/** High dword: only the destination field, bits 63:56. */
const RTE_HIGH_WRITABLE = 0xff00_0000;

export interface IoApicOptions {
  /** APIC ID placed in the ID register (the MP table must list the same). */
  id?: number;
  version?: 0x11 | 0x20;
  log?: Logger;
}

export interface IoApicStats {
  delivered: number;
  /** Edges that arrived on a masked pin (discarded, per the datasheet). */
  maskedEdges: number;
}

export class IoApic implements BusDevice {
  readonly name = 'ioapic';
  readonly accessSizes = ACCESS_1_2_4;
  readonly version: 0x11 | 0x20;
  readonly stats: IoApicStats = { delivered: 0, maskedEdges: 0 };

  private readonly injector: InterruptInjector;
  private readonly log: Logger;
  private select = 0;
  private id: number;
  private readonly low = new Uint32Array(IOAPIC_PINS);
  private readonly high = new Uint32Array(IOAPIC_PINS);
  /** Current logical level of each input pin. */
  private readonly level = new Uint8Array(IOAPIC_PINS);
  private readonly lines: IrqLine[];
  private deliveryDepth = 0;
  private draining = false;
  /** Pins whose re-delivery was deferred by a reentrant EOI (bit per pin). */
  private deferred = 0;
  /** Reused for every delivery: the injector copies, never keeps it. */
  private readonly request: InterruptRequest = { vector: 0, destination: 0, destinationMode: 0, deliveryMode: 0, trigger: 0 };

  constructor(injector: InterruptInjector, options: IoApicOptions = {}) {
    this.injector = injector;
    this.id = (options.id ?? 0) & 0x0f;
    this.version = options.version ?? IOAPIC_DEFAULT_VERSION;
    this.log = options.log ?? silentLogger;
    this.low.fill(RTE_MASKED); // reset: every pin masked
    this.lines = Array.from({ length: IOAPIC_PINS }, (_, pin) => ({
      set: (level: boolean) => this.setPin(pin, level),
      pulse: () => {
        this.setPin(pin, true);
        this.setPin(pin, false);
      },
    }));
  }

  /** The IrqLine for input pin `pin` (0-23), to hand to a device. */
  line(pin: number): IrqLine {
    const l = this.lines[pin];
    if (l === undefined) throw new RangeError(`IOAPIC has pins 0-${IOAPIC_PINS - 1}, not ${pin}`);
    return l;
  }

  /** Low and high dwords of redirection entry `pin` (for tests and debugging). */
  entry(pin: number): { low: number; high: number } {
    return { low: this.low[pin]!, high: this.high[pin]! };
  }

  read(offset: number, size: AccessSize): number {
    const base = offset & ~3;
    let v: number;
    if (base === REG_SELECT) v = this.select;
    else if (base === REG_WINDOW) v = this.readIndirect(this.select);
    else return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff; // reserved / EOI (write only)
    const shift = (offset & 3) * 8;
    return size === 4 ? v >>> 0 : (v >>> shift) & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: AccessSize, value: number): void {
    const base = offset & ~3;
    const shift = (offset & 3) * 8;
    if (base === REG_SELECT) {
      if (shift === 0) this.select = value & 0xff; // only bits 7:0 are implemented
    } else if (base === REG_WINDOW) {
      let v = value;
      if (size !== 4) {
        // Narrow write: read-modify-write the addressed bytes of the 32-bit register.
        const mask = (size === 1 ? 0xff : 0xffff) << shift;
        v = ((this.readIndirect(this.select) & ~mask) | ((value << shift) & mask)) >>> 0;
      }
      this.writeIndirect(this.select, v);
    } else if (base === REG_EOI && this.version >= 0x20) {
      this.eoi(value & 0xff);
    }
  }

  /**
   * End of interrupt for `vector` (the LAPIC's EOI broadcast, or the EOI register):
   * clears remote IRR of every level entry with that vector and re-delivers those
   * whose line is still asserted.
   */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const low = this.low[pin]!;
      if ((low & RTE_VECTOR) !== vector || !(low & RTE_REMOTE_IRR)) continue;
      this.low[pin] = (low & ~RTE_REMOTE_IRR) >>> 0;
      // An injector that EOIs from inside requestInterrupt (same thread) must not recurse:
      // the re-delivery is deferred until the outer delivery returns.
      if (this.deliveryDepth > 0) this.deferred |= 1 << pin;
      else this.service(pin);
    }
  }

  private readIndirect(index: number): number {
    switch (index) {
      case IDX_ID:
        return (this.id << 24) >>> 0;
      case IDX_VERSION:
        return ((IOAPIC_PINS - 1) << 16) | this.version;
      case IDX_ARBITRATION:
        return (this.id << 24) >>> 0;
    }
    if (index >= IDX_REDIR_BASE && index < IDX_REDIR_BASE + 2 * IOAPIC_PINS) {
      const pin = (index - IDX_REDIR_BASE) >> 1;
      return index & 1 ? this.high[pin]! : this.low[pin]!;
    }
    return 0xffff_ffff; // unimplemented index: reads as an unclaimed register
  }

  private writeIndirect(index: number, value: number): void {
    if (index === IDX_ID) {
      this.id = (value >>> 24) & 0x0f;
      return;
    }
    if (index < IDX_REDIR_BASE || index >= IDX_REDIR_BASE + 2 * IOAPIC_PINS) return; // read-only or absent
    const pin = (index - IDX_REDIR_BASE) >> 1;
    if (index & 1) {
      this.high[pin] = value & RTE_HIGH_WRITABLE;
      return;
    }
    const old = this.low[pin]!;
    let next = (old & ~RTE_LOW_WRITABLE) | (value & RTE_LOW_WRITABLE);
    // Remote IRR is defined only for level entries; switching to edge clears it.
    if (!(next & RTE_LEVEL)) next &= ~RTE_REMOTE_IRR;
    this.low[pin] = next >>> 0;
    // Unmasking (or reprogramming) a level pin that is held high delivers it now.
    if (next & RTE_LEVEL) this.service(pin);
  }

  private setPin(pin: number, asserted: boolean): void {
    if (this.deferred !== 0 && this.deliveryDepth === 0 && !this.draining) this.serviceDeferred();
    const was = this.level[pin] === 1;
    this.level[pin] = asserted ? 1 : 0;
    const low = this.low[pin]!;
    if (low & RTE_LEVEL) {
      if (asserted) this.service(pin);
    } else if (asserted && !was) {
      if (low & RTE_MASKED) this.stats.maskedEdges++;
      else this.deliver(pin, low);
    }
  }

  /** Level pins: deliver if asserted, unmasked and not already in service (remote IRR clear). */
  private service(pin: number): void {
    const low = this.low[pin]!;
    if (!(low & RTE_LEVEL) || low & RTE_MASKED || low & RTE_REMOTE_IRR || this.level[pin] === 0) return;
    // Remote IRR goes up before the message leaves, so an EOI that arrives synchronously
    // (a same-thread injector) finds it set.
    this.low[pin] = (low | RTE_REMOTE_IRR) >>> 0;
    if (!this.deliver(pin, low)) this.low[pin] = (this.low[pin]! & ~RTE_REMOTE_IRR) >>> 0;
  }

  private deliver(pin: number, low: number): boolean {
    const r = this.request;
    r.vector = low & RTE_VECTOR;
    r.deliveryMode = ((low >>> RTE_DELIVERY_MODE_SHIFT) & 7) as InterruptRequest['deliveryMode'];
    r.destinationMode = low & RTE_DEST_LOGICAL ? 1 : 0;
    r.trigger = low & RTE_LEVEL ? 1 : 0;
    r.destination = this.high[pin]! >>> 24;
    if (r.vector < 16 && r.deliveryMode <= 1) {
      // Vectors 0-15 are illegal for fixed / lowest-priority delivery (SDM 11.5.2); the LAPIC
      // would flag an illegal vector. Drop it rather than inject an exception vector.
      this.log.debug({ pin, vector: r.vector }, 'ioapic: dropping interrupt with illegal vector');
      return false;
    }
    this.stats.delivered++;
    this.deliveryDepth++;
    try {
      this.injector.requestInterrupt(r);
    } finally {
      this.deliveryDepth--;
    }
    if (this.deliveryDepth === 0 && this.deferred !== 0 && !this.draining) this.serviceDeferred();
    return true;
  }

  /**
   * Re-delivers level pins EOI'd during a delivery. Bounded: a line held high by a
   * device and EOI'd synchronously every time would otherwise loop forever; what is
   * left stays deferred until the next IOAPIC event.
   */
  private serviceDeferred(): void {
    this.draining = true;
    try {
      for (let rounds = 0; this.deferred !== 0 && rounds < 64; rounds++) {
        const pin = 31 - Math.clz32(this.deferred & -this.deferred);
        this.deferred &= ~(1 << pin);
        this.service(pin);
      }
    } finally {
      this.draining = false;
    }
  }
}

/** Exported so tests and the MP table agree on bit positions. */
export const RTE_BITS = {
  VECTOR: RTE_VECTOR,
  DEST_LOGICAL: RTE_DEST_LOGICAL,
  POLARITY_LOW: RTE_POLARITY_LOW,
  REMOTE_IRR: RTE_REMOTE_IRR,
  LEVEL: RTE_LEVEL,
  MASKED: RTE_MASKED,
} as const;
