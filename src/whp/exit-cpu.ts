/**
 * The WHP side of exit emulation's CPU: the bus shapes BuiltinExitEmulator and the WinHv
 * emulator are given (devices/bus.ts fits them), and ExitBuses, which presents them to the
 * backend-neutral ExitCpu (src/x86/emulate.ts) — the one X86Cpu exit emulation runs against.
 *
 * ExitCpu hands MMIO to its bus as little-endian 32-bit words of any access width; the device
 * bus has 1/2/4-byte cycles as numbers and 8-byte ones through read64/write64. A 16-byte SSE
 * access to a device is therefore split into two 8-byte bus accesses, low half first (the bus
 * has no wider cycle).
 */
import type { MmioBus, PortIoBus } from '../x86/emulate.ts';

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

/** ExitCpu's MmioBus and PortIoBus over the WHP backend's device buses. */
export class ExitBuses implements MmioBus, PortIoBus {
  constructor(
    readonly mmio: ExitMmioBus,
    readonly pio: ExitPioBus,
  ) {}

  read(gpa: number, size: number, out: Uint32Array): void {
    const bus = this.mmio;
    if (size <= 4) {
      out[0] = bus.read(gpa, size as 1 | 2 | 4);
      return;
    }
    for (let i = 0; i < size >> 3; i++) {
      const v = bus.read64(gpa + 8 * i);
      out[2 * i] = Number(v & 0xffffffffn);
      out[2 * i + 1] = Number(v >> 32n);
    }
  }

  write(gpa: number, size: number, data: Uint32Array): void {
    const bus = this.mmio;
    if (size <= 4) {
      bus.write(gpa, size as 1 | 2 | 4, size === 1 ? data[0]! & 0xff : size === 2 ? data[0]! & 0xffff : data[0]!);
      return;
    }
    for (let i = 0; i < size >> 3; i++) bus.write64(gpa + 8 * i, (BigInt(data[2 * i + 1]!) << 32n) | BigInt(data[2 * i]!));
  }

  readIo(port: number, size: number): number {
    return this.pio.read(port, size as 1 | 2 | 4);
  }

  writeIo(port: number, size: number, value: number): void {
    this.pio.write(port, size as 1 | 2 | 4, value);
  }
}

/** A 64-bit value given as 32-bit halves → the canonical sign-extended number X86Registers uses. */
export function canonicalNumber(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}
