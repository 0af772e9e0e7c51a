/**
 * Port I/O and MMIO buses: address → device dispatch for VM exits.
 *
 * - A device is registered on [base, base+length); the device sees offsets from
 *   base. Overlapping registrations are rejected when they are made
 *   (BusConflictError), so a mis-wired machine fails at build time, not at the
 *   first guest access.
 * - An access nobody claims (no device, a width the device does not support, or
 *   an access straddling the end of a range) behaves like an unclaimed bus cycle
 *   on a PC: reads return all ones, writes are dropped. It is counted and logged
 *   once per address at debug level; it never throws.
 * - The hot path does not allocate: numbers in, numbers out (see device.ts for
 *   the 8-byte rule). The port bus looks devices up in a 64 Ki-entry table; the
 *   MMIO bus binary-searches a short sorted array with a one-entry cache.
 */
import { HostError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { AccessSize, BusDevice } from './device.ts';
import { allOnes, truncate } from './device.ts';

export class BusConflictError extends HostError {}

export interface BusRange {
  readonly base: number;
  readonly length: number;
  readonly device: BusDevice;
}

export interface UnclaimedStats {
  reads: number;
  writes: number;
  /** Accesses that hit a device with a width it does not support. */
  badWidth: number;
}

/** At most this many distinct unclaimed addresses are remembered (and logged once each). */
const MAX_LOGGED_ADDRESSES = 4096;

abstract class Bus {
  readonly kind: 'pio' | 'mmio';
  readonly limit: number;
  protected readonly log: Logger;
  protected ranges: BusRange[] = [];
  readonly unclaimed: UnclaimedStats = { reads: 0, writes: 0, badWidth: 0 };
  private readonly logged = new Set<number>();
  private loggedOverflow = false;

  constructor(kind: 'pio' | 'mmio', limit: number, log: Logger) {
    this.kind = kind;
    this.limit = limit;
    this.log = log;
  }

  /** Registered ranges, sorted by base. */
  get registrations(): readonly BusRange[] {
    return this.ranges;
  }

  register(base: number, length: number, device: BusDevice): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length <= 0 || base + length > this.limit) {
      throw new BusConflictError(
        `${this.kind} bus: cannot register ${device.name} at 0x${base.toString(16)}+0x${length.toString(16)}: outside 0..0x${this.limit.toString(16)}`,
        { hint: 'this is a VMM wiring bug; check the device base address and length' },
      );
    }
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) {
        throw new BusConflictError(
          `${this.kind} bus: ${device.name} at 0x${base.toString(16)}-0x${(base + length - 1).toString(16)} overlaps ${r.device.name} at 0x${r.base.toString(16)}-0x${(r.base + r.length - 1).toString(16)}`,
          { hint: 'two devices were given the same addresses; move one of them' },
        );
      }
    }
    this.ranges = [...this.ranges, { base, length, device }].sort((a, b) => a.base - b.base);
    this.onRegistered(base, length, this.ranges.findIndex((r) => r.base === base));
  }

  /** Reads `size` (1, 2, 4) bytes at `addr`; all ones when unclaimed. */
  read(addr: number, size: 1 | 2 | 4): number {
    const r = this.find(addr);
    if (r !== undefined && addr + size <= r.base + r.length) {
      const d = r.device;
      if ((d.accessSizes & size) !== 0) return d.read(addr - r.base, size);
      this.unclaimed.badWidth++;
    }
    this.unclaimedAccess(addr, size, 'read');
    return allOnes(size);
  }

  write(addr: number, size: 1 | 2 | 4, value: number): void {
    const r = this.find(addr);
    if (r !== undefined && addr + size <= r.base + r.length) {
      const d = r.device;
      if ((d.accessSizes & size) !== 0) {
        d.write(addr - r.base, size, truncate(value, size));
        return;
      }
      this.unclaimed.badWidth++;
    }
    this.unclaimedAccess(addr, size, 'write');
  }

  /** 8-byte read (MMIO only in practice); all ones unless the device supports 8-byte access. */
  read64(addr: number): bigint {
    const r = this.find(addr);
    if (r !== undefined && addr + 8 <= r.base + r.length) {
      const d = r.device;
      if ((d.accessSizes & 8) !== 0 && d.read64 !== undefined) return BigInt.asUintN(64, d.read64(addr - r.base));
      this.unclaimed.badWidth++;
    }
    this.unclaimedAccess(addr, 8, 'read');
    return 0xffff_ffff_ffff_ffffn;
  }

  write64(addr: number, value: bigint): void {
    const r = this.find(addr);
    if (r !== undefined && addr + 8 <= r.base + r.length) {
      const d = r.device;
      if ((d.accessSizes & 8) !== 0 && d.write64 !== undefined) {
        d.write64(addr - r.base, BigInt.asUintN(64, value));
        return;
      }
      this.unclaimed.badWidth++;
    }
    this.unclaimedAccess(addr, 8, 'write');
  }

  /** The range holding `addr`, or undefined. */
  protected abstract find(addr: number): BusRange | undefined;
  protected abstract onRegistered(base: number, length: number, index: number): void;

  private unclaimedAccess(addr: number, size: AccessSize, dir: 'read' | 'write'): void {
    if (dir === 'read') this.unclaimed.reads++;
    else this.unclaimed.writes++;
    if (this.logged.has(addr)) return;
    if (this.logged.size >= MAX_LOGGED_ADDRESSES) {
      if (!this.loggedOverflow) {
        this.loggedOverflow = true;
        this.log.debug({ bus: this.kind }, `${this.kind} bus: more than ${MAX_LOGGED_ADDRESSES} distinct unclaimed addresses; no longer logging new ones`);
      }
      return;
    }
    this.logged.add(addr);
    this.log.debug(
      { bus: this.kind, addr, size, dir },
      `${this.kind} bus: unclaimed ${size}-byte ${dir} at 0x${addr.toString(16)} (reads all ones, writes dropped; logged once per address)`,
    );
  }
}

/** x86 port I/O space: 64 Ki ports, accesses of 1, 2 or 4 bytes. */
export class PortIoBus extends Bus {
  /** Port → index into `ranges` + 1 (0 = nobody). Rebuilt on registration (rare). */
  private table = new Uint8Array(0x1_0000);
  private byIndex: BusRange[] = [];

  constructor(log: Logger = silentLogger) {
    super('pio', 0x1_0000, log);
  }

  protected onRegistered(): void {
    if (this.ranges.length > 255) throw new BusConflictError('pio bus: more than 255 devices registered');
    this.table.fill(0);
    this.byIndex = this.ranges;
    this.ranges.forEach((r, i) => this.table.fill(i + 1, r.base, r.base + r.length));
  }

  protected find(addr: number): BusRange | undefined {
    const i = this.table[addr & 0xffff]!;
    return i === 0 || addr > 0xffff || addr < 0 ? undefined : this.byIndex[i - 1];
  }
}

/** Guest-physical MMIO space (below 2^52). */
export class MmioBus extends Bus {
  private lastHit: BusRange | undefined;

  constructor(log: Logger = silentLogger) {
    super('mmio', 2 ** 52, log);
  }

  protected onRegistered(): void {
    this.lastHit = undefined;
  }

  protected find(addr: number): BusRange | undefined {
    const c = this.lastHit;
    if (c !== undefined && addr >= c.base && addr < c.base + c.length) return c;
    const rs = this.ranges;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid]!;
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.length) lo = mid + 1;
      else {
        this.lastHit = r;
        return r;
      }
    }
    return undefined;
  }
}
