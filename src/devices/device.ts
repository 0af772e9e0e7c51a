/**
 * The device contract shared by every bus-attached device (design.md, "Device").
 *
 * A device answers `read(offset, size)` and `write(offset, size, value)` for the
 * range it is registered on (offset is relative to the range base), and raises
 * interrupts only through IrqLine objects handed to it at construction. It never
 * calls a backend, never throws on guest input and never allocates on the access
 * path.
 *
 * Value representation (why numbers, and what happens to 8-byte accesses):
 * - Accesses of 1, 2 and 4 bytes carry their value as a plain JS number holding
 *   the zero-extended unsigned value (0 ..= 0xFFFF_FFFF). No bigint, no objects:
 *   a port I/O exit costs one property lookup and one call.
 * - 8-byte accesses exist only on MMIO (x86 IN/OUT are at most 4 bytes wide). No
 *   device in the legacy set (UART, RTC, PIT, i8042, IOAPIC, LAPIC) has a 64-bit
 *   register, so they travel as bigint through the optional `read64`/`write64`
 *   pair. A device that does not list 8 in `accessSizes` never sees them: the
 *   bus answers all ones / drops the write and counts it like an unclaimed access.
 */

/** Width of one bus access in bytes. */
export type AccessSize = 1 | 2 | 4 | 8;

/**
 * Bit set of supported widths. The bit for width N is N itself (1, 2, 4, 8), so
 * `(device.accessSizes & size) !== 0` tests support without a table.
 */
export const ACCESS_1 = 1;
export const ACCESS_2 = 2;
export const ACCESS_4 = 4;
export const ACCESS_8 = 8;
export const ACCESS_1_2_4 = ACCESS_1 | ACCESS_2 | ACCESS_4;

export interface BusDevice {
  /** Short name for logs and conflict errors, e.g. "uart16550@0x3f8". */
  readonly name: string;
  /** Bit set of supported access widths (ACCESS_1 | ACCESS_4 ...). */
  readonly accessSizes: number;
  /** Returns the zero-extended value for a 1, 2 or 4 byte read at `offset`. */
  read(offset: number, size: AccessSize): number;
  /** `value` is already truncated to `size` bytes by the bus. */
  write(offset: number, size: AccessSize, value: number): void;
  /** Only called when `accessSizes` includes ACCESS_8. */
  read64?(offset: number): bigint;
  /** Only called when `accessSizes` includes ACCESS_8. */
  write64?(offset: number, value: bigint): void;
}

/**
 * One interrupt input, as a device sees it. `set(true)` asserts the line and
 * `set(false)` deasserts it (a level); `pulse()` asserts then deasserts (an edge,
 * as ISA devices and the PIT's OUT0 rising edge produce). The receiving side
 * (IOAPIC pin) decides edge or level semantics from its own programming.
 */
export interface IrqLine {
  set(level: boolean): void;
  pulse(): void;
}

/** An IrqLine that goes nowhere (device not wired, e.g. COM2 without a console). */
export const unconnectedIrq: IrqLine = {
  set: () => {},
  pulse: () => {},
};

/** All-ones value of a read of `size` bytes (what an unclaimed bus cycle returns). */
export function allOnes(size: 1 | 2 | 4): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
}

/** Truncates `value` to `size` bytes (1, 2, 4) as an unsigned number. */
export function truncate(value: number, size: 1 | 2 | 4): number {
  return size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
}
