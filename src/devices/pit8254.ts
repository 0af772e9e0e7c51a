/**
 * Intel 8254 programmable interval timer at ports 0x40-0x43, plus the PC/AT
 * port 0x61 bits that belong to it (Intel 8254 datasheet, order 231164; IBM
 * PC/AT technical reference for port 0x61).
 *
 * - Three counters clocked at 1.193182 MHz. Counter 0's OUT drives IRQ 0;
 *   counter 2's GATE is port 0x61 bit 0 and its OUT is readable as port 0x61
 *   bit 5 (Linux's quick_pit_calibrate and pit_calibrate_tsc poll exactly
 *   these). Counter 1 (DRAM refresh on the AT) is the same logic, unwired.
 * - Counts are not ticked: each counter remembers when it was (re)started and
 *   derives its count and OUT from the injectable Clock, so the count-down rate
 *   is exact at any polling frequency and costs nothing while nobody looks.
 * - Modes 0-5, binary and BCD, LSB / MSB / LSB-then-MSB access with the
 *   read/write flip-flop, counter latch and read-back commands (status byte
 *   with OUT, null count, RW, mode, BCD).
 * - Mode 0 and 4 start one CLK after the count is written ("the initial count
 *   is loaded on the next CLK pulse"), so OUT rises N+1 clocks after the write.
 *   In mode 0 the first byte of a two-byte count disables counting, so reads
 *   show the count held from that moment until the second byte loads the new one.
 * - GATE low disables counting in modes 0, 2, 3 and 4: the count holds. Modes 2
 *   and 3 reload N on the next rising edge of GATE, not on the falling edge.
 * - IRQ 0: the VMM asks `nextIrqNs()` for when counter 0's OUT next rises and
 *   calls `poll()` at or after that time; poll pulses IRQ 0 once for the edges
 *   that passed (several missed periods are coalesced, counted in
 *   `stats.coalescedTicks`), as a timer interrupt that was not acknowledged in
 *   time would be on real hardware.
 * - Port 0x61 bit 4 toggles every 15.085 µs (the AT's refresh request), which
 *   old delay loops use.
 */
import type { AccessSize, BusDevice, IrqLine } from './device.ts';
import { ACCESS_1, unconnectedIrq } from './device.ts';
import type { Clock } from './clock.ts';
import { hostClock } from './clock.ts';

export const PIT_HZ = 1_193_182;
const NS_PER_TICK = 1e9 / PIT_HZ;
/** PC/AT refresh request period seen in port 0x61 bit 4. */
const REFRESH_TOGGLE_NS = 15_085;

const RW_LATCH = 0;
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD = 3;

class Counter {
  mode = 0;
  rw = RW_WORD;
  bcd = false;
  /** Initial count as written (0 means the maximum: 65536, or 10000 in BCD). */
  initial = 0;
  /** Count value being assembled from LSB/MSB writes. */
  private writeLow = 0;
  private writeHigh = false;
  private readHigh = false;
  /** Latched count (from a latch command), or -1. */
  latched = -1;
  private latchedHigh = false;
  /** Latched status byte (read-back), or -1. */
  statusLatched = -1;
  /** True between a mode/count write and the count being loaded. */
  nullCount = true;
  /** Counting is armed (a count was written). */
  armed = false;
  /** Mode 0: count held (as read) after the first byte of a two-byte count, or -1. */
  private held = -1;
  gate: boolean;
  /** Tick at which the current counting run began, and ticks accumulated before a gate pause. */
  private startTick = 0;
  private carried = 0;
  private running = false;
  /** Modes 1 and 5: a gate rising edge has started the count. */
  triggered = false;

  constructor(gateHigh: boolean) {
    this.gate = gateHigh;
  }

  private get period(): number {
    return this.initial === 0 ? (this.bcd ? 10000 : 0x10000) : this.initial;
  }

  /** Ticks counted in the current run, including the loading clock. */
  elapsed(now: number): number {
    return this.carried + (this.running ? now - this.startTick : 0);
  }

  control(mode: number, rw: number, bcd: boolean): void {
    this.mode = mode > 5 ? mode - 4 : mode; // modes 6 and 7 are aliases of 2 and 3
    this.rw = rw;
    this.bcd = bcd;
    this.writeHigh = this.readHigh = false;
    this.latched = -1;
    this.statusLatched = -1;
    this.armed = false;
    this.running = false;
    this.carried = 0;
    this.held = -1;
    this.nullCount = true;
  }

  latch(now: number): void {
    if (this.latched < 0) {
      this.latched = this.count(now);
      this.latchedHigh = false;
    }
  }

  writeCount(value: number, now: number): void {
    value &= 0xff;
    if (this.rw === RW_LSB) this.load(value, now);
    else if (this.rw === RW_MSB) this.load(value << 8, now);
    else if (!this.writeHigh) {
      this.writeLow = value;
      this.writeHigh = true;
      // Mode 0: "Writing the first byte disables counting" (datasheet, mode 0):
      // the counting element keeps its value until the second byte loads the new count.
      if (this.mode === 0) {
        if (this.held < 0) this.held = this.count(now);
        this.armed = false;
        this.running = false;
      }
    } else {
      this.writeHigh = false;
      this.load(this.writeLow | (value << 8), now);
    }
  }

  private load(value: number, now: number): void {
    const reloadOnly = this.armed && (this.mode === 2 || this.mode === 3);
    this.initial = this.bcd ? bcdToBinary(value) : value;
    this.nullCount = false;
    this.held = -1;
    // Modes 2/3: a new count written while counting takes effect at the next reload;
    // here it changes the period at once (Linux always writes a control word first).
    if (reloadOnly) return;
    this.armed = true;
    this.carried = 0;
    if (this.mode === 1 || this.mode === 5) {
      this.running = false; // waits for a gate trigger
      this.triggered = false;
    } else {
      this.startTick = now;
      this.running = this.gate;
    }
  }

  setGate(high: boolean, now: number): void {
    if (high === this.gate) return;
    this.gate = high;
    if (!this.armed) return;
    switch (this.mode) {
      case 0:
      case 4:
        // Gate low suspends counting; high resumes it.
        if (high) {
          this.startTick = now;
          this.running = true;
        } else {
          this.carried = this.elapsed(now);
          this.running = false;
        }
        break;
      case 1:
      case 5:
        if (high) {
          // Rising edge (re)triggers the one-shot / strobe.
          this.carried = 0;
          this.startTick = now;
          this.running = true;
          this.triggered = true;
        }
        break;
      case 2:
      case 3:
        // "GATE = 0 disables counting" and forces OUT high: the count holds. The
        // reload to N happens on the rising edge (datasheet, modes 2 and 3).
        if (high) {
          this.carried = 0;
          this.startTick = now;
          this.running = true;
        } else {
          this.carried = this.elapsed(now);
          this.running = false;
        }
        break;
    }
  }

  /** Current count value as the chip would show it. */
  count(now: number): number {
    if (this.held >= 0) return this.held;
    if (!this.armed || ((this.mode === 1 || this.mode === 5) && !this.triggered)) return this.toOutput(this.initial);
    const n = this.period;
    const e = this.elapsed(now);
    let c: number;
    switch (this.mode) {
      case 0:
      case 1:
      case 4:
      case 5: {
        // One loading clock, then count down; after terminal count the counter wraps and continues.
        const d = Math.max(0, e - 1);
        c = (((n - d) % 0x10000) + 0x10000) % 0x10000;
        if (this.bcd) c = ((((n - d) % 10000) + 10000) % 10000);
        break;
      }
      case 2:
        c = n - (e % n); // n, n-1, ..., 1, reload
        break;
      case 3: {
        // Square wave: decrements by 2; first half-period OUT high, second low.
        const half1 = Math.ceil(n / 2);
        const phase = e % n;
        const inHalf = phase < half1 ? phase : phase - half1;
        c = (n & ~1) - 2 * inHalf;
        if (c <= 0) c += 2;
        break;
      }
      default:
        c = this.initial;
    }
    return this.toOutput(c);
  }

  private toOutput(c: number): number {
    return this.bcd ? binaryToBcd(c % 10000) : c & 0xffff;
  }

  /** State of the OUT pin. */
  out(now: number): boolean {
    if (!this.armed) return this.mode !== 0; // after a control word: mode 0 OUT low, others high
    const n = this.period;
    const e = this.elapsed(now);
    switch (this.mode) {
      case 0:
        return e >= n + 1;
      case 1:
        return !this.triggered || e >= n + 1;
      case 2:
        return !this.running || e % n !== n - 1; // low for the one clock at count 1
      case 3:
        return !this.running || e % n < Math.ceil(n / 2);
      case 4:
      case 5:
        return !(e === n + 1 && (this.mode === 4 || this.triggered));
    }
    return true;
  }

  /**
   * Number of OUT rising edges in (from, to] (ticks). Used for IRQ 0. Modes 2 and
   * 3 rise once per period; mode 0 and 1 once at terminal count; 4 and 5 after
   * their one-clock strobe.
   */
  risingEdges(from: number, to: number): number {
    if (!this.armed || !this.running || to <= from) return 0;
    const n = this.period;
    const base = this.startTick - this.carried;
    const e0 = from - base;
    const e1 = to - base;
    switch (this.mode) {
      case 2: // OUT rises when the count reloads: at e = k·n
      case 3: // OUT rises at the start of each period: e = k·n
        return Math.max(0, Math.floor(e1 / n) - Math.floor(Math.max(e0, 0) / n));
      case 0:
      case 1:
        return e0 < n + 1 && e1 >= n + 1 ? 1 : 0;
      case 4:
      case 5:
        return e0 < n + 2 && e1 >= n + 2 ? 1 : 0;
    }
    return 0;
  }

  /** Tick of the next OUT rising edge after `now`, or -1 if none is scheduled. */
  nextRisingEdge(now: number): number {
    if (!this.armed || !this.running) return -1;
    const n = this.period;
    const base = this.startTick - this.carried;
    const e = now - base;
    switch (this.mode) {
      case 2:
      case 3:
        return base + (Math.floor(e / n) + 1) * n;
      case 0:
      case 1:
        return e < n + 1 ? base + n + 1 : -1;
      case 4:
      case 5:
        return e < n + 2 ? base + n + 2 : -1;
    }
    return -1;
  }

  readByte(now: number): number {
    if (this.statusLatched >= 0) {
      const s = this.statusLatched;
      this.statusLatched = -1;
      return s;
    }
    if (this.latched >= 0) {
      const v = this.latched;
      if (this.rw === RW_WORD && !this.latchedHigh) {
        this.latchedHigh = true;
        return v & 0xff;
      }
      this.latched = -1;
      return this.rw === RW_MSB || this.rw === RW_WORD ? (v >> 8) & 0xff : v & 0xff;
    }
    const c = this.count(now);
    if (this.rw === RW_LSB) return c & 0xff;
    if (this.rw === RW_MSB) return (c >> 8) & 0xff;
    this.readHigh = !this.readHigh;
    return this.readHigh ? c & 0xff : (c >> 8) & 0xff;
  }

  status(now: number): number {
    return (this.out(now) ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.rw << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }
}

export interface Pit8254Options {
  clock?: Clock;
  irq0?: IrqLine;
}

export interface Pit8254Stats {
  irqs: number;
  /** Timer periods that elapsed between two polls and were merged into one IRQ 0. */
  coalescedTicks: number;
}

/** Ports 0x40-0x43: counters 0-2 and the control word register. */
export class Pit8254 implements BusDevice {
  readonly name = 'pit8254';
  readonly accessSizes = ACCESS_1;
  readonly stats: Pit8254Stats = { irqs: 0, coalescedTicks: 0 };
  private readonly clock: Clock;
  private readonly irq0: IrqLine;
  private readonly originNs: number;
  private readonly counters = [new Counter(true), new Counter(true), new Counter(false)];
  private lastPollTick = 0;
  /** Port 0x61 bits 3:0 as last written (bit 0 = counter 2 gate, bit 1 = speaker data). */
  private port61 = 0;

  constructor(options: Pit8254Options = {}) {
    this.clock = options.clock ?? hostClock;
    this.irq0 = options.irq0 ?? unconnectedIrq;
    this.originNs = this.clock.monotonicNs();
  }

  /** PIT ticks since this PIT was created (fractional ticks truncated). */
  private tick(): number {
    return this.tickAt(this.clock.monotonicNs());
  }

  private tickAt(ns: number): number {
    return Math.floor((ns - this.originNs) / NS_PER_TICK);
  }

  read(offset: number, _size: AccessSize): number {
    if (offset > 2) return 0xff; // the control word register is write-only
    return this.counters[offset]!.readByte(this.tick());
  }

  write(offset: number, _size: AccessSize, value: number): void {
    const now = this.tick();
    if (offset <= 2) {
      if (offset === 0) this.poll(); // deliver edges of the old programming first
      this.counters[offset]!.writeCount(value, now);
      if (offset === 0) this.lastPollTick = now;
      return;
    }
    const sc = value >> 6;
    const rw = (value >> 4) & 3;
    if (sc === 3) {
      // Read-back: bit 5 = 0 latches counts, bit 4 = 0 latches status, bits 3:1 select counters.
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        const c = this.counters[i]!;
        if (!(value & 0x10) && c.statusLatched < 0) c.statusLatched = c.status(now);
        if (!(value & 0x20)) c.latch(now);
      }
      return;
    }
    const c = this.counters[sc]!;
    if (rw === RW_LATCH) c.latch(now);
    else {
      if (sc === 0) this.poll();
      c.control((value >> 1) & 7, rw, (value & 1) !== 0);
    }
  }

  /** Port 0x61 (system control port B), as a separate BusDevice sharing this PIT's state. */
  readonly port61Device: BusDevice = {
    name: 'port61',
    accessSizes: ACCESS_1,
    read: () => {
      const now = this.tick();
      const refresh = Math.floor((this.clock.monotonicNs() - this.originNs) / REFRESH_TOGGLE_NS) & 1;
      return (this.port61 & 0x0f) | (refresh << 4) | (this.counters[2]!.out(now) ? 0x20 : 0);
    },
    write: (_o: number, _s: AccessSize, value: number) => {
      this.port61 = value & 0x0f;
      this.counters[2]!.setGate((value & 1) !== 0, this.tick());
    },
  };

  /**
   * Delivers IRQ 0 for counter 0 rising edges since the last poll. The VMM calls
   * this from its timer at `nextIrqNs()`; calling it more often is harmless.
   */
  poll(): void {
    const now = this.tick();
    const edges = this.counters[0]!.risingEdges(this.lastPollTick, now);
    this.lastPollTick = now;
    if (edges > 0) {
      this.stats.irqs++;
      this.stats.coalescedTicks += edges - 1;
      this.irq0.pulse();
    }
  }

  /** Monotonic time (ns, the Clock's scale) of counter 0's next rising edge, or -1 when none is due. */
  nextIrqNs(): number {
    const t = this.counters[0]!.nextRisingEdge(this.tick());
    if (t < 0) return -1;
    // ceil(t · NS_PER_TICK) can round to a time that tick() maps back to t - 1
    // (e.g. t = 4,176,137), and a poll then would see no edge: step forward until
    // the round trip reaches t (at most a nanosecond or two).
    let ns = this.originNs + Math.ceil(t * NS_PER_TICK);
    for (let i = 0; i < 8 && this.tickAt(ns) < t; i++) ns += 1;
    return ns;
  }
}

function bcdToBinary(v: number): number {
  return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

function binaryToBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8) | ((Math.floor(v / 10) % 10) << 4) | v % 10;
}
