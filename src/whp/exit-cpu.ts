/**
 * WhpExitCpu: the X86Cpu the executor runs against while completing a WHP IO or memory-access
 * exit. It owns an X86Registers that the exit emulator fills from the exit context and one
 * register batch per exit, and routes the executor's memory and port accesses:
 *
 *  - linear → physical through GvaTranslator (WHvTranslateGva, cached per page per exit);
 *  - a GPA inside GuestMemory → guest RAM; anything else → the MMIO bus (devices/bus.ts), with
 *    1/2/4-byte accesses as numbers and 8-byte ones through read64/write64. A 16-byte SSE access
 *    to a device is split into two 8-byte bus accesses, low half first (the bus has no wider
 *    cycle);
 *  - an access that crosses a page is translated on both pages first (so a #PF on the second
 *    page leaves nothing half-written), then done byte by byte, as two separate page accesses
 *    would be on hardware;
 *  - port I/O → the PIO bus.
 *
 * MSRs and CPUID never reach exit emulation (they have their own exits): RDMSR/WRMSR get #GP(0)
 * and CPUID returns zeros, so a mis-dispatched exit cannot silently do something plausible.
 * Nothing here allocates on the common path (1/2/4-byte RAM and MMIO accesses).
 */
import type { GuestMemory } from '../memory/guest-memory.ts';
import {
  ACCESS_READ, ACCESS_WRITE, FAULT_GP0, X86Registers, type MemoryAccess, type X86Cpu, type X86Fault,
} from '../x86/cpu.ts';
import type { GvaTranslator } from './exit-gva-translator.ts';

/** What exit emulation needs of the port I/O bus (devices/bus.ts PortIoBus fits). */
export interface ExitPioBus {
  read(port: number, size: 1 | 2 | 4): number;
  write(port: number, size: 1 | 2 | 4, value: number): void;
}

/** What exit emulation needs of the MMIO bus (devices/bus.ts MmioBus fits). */
export interface ExitMmioBus {
  read(addr: number, size: 1 | 2 | 4): number;
  write(addr: number, size: 1 | 2 | 4, value: number): void;
  read64(addr: number): bigint;
  write64(addr: number, value: bigint): void;
}

const TWO32 = 4294967296;

export class WhpExitCpu implements X86Cpu {
  readonly regs = new X86Registers();
  private readonly one = new Uint32Array(4);
  private readonly cur = new Uint32Array(4);
  /** Guest-physical address of the access in progress (see readPhysical). */
  private gpa = 0.5; // a double from the start, so V8 keeps the field unboxed

  constructor(
    readonly translator: GvaTranslator,
    readonly ram: GuestMemory,
    readonly mmio: ExitMmioBus,
    readonly pio: ExitPioBus,
  ) {}

  readMemory(gva: number, size: number, out: Uint32Array, access: MemoryAccess): X86Fault | null {
    if ((gva & 0xfff) + size > 4096) return this.split(gva, size, out, access, false);
    const t = this.translator;
    const f = t.translate(gva, access, this.regs);
    if (f !== null) return f;
    this.gpa = t.gpa;
    this.readPhysical(size, out);
    return null;
  }

  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null {
    if ((gva & 0xfff) + size > 4096) return this.split(gva, size, data, ACCESS_WRITE, true);
    const t = this.translator;
    const f = t.translate(gva, ACCESS_WRITE, this.regs);
    if (f !== null) return f;
    this.gpa = t.gpa;
    this.writePhysical(size, data);
    return null;
  }

  /**
   * Reads `size` bytes at `this.gpa` (not crossing a page): RAM if it is RAM, else the MMIO bus.
   * The GPA goes through a field, not an argument: device GPAs lie above 3 GiB, outside V8's
   * small-integer range, so passing one to a call that is not inlined allocates a HeapNumber.
   */
  private readPhysical(size: number, out: Uint32Array): void {
    const gpa = this.gpa;
    const ram = this.ram;
    if (ram.contains(gpa, size)) {
      if (size === 1) out[0] = ram.readU8(gpa);
      else if (size === 2) out[0] = ram.readU16(gpa);
      else for (let i = 0; i < size >> 2; i++) out[i] = ram.readU32(gpa + 4 * i);
      return;
    }
    const bus = this.mmio;
    if (size <= 4) {
      out[0] = bus.read(gpa, size as 1 | 2 | 4);
    } else {
      for (let i = 0; i < size >> 3; i++) {
        const v = bus.read64(gpa + 8 * i);
        out[2 * i] = Number(v & 0xffffffffn);
        out[2 * i + 1] = Number(v >> 32n);
      }
    }
  }

  /** Writes `size` bytes at `this.gpa` (see readPhysical). */
  private writePhysical(size: number, data: Uint32Array): void {
    const gpa = this.gpa;
    const ram = this.ram;
    if (ram.contains(gpa, size)) {
      if (size === 1) ram.writeU8(gpa, data[0]! & 0xff);
      else if (size === 2) ram.writeU16(gpa, data[0]! & 0xffff);
      else for (let i = 0; i < size >> 2; i++) ram.writeU32(gpa + 4 * i, data[i]!);
      return;
    }
    const bus = this.mmio;
    if (size <= 4) {
      bus.write(gpa, size as 1 | 2 | 4, size === 1 ? data[0]! & 0xff : size === 2 ? data[0]! & 0xffff : data[0]!);
    } else {
      for (let i = 0; i < size >> 3; i++) bus.write64(gpa + 8 * i, (BigInt(data[2 * i + 1]!) << 32n) | BigInt(data[2 * i]!));
    }
  }

  /** A page-crossing access: both translations first (no partial effect on a fault), then bytes. */
  private split(gva: number, size: number, words: Uint32Array, access: MemoryAccess, write: boolean): X86Fault | null {
    const t = this.translator;
    let f = t.translate(gva, access, this.regs);
    if (f !== null) return f;
    const first = t.gpa;
    f = t.translate(gva + size - 1, access, this.regs);
    if (f !== null) return f;
    const last = t.gpa;
    const firstLen = 4096 - (gva & 0xfff);
    const one = this.one;
    if (!write) for (let i = 0; i < (size + 3) >> 2; i++) words[i] = 0;
    for (let i = 0; i < size; i++) {
      this.gpa = i < firstLen ? first + i : last - (size - 1 - i);
      const w = i >> 2, sh = (i & 3) * 8;
      if (write) {
        one[0] = (words[w]! >>> sh) & 0xff;
        this.writePhysical(1, one);
      } else {
        this.readPhysical(1, one);
        words[w] = (words[w]! | (one[0]! << sh)) >>> 0;
      }
    }
    return null;
  }

  /**
   * Locked read-modify-write. On RAM a naturally aligned 1/2/4/8-byte operand is a real atomic
   * compare-exchange on the guest's memory (other vCPUs run concurrently on WHP). Elsewhere
   * (MMIO, or a split RAM operand) it is compare-then-write: a device register has no other
   * writer while this vCPU is in its exit, and the SDM gives no atomicity for split locks
   * beyond the bus lock we do not have.
   */
  compareAndWriteMemory(gva: number, size: number, expected: Uint32Array, data: Uint32Array): X86Fault | boolean {
    if ((gva & 0xfff) + size <= 4096 && size <= 8) {
      const t = this.translator;
      const f = t.translate(gva, ACCESS_WRITE, this.regs);
      if (f !== null) return f;
      const gpa = t.gpa;
      if (gpa % size === 0 && this.ram.contains(gpa, size)) return this.atomicRam(gpa, size, expected, data);
    }
    const cur = this.cur;
    const f = this.readMemory(gva, size, cur, ACCESS_READ);
    if (f !== null) return f;
    const words = Math.max(1, size >> 2);
    for (let i = 0; i < words; i++) {
      if (cur[i] !== expected[i]) {
        for (let j = 0; j < words; j++) expected[j] = cur[j]!;
        return false;
      }
    }
    return this.writeMemory(gva, size, data) ?? true;
  }

  private atomicRam(gpa: number, size: number, expected: Uint32Array, data: Uint32Array): boolean {
    const v = this.ram.view(gpa, size);
    const buf = v.buffer as ArrayBuffer;
    const at = v.byteOffset;
    if (size === 8) {
      const want = (BigInt(expected[1]!) << 32n) | BigInt(expected[0]!);
      const old = Atomics.compareExchange(new BigUint64Array(buf, at, 1), 0, want, (BigInt(data[1]!) << 32n) | BigInt(data[0]!));
      if (old === want) return true;
      expected[0] = Number(old & 0xffffffffn);
      expected[1] = Number(old >> 32n);
      return false;
    }
    const arr = size === 4 ? new Uint32Array(buf, at, 1) : size === 2 ? new Uint16Array(buf, at, 1) : new Uint8Array(buf, at, 1);
    const want = expected[0]!;
    const old = Atomics.compareExchange(arr, 0, want, data[0]!);
    if (old === want) return true;
    expected[0] = old;
    return false;
  }

  readIo(port: number, size: number): number {
    return this.pio.read(port, size as 1 | 2 | 4);
  }

  writeIo(port: number, size: number, value: number): void {
    this.pio.write(port, size as 1 | 2 | 4, value);
  }

  readMsr(): bigint | X86Fault {
    return FAULT_GP0;
  }

  writeMsr(): X86Fault | null {
    return FAULT_GP0;
  }

  cpuid(_leaf: number, _subleaf: number, out: Uint32Array): void {
    out[0] = out[1] = out[2] = out[3] = 0;
  }
}

/** A 64-bit value given as 32-bit halves → the canonical sign-extended number X86Registers uses. */
export function canonicalNumber(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}
