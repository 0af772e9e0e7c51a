/**
 * CMOS RAM and real-time clock at ports 0x70 (index) / 0x71 (data), after the
 * Motorola MC146818A datasheet as used in PC/AT compatibles.
 *
 * - Index port: bits 6:0 select one of 128 bytes; bit 7 is the PC's NMI
 *   disable bit (kept in `nmiDisabled`, not a CMOS address). The index port is
 *   write-only on the AT; reads return all ones.
 * - Time registers 0x00-0x09 show the host's wall-clock time (UTC, like QEMU's
 *   default `-rtc base=utc`) from an injectable Clock, plus whatever offset the
 *   guest set by writing them. Encoding follows register B: DM (bit 2) binary
 *   or BCD, 24/12 (bit 1) with bit 7 = PM in 12-hour mode. SET (bit 7) freezes
 *   the time for the guest to write it; clearing SET starts the new time.
 * - UIP (register A bit 7) is 1 during the 244 µs before each second's update
 *   (datasheet: "UIP ... 244 µs before the update cycle"), when the divider runs
 *   (DV = 010) and SET is clear. The update itself takes no time here, so a read
 *   right after UIP = 0 is always consistent (Linux's mc146818_get_time checks UIP
 *   before and after).
 * - Register C: update-ended (UF, each second), alarm (AF, the time matches
 *   the alarm registers, 0xC0-0xFF = "don't care") and periodic (PF, at the
 *   rate RS selects) flags, with IRQF (bit 7) when an enabled one is set
 *   (register B bits 6:4). IRQF is combinational (datasheet, register C:
 *   "IRQF = PF·PIE + AF·AIE + UF·UIE", and the IRQ pin is asserted while it is 1),
 *   so a register B write recomputes it: clearing an enable drops IRQF and IRQ 8
 *   when no enabled flag remains, setting one whose flag is pending raises them.
 *   Reading C clears it and drops IRQ 8. Flags are
 *   computed lazily from the clock when C is read or `poll()` runs; the VMM
 *   arms a timer for `nextIrqNs()` and calls `poll()` so IRQ 8 fires on time.
 *   Register D reads 0x80 (valid RAM and time).
 * - Memory size bytes, as PC BIOSes (and QEMU) fill them: 0x15/0x16 base memory
 *   (640 KiB), 0x17/0x18 and 0x30/0x31 extended memory above 1 MiB in KiB
 *   (≤ 65535), 0x34/0x35 memory above 16 MiB below 4 GiB in 64 KiB units,
 *   0x5B-0x5D memory above 4 GiB in 64 KiB units; checksum of 0x10-0x2D in
 *   0x2E/0x2F (big-endian).
 */
import type { AccessSize, BusDevice, IrqLine } from './device.ts';
import { ACCESS_1, unconnectedIrq } from './device.ts';
import type { Clock } from './clock.ts';
import { hostClock } from './clock.ts';

export const RTC_SECONDS = 0x00;
export const RTC_MINUTES = 0x02;
export const RTC_HOURS = 0x04;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
export const CMOS_CENTURY = 0x32;

export const REG_A_UIP = 0x80;
export const REG_B_SET = 0x80;
export const REG_B_PIE = 0x40;
export const REG_B_AIE = 0x20;
export const REG_B_UIE = 0x10;
export const REG_C_IRQF = 0x80;
export const REG_C_PF = 0x40;
export const REG_C_AF = 0x20;
export const REG_C_UF = 0x10;
export const REG_B_DM_BINARY = 0x04;
export const REG_B_24H = 0x02;

/** The update-in-progress window before each second boundary (MC146818A: 244 µs). */
const UIP_WINDOW_MS = 0.244;

export interface CmosRtcOptions {
  clock?: Clock;
  /** Guest RAM below the 32-bit MMIO hole, in bytes (fills the memory size bytes). */
  memoryBelow4G?: number;
  /** Guest RAM above 4 GiB, in bytes. */
  memoryAbove4G?: number;
  /** ISA IRQ 8. */
  irq?: IrqLine;
}

interface TimeFields {
  sec: number;
  min: number;
  hour: number; // 0-23
  dow: number; // 1 = Sunday
  day: number;
  month: number; // 1-12
  year: number; // full year
}

export class CmosRtc implements BusDevice {
  readonly name = 'cmos-rtc';
  readonly accessSizes = ACCESS_1;
  nmiDisabled = false;

  private readonly clock: Clock;
  private readonly irq: IrqLine;
  private irqLevel = false;
  /** Guest time (ms) up to which the interrupt flags have been evaluated. */
  private flagsUpToMs: number;
  private readonly ram = new Uint8Array(128);
  private index = 0;
  /** Guest time = host wall time + offsetMs. */
  private offsetMs = 0;
  /** Time as held while SET is 1. */
  private frozen: TimeFields | undefined;

  constructor(options: CmosRtcOptions = {}) {
    this.clock = options.clock ?? hostClock;
    this.irq = options.irq ?? unconnectedIrq;
    this.flagsUpToMs = this.clock.wallMs();
    this.ram[RTC_REG_A] = 0x26; // DV = 010 (32.768 kHz time base), RS = 0110 (1024 Hz)
    this.ram[RTC_REG_B] = REG_B_24H; // 24-hour, BCD: the PC default
    this.ram[RTC_REG_D] = 0x80;
    this.setMemorySize(options.memoryBelow4G ?? 0, options.memoryAbove4G ?? 0);
  }

  read(offset: number, _size: AccessSize): number {
    if (offset === 0) return 0xff;
    const i = this.index;
    if (i <= RTC_YEAR || i === CMOS_CENTURY) {
      if (i === 1 || i === 3 || i === 5) return this.ram[i]!; // alarms
      return this.encodeField(i, this.now());
    }
    if (i === RTC_REG_A) return this.ram[RTC_REG_A]! | (this.updateInProgress() ? REG_A_UIP : 0);
    if (i === RTC_REG_C) {
      this.updateFlags();
      const v = this.ram[RTC_REG_C]!;
      this.ram[RTC_REG_C] = 0; // read clears the flags and releases IRQ 8
      this.setIrq(false);
      return v;
    }
    return this.ram[i]!;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    if (offset === 0) {
      this.index = value & 0x7f;
      this.nmiDisabled = (value & 0x80) !== 0;
      return;
    }
    const i = this.index;
    value &= 0xff;
    // Each write first brings the flags up to now; the line then follows IRQF at once (a flag
    // that came due before this write raises IRQ 8 now rather than at the next poll()).
    if (i === 1 || i === 3 || i === 5) {
      this.updateFlags();
      this.ram[i] = value;
      this.updateIrq();
    } else if (i <= RTC_YEAR || i === CMOS_CENTURY) {
      this.updateFlags();
      this.writeTimeField(i, value);
      this.updateIrq();
    } else if (i === RTC_REG_A) {
      this.updateFlags();
      this.ram[RTC_REG_A] = value & 0x7f; // UIP is read-only
      this.updateIrq();
    } else if (i === RTC_REG_B) {
      this.updateFlags();
      this.writeRegB(value);
      this.updateIrq();
    } else if (i === RTC_REG_C || i === RTC_REG_D) {
      // read-only
    } else {
      this.ram[i] = value;
    }
  }

  /** Brings the interrupt flags up to now and raises IRQ 8 if an enabled one is set. */
  poll(): void {
    this.updateFlags();
    this.updateIrq();
  }

  /** Monotonic time (ns, the Clock's scale) of the next enabled RTC interrupt, or -1 if none is enabled. */
  nextIrqNs(): number {
    const b = this.ram[RTC_REG_B]!;
    if (!(b & (REG_B_PIE | REG_B_AIE | REG_B_UIE)) || this.irqLevel) return -1;
    const wall = this.clock.wallMs();
    const now = wall + this.offsetMs;
    let next = Infinity;
    if (b & (REG_B_UIE | REG_B_AIE) && this.updating()) next = Math.floor(now / 1000) * 1000 + 1000;
    const period = this.periodMs();
    if (b & REG_B_PIE && period > 0) next = Math.min(next, Math.floor(now / period) * period + period);
    return next === Infinity ? -1 : this.clock.monotonicNs() + (next - now) * 1e6;
  }

  /** Period of the PF flag in ms (datasheet Table 3, 32.768 kHz time base), 0 when RS = 0 or the divider is off. */
  private periodMs(): number {
    const rs = this.ram[RTC_REG_A]! & 0x0f;
    if (rs === 0 || ((this.ram[RTC_REG_A]! >> 4) & 7) !== 2) return 0;
    const hz = rs <= 2 ? 32768 >> (rs + 6) : 32768 >> (rs - 1); // RS 1, 2 give 256 and 128 Hz
    return 1000 / hz;
  }

  /** The once-a-second update runs (divider on, SET clear). */
  private updating(): boolean {
    return this.frozen === undefined && ((this.ram[RTC_REG_A]! >> 4) & 7) === 2;
  }

  private updateFlags(): void {
    const now = this.clock.wallMs() + this.offsetMs;
    const from = this.flagsUpToMs;
    this.flagsUpToMs = now;
    if (now <= from) return;
    let flags = this.ram[RTC_REG_C]!;
    const period = this.periodMs();
    if (period > 0 && Math.floor(now / period) > Math.floor(from / period)) flags |= REG_C_PF;
    if (this.updating()) {
      const firstSecond = Math.floor(from / 1000) + 1;
      const lastSecond = Math.floor(now / 1000);
      if (lastSecond >= firstSecond) {
        flags |= REG_C_UF;
        // AF: did any update in (from, now] land on the alarm time? A day covers every alarm.
        if (lastSecond - firstSecond >= 86400) flags |= REG_C_AF;
        else for (let s = firstSecond; s <= lastSecond && !(flags & REG_C_AF); s++) if (this.alarmMatches(fieldsOf(s * 1000))) flags |= REG_C_AF;
      }
    }
    const enabled = this.ram[RTC_REG_B]! & (REG_B_PIE | REG_B_AIE | REG_B_UIE);
    if (flags & enabled & (REG_C_PF | REG_C_AF | REG_C_UF)) flags |= REG_C_IRQF;
    this.ram[RTC_REG_C] = flags;
  }

  private alarmMatches(f: TimeFields): boolean {
    const dontCare = (v: number) => (v & 0xc0) === 0xc0;
    const sec = this.ram[1]!;
    const min = this.ram[3]!;
    const hour = this.ram[5]!;
    const enc = (index: number) => this.encodeField(index, f);
    return (dontCare(sec) || sec === enc(RTC_SECONDS)) && (dontCare(min) || min === enc(RTC_MINUTES)) && (dontCare(hour) || hour === enc(RTC_HOURS));
  }

  /**
   * IRQF and IRQ 8 from the flags and enables as they are now (MC146818A,
   * register C: "IRQF = PF·PIE + AF·AIE + UF·UIE"; the IRQ pin is driven low,
   * i.e. asserted, whenever IRQF is 1). Combinational, so it both raises and drops.
   */
  private updateIrq(): void {
    const c = this.ram[RTC_REG_C]!;
    const pending = (c & this.ram[RTC_REG_B]! & (REG_C_PF | REG_C_AF | REG_C_UF)) !== 0;
    this.ram[RTC_REG_C] = pending ? c | REG_C_IRQF : c & ~REG_C_IRQF;
    this.setIrq(pending);
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }

  /** Fills the BIOS memory-size bytes and the standard checksum. */
  setMemorySize(below4G: number, above4G: number): void {
    const KiB = 1024;
    const MiB = 1024 * KiB;
    this.ram[0x15] = 640 & 0xff;
    this.ram[0x16] = 640 >> 8;
    const extKiB = Math.min(0xffff, Math.max(0, Math.floor((below4G - MiB) / KiB)));
    this.ram[0x17] = this.ram[0x30] = extKiB & 0xff;
    this.ram[0x18] = this.ram[0x31] = extKiB >> 8;
    const above16M = Math.min(0xffff, Math.max(0, Math.floor((below4G - 16 * MiB) / (64 * KiB))));
    this.ram[0x34] = above16M & 0xff;
    this.ram[0x35] = above16M >> 8;
    const high = Math.min(0xff_ffff, Math.max(0, Math.floor(above4G / (64 * KiB))));
    this.ram[0x5b] = high & 0xff;
    this.ram[0x5c] = (high >> 8) & 0xff;
    this.ram[0x5d] = (high >> 16) & 0xff;
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += this.ram[i]!;
    this.ram[0x2e] = (sum >> 8) & 0xff;
    this.ram[0x2f] = sum & 0xff;
  }

  // --- time ------------------------------------------------------------------

  private now(): TimeFields {
    if (this.frozen !== undefined) return this.frozen;
    return fieldsOf(this.clock.wallMs() + this.offsetMs);
  }

  private updateInProgress(): boolean {
    if (this.frozen !== undefined || ((this.ram[RTC_REG_A]! >> 4) & 7) !== 2) return false;
    const ms = this.clock.wallMs() + this.offsetMs;
    const frac = ms - Math.floor(ms / 1000) * 1000;
    return frac >= 1000 - UIP_WINDOW_MS;
  }

  private writeRegB(value: number): void {
    const wasSet = (this.ram[RTC_REG_B]! & REG_B_SET) !== 0;
    if (value & REG_B_SET) value &= ~REG_B_UIE; // datasheet: SET = 1 clears UIE
    this.ram[RTC_REG_B] = value;
    const isSet = (value & REG_B_SET) !== 0;
    if (isSet && !wasSet) this.frozen = this.now();
    else if (!isSet && wasSet && this.frozen !== undefined) {
      const f = this.frozen;
      this.frozen = undefined;
      this.offsetMs = utcMs(f) - Math.floor(this.clock.wallMs() / 1000) * 1000;
      this.flagsUpToMs = this.clock.wallMs() + this.offsetMs; // a new time is not a burst of updates
    }
  }

  private writeTimeField(index: number, raw: number): void {
    const f = { ...this.now() };
    const binary = (this.ram[RTC_REG_B]! & REG_B_DM_BINARY) !== 0;
    const dec = (v: number) => (binary ? v : fromBcd(v));
    switch (index) {
      case RTC_SECONDS:
        f.sec = clamp(dec(raw & 0x7f), 0, 59);
        break;
      case RTC_MINUTES:
        f.min = clamp(dec(raw & 0x7f), 0, 59);
        break;
      case RTC_HOURS:
        if (this.ram[RTC_REG_B]! & REG_B_24H) f.hour = clamp(dec(raw & 0x7f), 0, 23);
        else {
          const h12 = clamp(dec(raw & 0x7f), 1, 12) % 12;
          f.hour = raw & 0x80 ? h12 + 12 : h12;
        }
        break;
      case RTC_DAY_OF_WEEK:
        f.dow = clamp(dec(raw), 1, 7);
        break;
      case RTC_DAY_OF_MONTH:
        f.day = clamp(dec(raw), 1, 31);
        break;
      case RTC_MONTH:
        f.month = clamp(dec(raw), 1, 12);
        break;
      case RTC_YEAR:
        f.year = Math.floor(f.year / 100) * 100 + clamp(dec(raw), 0, 99);
        break;
      case CMOS_CENTURY:
        f.year = clamp(dec(raw), 0, 99) * 100 + (f.year % 100);
        break;
    }
    if (this.frozen !== undefined) {
      this.frozen = f;
      return;
    }
    const wall = this.clock.wallMs();
    const subSecond = wall + this.offsetMs - Math.floor((wall + this.offsetMs) / 1000) * 1000;
    this.offsetMs = utcMs(f) + subSecond - wall;
    this.flagsUpToMs = wall + this.offsetMs;
  }

  private encodeField(index: number, f: TimeFields): number {
    const b = this.ram[RTC_REG_B]!;
    const enc = (v: number) => (b & REG_B_DM_BINARY ? v : toBcd(v));
    switch (index) {
      case RTC_SECONDS:
        return enc(f.sec);
      case RTC_MINUTES:
        return enc(f.min);
      case RTC_HOURS: {
        if (b & REG_B_24H) return enc(f.hour);
        const h12 = f.hour % 12 === 0 ? 12 : f.hour % 12;
        return enc(h12) | (f.hour >= 12 ? 0x80 : 0);
      }
      case RTC_DAY_OF_WEEK:
        return enc(f.dow);
      case RTC_DAY_OF_MONTH:
        return enc(f.day);
      case RTC_MONTH:
        return enc(f.month);
      case RTC_YEAR:
        return enc(f.year % 100);
      case CMOS_CENTURY:
        return enc(Math.floor(f.year / 100) % 100);
    }
    return 0xff;
  }
}

function fieldsOf(ms: number): TimeFields {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return {
    sec: d.getUTCSeconds(),
    min: d.getUTCMinutes(),
    hour: d.getUTCHours(),
    dow: d.getUTCDay() + 1,
    day: d.getUTCDate(),
    month: d.getUTCMonth() + 1,
    year: d.getUTCFullYear(),
  };
}

/**
 * Epoch ms of the fields, for any full year: Date.UTC maps years 0-99 to
 * 1900-1999, which would turn century 0x00 into 19 (setUTCFullYear does not).
 * Out-of-range days roll over exactly as Date.UTC's would.
 */
function utcMs(f: TimeFields): number {
  const d = new Date(Date.UTC(2000, 0, 1, f.hour, f.min, f.sec));
  return d.setUTCFullYear(f.year, f.month - 1, f.day);
}

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | v % 10;
}

/** Invalid BCD nibbles (A-F) are read as their binary value, as a lenient chip would count them. */
function fromBcd(v: number): number {
  return (v >> 4) * 10 + (v & 0x0f);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
