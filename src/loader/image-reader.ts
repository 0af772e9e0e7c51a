/**
 * Bounds-checked little-endian reads over a kernel or initrd file. Every read past
 * the end becomes an InputError naming the file and what was being read, so a
 * truncated or hostile file can never surface as a RangeError.
 */
import { InputError } from '../errors.ts';

export class ImageReader {
  readonly bytes: Uint8Array;
  readonly length: number;
  /** How errors name the file, e.g. "kernel 'vmlinuz'". */
  readonly what: string;
  private readonly dv: DataView;

  constructor(bytes: Uint8Array, what: string) {
    this.bytes = bytes;
    this.length = bytes.length;
    this.what = what;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Throws "truncated" unless [offset, offset+size) lies inside the file. */
  need(offset: number, size: number, field: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > this.length) {
      throw new InputError(
        `${this.what} is truncated: ${field} needs bytes 0x${offset.toString(16)}..0x${(offset + size).toString(16)} but the file has ${this.length} bytes`,
        { hint: 'the file is incomplete or not a kernel image; download or build it again' },
      );
    }
  }

  has(offset: number, size: number): boolean {
    return offset >= 0 && size >= 0 && offset + size <= this.length;
  }

  u8(offset: number, field: string): number {
    this.need(offset, 1, field);
    return this.dv.getUint8(offset);
  }
  u16(offset: number, field: string): number {
    this.need(offset, 2, field);
    return this.dv.getUint16(offset, true);
  }
  u32(offset: number, field: string): number {
    this.need(offset, 4, field);
    return this.dv.getUint32(offset, true);
  }
  /** A 64-bit field as a number; values beyond 2^53 are reported as `Infinity` so range checks reject them. */
  u64(offset: number, field: string): number {
    this.need(offset, 8, field);
    const v = this.dv.getBigUint64(offset, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Infinity;
  }

  /** A NUL-terminated ASCII string starting at `offset`, read at most up to `end`. */
  cString(offset: number, end: number, field: string): string {
    this.need(offset, 1, field);
    const stop = Math.min(end, this.length);
    let i = offset;
    while (i < stop && this.bytes[i] !== 0) i++;
    let s = '';
    for (let j = offset; j < i; j++) {
      const c = this.bytes[j]!;
      s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
    }
    return s;
  }

  /** A 64-bit field exactly, for virtual addresses (kernel addresses are above 2^53). */
  u64big(offset: number, field: string): bigint {
    this.need(offset, 8, field);
    return this.dv.getBigUint64(offset, true);
  }

  /** A view (no copy) of [offset, offset+size). */
  slice(offset: number, size: number, field: string): Uint8Array {
    this.need(offset, size, field);
    return this.bytes.subarray(offset, offset + size);
  }
}
