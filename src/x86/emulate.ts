/**
 * Instruction emulation for hypervisor exits (WHP): pure entry points a backend calls with
 * the exit's information, in the shape of OpenVMM's virt_support_x86emu wrapper.
 *
 *  - emulatePortIo(): plain IN/OUT. Uses the port, size and RAX from the exit context and
 *    the exit's instruction length — no decoding (the hardware already did the IOPL and TSS
 *    bitmap checks before the exit).
 *  - emulateInstruction(): string I/O and MMIO. Decodes the instruction bytes the exit supplies
 *    (up to 16); if they end mid-instruction it fetches more through the CPU's translation
 *    (execute access) and retries. Executes with the executor against an X86Cpu. RIP advances
 *    only on success; guest faults come back as an outcome for the backend to inject as a
 *    pending exception; a `rep` instruction interrupted after a bounded chunk comes back as
 *    'retry' (resume the guest at the same RIP so interrupts get delivered).
 *  - ExitCpu: an X86Cpu over a register file, a GVA→GPA translation callback, guest RAM and an
 *    MMIO bus, with the exit's own GVA→GPA translation pre-seeded (saves a page walk per exit).
 */
import { decodeInto, DecodeFault, Instruction } from './decode/index.ts';
import { formatIntel } from './decode/format.ts';
import type { GuestMemory } from '../memory/guest-memory.ts';
import {
  ACCESS_EXECUTE, ACCESS_WRITE, CS, DIRTY_GPR, DIRTY_RFLAGS, DIRTY_RIP, DIRTY_XMM, FLAG_TF, X86Registers,
  type MemoryAccess, type X86Cpu, type X86Fault,
} from './cpu.ts';
import { execute } from './exec/executor.ts';
import { RETRY, UNSUPPORTED } from './exec/result.ts';

// ------------------------------------------------------------------ plain port I/O

/** What a WHP I/O port exit reports for a non-string IN/OUT. */
export interface PortIoExit {
  port: number;
  /** Access size in bytes: 1, 2 or 4. */
  size: number;
  isWrite: boolean;
  /** RAX at the exit (64-bit, unsigned). */
  rax: bigint;
  rip: bigint;
  /** From the exit's VP context. */
  instructionLength: number;
}

export interface PortIoBus {
  readIo(port: number, size: number): number;
  writeIo(port: number, size: number, value: number): void;
}

/**
 * Completes a non-string IN/OUT: returns the new RAX and RIP. An 8/16-bit IN replaces only
 * AL/AX and keeps RAX[63:8/16]; a 32-bit IN zero-extends into RAX (SDM Vol. 1 §3.4.1.1).
 */
export function emulatePortIo(exit: PortIoExit, bus: PortIoBus): { rax: bigint; rip: bigint } {
  const mask = exit.size === 1 ? 0xffn : exit.size === 2 ? 0xffffn : 0xffffffffn;
  let rax = exit.rax;
  if (exit.isWrite) {
    bus.writeIo(exit.port, exit.size, Number(rax & mask));
  } else {
    const v = BigInt(bus.readIo(exit.port, exit.size) >>> 0) & mask;
    rax = exit.size === 4 ? v : (rax & ~mask) | v;
  }
  return { rax, rip: BigInt.asUintN(64, exit.rip + BigInt(exit.instructionLength)) };
}

// ------------------------------------------------------------------ decode + execute

export type EmulationOutcome =
  /** Retired: registers (see regs.dirty) and RIP updated. `debugTrap`: RFLAGS.TF was set, so a
   * single-step #DB is due after the instruction (inject it). */
  | { kind: 'done'; debugTrap: boolean }
  /** Not retired, RIP unchanged: resume the guest (it re-executes; a rep chunk or lock race). */
  | { kind: 'retry' }
  /** A guest fault to inject as a pending exception; RIP unchanged. */
  | { kind: 'exception'; fault: X86Fault }
  /** Could not emulate (undecodable, or an instruction the executor lacks). OpenVMM injects
   * #UD here; `fault` is that #UD so a backend can do the same, and `text` explains. */
  | { kind: 'unsupported'; fault: X86Fault; text: string };

export interface EmulateOptions {
  /** Set when the exit happened while delivering an event (interruption pending): emulating
   * would re-deliver, so we refuse (as OpenVMM does). */
  interruptionPending?: boolean;
}

const insnScratch = new Instruction();
const fetchBuf = new Uint8Array(16);
const fetchWord = new Uint32Array(4);

/**
 * Decodes and executes one instruction at RIP. `bytes` are the instruction bytes from the exit
 * context (WHP gives up to 16); more are fetched through `cpu.readMemory(…, ACCESS_EXECUTE)`
 * if they run out mid-instruction.
 */
export function emulateInstruction(cpu: X86Cpu, bytes: Uint8Array, options: EmulateOptions = {}): EmulationOutcome {
  const r = cpu.regs;
  if (options.interruptionPending) {
    return { kind: 'unsupported', fault: { vector: 6 }, text: 'exit during event delivery: not emulated (would re-deliver the event)' };
  }
  const mode = r.bitness;
  const insn = insnScratch;
  let buf = bytes;
  let have = Math.min(bytes.length, 16);
  let df = decodeInto(buf, 0, mode, insn, have);
  if (df === DecodeFault.Truncated) {
    // Fetch the rest byte by byte through translation (an instruction may cross a page).
    fetchBuf.set(bytes.subarray(0, have));
    const ip = r.rip + (mode === 64 ? 0 : r.segBase[CS]!);
    while (df === DecodeFault.Truncated && have < 15) {
      const f = cpu.readMemory(ip + have, 1, fetchWord, ACCESS_EXECUTE);
      if (f !== null) return { kind: 'exception', fault: f };
      fetchBuf[have++] = fetchWord[0]!;
      df = decodeInto(fetchBuf, 0, mode, insn, have);
    }
    buf = fetchBuf;
  }
  if (df === DecodeFault.Truncated) df = DecodeFault.GeneralProtection; // > 15 bytes
  if (df !== DecodeFault.None) {
    return df === DecodeFault.GeneralProtection
      ? { kind: 'exception', fault: { vector: 13, errorCode: 0 } }
      : { kind: 'unsupported', fault: { vector: 6 }, text: `undecodable instruction bytes ${hexBytes(buf, have)}` };
  }
  const tf = (r.flagsBase & FLAG_TF) !== 0;
  const ripBefore = r.rip;
  const res = execute(cpu, insn);
  if (res === null) {
    r.dirty |= DIRTY_RIP | DIRTY_GPR | DIRTY_RFLAGS | DIRTY_XMM;
    return { kind: 'done', debugTrap: tf };
  }
  r.rip = ripBefore;
  if (res === RETRY) {
    r.dirty |= DIRTY_GPR | DIRTY_RFLAGS; // rep progress (rCX/rSI/rDI) is architectural
    return { kind: 'retry' };
  }
  if (res === UNSUPPORTED) {
    return { kind: 'unsupported', fault: { vector: 6 }, text: `instruction not supported by the emulator: ${formatIntel(insn)} (${hexBytes(buf, insn.length)})` };
  }
  r.dirty |= DIRTY_GPR | DIRTY_RFLAGS; // a rep instruction may have made progress before faulting
  return { kind: 'exception', fault: res };
}

function hexBytes(b: Uint8Array, n: number): string {
  return Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

// ------------------------------------------------------------------ a ready-made X86Cpu

/** Device side of guest-physical MMIO. Data as little-endian 32-bit words (see X86Cpu). */
export interface MmioBus {
  read(gpa: number, size: number, out: Uint32Array): void;
  write(gpa: number, size: number, data: Uint32Array): void;
}

/** GVA → GPA for the given access, or the fault (#PF with error code and CR2). */
export type TranslateGva = (gva: number, access: MemoryAccess) => number | X86Fault;

export interface ExitCpuOptions {
  regs: X86Registers;
  ram: GuestMemory;
  mmio: MmioBus;
  io: PortIoBus;
  translate: TranslateGva;
  readMsr?: (index: number) => bigint | X86Fault;
  writeMsr?: (index: number, value: bigint) => X86Fault | null;
  cpuid?: (leaf: number, subleaf: number, out: Uint32Array) => void;
}

const GP0: X86Fault = Object.freeze({ vector: 13, errorCode: 0 });

/**
 * X86Cpu for exit emulation: linear addresses are translated page by page (with a one-entry
 * cache per access kind, seedable from the exit's own translation), then routed to RAM when
 * GuestMemory contains the range and to the MMIO bus otherwise. An access that crosses a page
 * is split into bytes. compareAndWriteMemory is atomic on RAM for naturally aligned 1/2/4/8-byte
 * operands (Atomics on the RAM view); on MMIO the compare is done but not atomically, as device
 * registers are not shared with other agents (OpenVMM ignores the compare there).
 */
export class ExitCpu implements X86Cpu {
  readonly regs: X86Registers;
  private readonly o: ExitCpuOptions;
  private cachePage = [NaN, NaN, NaN];
  private cacheGpa = [0, 0, 0];
  private readonly tmp = new Uint32Array(4);

  constructor(options: ExitCpuOptions) {
    this.o = options;
    this.regs = options.regs;
  }

  /**
   * Forgets cached translations. The cache is only valid within one exit (the guest may change
   * its page tables or CR3 between exits): call this at the start of each exit if the ExitCpu is
   * reused, then seedTranslation() with the exit's own pair.
   */
  flushTranslations(): void {
    this.cachePage.fill(NaN);
  }

  /** Seeds the translation cache with the exit's GVA→GPA pair (WHP memory-access exit: Gva, Gpa). */
  seedTranslation(gva: number, gpa: number, access: MemoryAccess): void {
    this.cachePage[access] = Math.floor(gva / 4096);
    this.cacheGpa[access] = Math.floor(gpa / 4096) * 4096;
  }

  private gpaOf(gva: number, access: MemoryAccess): number | X86Fault {
    const page = Math.floor(gva / 4096);
    const off = gva - page * 4096;
    if (this.cachePage[access] === page) return this.cacheGpa[access]! + off;
    const t = this.o.translate(gva, access);
    if (typeof t !== 'number') return t;
    this.cachePage[access] = page;
    this.cacheGpa[access] = t - off;
    return t;
  }

  private crossesPage(gva: number, size: number): boolean {
    return (gva - Math.floor(gva / 4096) * 4096) + size > 4096;
  }

  readMemory(gva: number, size: number, out: Uint32Array, access: MemoryAccess): X86Fault | null {
    if (this.crossesPage(gva, size)) return this.bytewise(gva, size, out, access, false);
    const gpa = this.gpaOf(gva, access);
    if (typeof gpa !== 'number') return gpa;
    const ram = this.o.ram;
    if (ram.contains(gpa, size)) {
      if (size === 1) out[0] = ram.readU8(gpa);
      else if (size === 2) out[0] = ram.readU16(gpa);
      else for (let i = 0; i < size >> 2; i++) out[i] = ram.readU32(gpa + 4 * i);
    } else {
      this.o.mmio.read(gpa, size, out);
    }
    return null;
  }

  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null {
    if (this.crossesPage(gva, size)) return this.bytewise(gva, size, data, ACCESS_WRITE, true);
    const gpa = this.gpaOf(gva, ACCESS_WRITE);
    if (typeof gpa !== 'number') return gpa;
    const ram = this.o.ram;
    if (ram.contains(gpa, size)) {
      if (size === 1) ram.writeU8(gpa, data[0]!);
      else if (size === 2) ram.writeU16(gpa, data[0]!);
      else for (let i = 0; i < size >> 2; i++) ram.writeU32(gpa + 4 * i, data[i]!);
    } else {
      this.o.mmio.write(gpa, size, data);
    }
    return null;
  }

  /** Page-crossing access: translate both pages first (no partial write on a fault), then bytes. */
  private bytewise(gva: number, size: number, words: Uint32Array, access: MemoryAccess, write: boolean): X86Fault | null {
    const last = this.gpaOf(gva + size - 1, access);
    if (typeof last !== 'number') return last;
    const first = this.gpaOf(gva, access);
    if (typeof first !== 'number') return first;
    const one = this.tmp;
    if (!write) words.fill(0);
    for (let i = 0; i < size; i++) {
      const w = i >> 2, sh = (i & 3) * 8;
      if (write) {
        one[0] = (words[w]! >>> sh) & 0xff;
        const f = this.writeMemory(gva + i, 1, one);
        if (f) return f;
      } else {
        const f = this.readMemory(gva + i, 1, one, access);
        if (f) return f;
        words[w] = (words[w]! | (one[0]! << sh)) >>> 0;
      }
    }
    return null;
  }

  compareAndWriteMemory(gva: number, size: number, expected: Uint32Array, data: Uint32Array): X86Fault | boolean {
    if (!this.crossesPage(gva, size)) {
      const gpa = this.gpaOf(gva, ACCESS_WRITE);
      if (typeof gpa !== 'number') return gpa;
      const ram = this.o.ram;
      const v = ram.contains(gpa, size) && size <= 8 && gpa % size === 0 ? ram.view(gpa, size) : null;
      if (v !== null && v.byteOffset % size === 0) {
        const buf = v.buffer, at = v.byteOffset;
        let old: number | bigint, want: number | bigint;
        if (size === 8) {
          want = (BigInt(expected[1]!) << 32n) | BigInt(expected[0]!);
          old = Atomics.compareExchange(new BigUint64Array(buf, at, 1), 0, want, (BigInt(data[1]!) << 32n) | BigInt(data[0]!));
          if (old === want) return true;
          expected[0] = Number(old & 0xffffffffn);
          expected[1] = Number(old >> 32n);
          return false;
        }
        const arr = size === 4 ? new Uint32Array(buf, at, 1) : size === 2 ? new Uint16Array(buf, at, 1) : new Uint8Array(buf, at, 1);
        want = expected[0]!;
        old = Atomics.compareExchange(arr, 0, want, data[0]!);
        if (old === want) return true;
        expected[0] = old;
        return false;
      }
    }
    // MMIO or unaligned RAM: compare then write (not atomic; see the class comment).
    const cur = new Uint32Array(4);
    const f = this.readMemory(gva, size, cur, 1);
    if (f) return f;
    for (let i = 0; i < Math.max(1, size >> 2); i++) {
      if (cur[i] !== expected[i]) {
        expected.set(cur);
        return false;
      }
    }
    return this.writeMemory(gva, size, data) ?? true;
  }

  readIo(port: number, size: number): number {
    return this.o.io.readIo(port, size);
  }
  writeIo(port: number, size: number, value: number): void {
    this.o.io.writeIo(port, size, value);
  }
  readMsr(index: number): bigint | X86Fault {
    return this.o.readMsr ? this.o.readMsr(index) : GP0;
  }
  writeMsr(index: number, value: bigint): X86Fault | null {
    return this.o.writeMsr ? this.o.writeMsr(index, value) : GP0;
  }
  cpuid(leaf: number, subleaf: number, out: Uint32Array): void {
    if (this.o.cpuid) this.o.cpuid(leaf, subleaf, out);
    else out.fill(0);
  }
}
