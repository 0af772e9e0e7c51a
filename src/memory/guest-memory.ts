/**
 * GuestMemory: the guest's RAM as seen by the VMM (loader, devices, instruction
 * emulator, software CPU). Addresses are guest-physical (GPA) and are plain
 * numbers: every GPA we support is below 2^52, well inside a double's exact range.
 *
 * Every access is bounds-checked against the RAM regions and throws
 * GuestMemoryError (never touches host memory outside a region). An access may
 * not straddle two regions: real RAM regions are separated by holes (the MMIO
 * hole below 4 GiB), so a straddling access is a guest or VMM bug.
 */
import { HostError } from '../errors.ts';

export class GuestMemoryError extends HostError {
  readonly gpa: number;
  readonly length: number;
  constructor(gpa: number, length: number) {
    super(`guest memory access out of range: ${length} byte(s) at GPA 0x${gpa.toString(16)}`);
    this.gpa = gpa;
    this.length = length;
  }
}

export interface RamRegion {
  /** First guest-physical address of the region. Page aligned. */
  readonly gpa: number;
  /** Host bytes backing the region; `bytes.length` is the region size. */
  readonly bytes: Uint8Array;
}

export interface GuestMemory {
  readonly regions: readonly RamRegion[];
  /** Total RAM bytes across regions. */
  readonly size: number;
  /** True when [gpa, gpa+length) lies inside one RAM region. */
  contains(gpa: number, length: number): boolean;
  /** A live view of [gpa, gpa+length) (no copy). Throws when out of range. */
  view(gpa: number, length: number): Uint8Array;
  read(gpa: number, dst: Uint8Array): void;
  write(gpa: number, src: Uint8Array): void;
  fill(gpa: number, length: number, value: number): void;
  readU8(gpa: number): number;
  readU16(gpa: number): number;
  readU32(gpa: number): number;
  readU64(gpa: number): bigint;
  writeU8(gpa: number, value: number): void;
  writeU16(gpa: number, value: number): void;
  writeU32(gpa: number, value: number): void;
  writeU64(gpa: number, value: bigint): void;
}

/**
 * GuestMemory over host buffers (ArrayBuffer or SharedArrayBuffer). The software
 * backend passes SharedArrayBuffers so every vCPU Worker sees the same RAM; WHP
 * passes views of VirtualAlloc'd memory (koffi.view).
 */
export class GuestRam implements GuestMemory {
  readonly regions: readonly RamRegion[];
  readonly size: number;
  private readonly views: DataView[];
  // One-entry cache: almost all accesses hit the region of the previous one.
  private last = 0;

  constructor(regions: readonly RamRegion[]) {
    const sorted = [...regions].sort((a, b) => a.gpa - b.gpa);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (prev.gpa + prev.bytes.length > sorted[i]!.gpa) {
        throw new HostError(`RAM regions overlap at GPA 0x${sorted[i]!.gpa.toString(16)}`);
      }
    }
    this.regions = sorted;
    this.size = sorted.reduce((n, r) => n + r.bytes.length, 0);
    this.views = sorted.map((r) => new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength));
  }

  /** Allocates zeroed RAM regions for the given [gpa, size] list. */
  static allocate(layout: readonly { gpa: number; size: number }[], shared = false): GuestRam {
    return new GuestRam(
      layout.map(({ gpa, size }) => ({
        gpa,
        bytes: new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size)),
      })),
    );
  }

  /** Index of the region holding [gpa, gpa+length), or -1. */
  private find(gpa: number, length: number): number {
    const regions = this.regions;
    const cached = regions[this.last];
    if (cached !== undefined && gpa >= cached.gpa && gpa + length <= cached.gpa + cached.bytes.length) return this.last;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      if (gpa >= r.gpa && gpa + length <= r.gpa + r.bytes.length) {
        this.last = i;
        return i;
      }
    }
    return -1;
  }

  private locate(gpa: number, length: number): number {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new GuestMemoryError(gpa, length);
    }
    const i = this.find(gpa, length);
    if (i < 0) throw new GuestMemoryError(gpa, length);
    return i;
  }

  contains(gpa: number, length: number): boolean {
    return Number.isSafeInteger(gpa) && gpa >= 0 && length >= 0 && this.find(gpa, length) >= 0;
  }

  view(gpa: number, length: number): Uint8Array {
    const r = this.regions[this.locate(gpa, length)]!;
    const off = gpa - r.gpa;
    return r.bytes.subarray(off, off + length);
  }

  read(gpa: number, dst: Uint8Array): void {
    dst.set(this.view(gpa, dst.length));
  }

  write(gpa: number, src: Uint8Array): void {
    this.view(gpa, src.length).set(src);
  }

  fill(gpa: number, length: number, value: number): void {
    this.view(gpa, length).fill(value);
  }

  readU8(gpa: number): number {
    const i = this.locate(gpa, 1);
    return this.views[i]!.getUint8(gpa - this.regions[i]!.gpa);
  }
  readU16(gpa: number): number {
    const i = this.locate(gpa, 2);
    return this.views[i]!.getUint16(gpa - this.regions[i]!.gpa, true);
  }
  readU32(gpa: number): number {
    const i = this.locate(gpa, 4);
    return this.views[i]!.getUint32(gpa - this.regions[i]!.gpa, true);
  }
  readU64(gpa: number): bigint {
    const i = this.locate(gpa, 8);
    return this.views[i]!.getBigUint64(gpa - this.regions[i]!.gpa, true);
  }
  writeU8(gpa: number, value: number): void {
    const i = this.locate(gpa, 1);
    this.views[i]!.setUint8(gpa - this.regions[i]!.gpa, value);
  }
  writeU16(gpa: number, value: number): void {
    const i = this.locate(gpa, 2);
    this.views[i]!.setUint16(gpa - this.regions[i]!.gpa, value, true);
  }
  writeU32(gpa: number, value: number): void {
    const i = this.locate(gpa, 4);
    this.views[i]!.setUint32(gpa - this.regions[i]!.gpa, value >>> 0, true);
  }
  writeU64(gpa: number, value: bigint): void {
    const i = this.locate(gpa, 8);
    this.views[i]!.setBigUint64(gpa - this.regions[i]!.gpa, BigInt.asUintN(64, value), true);
  }
}
