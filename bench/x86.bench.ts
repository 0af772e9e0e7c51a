/**
 * x86 executor benchmarks, each beside a reference measured in the same run:
 *  1. Interpreted throughput on a fixed integer loop (mov r,[mem]; add; sub imm; and imm; or;
 *     xor; inc; mov r,r; cmp; dec; jnz), pre-decoded into a cached block whose handlers (from
 *     handlerFor()) are chained into one function (exec/block.ts), blocks linked by a one-entry
 *     successor cache. Reference: the same arithmetic written directly in JS. Goal ≥ 50 M
 *     instructions/s. Note: this VM's effective speed itself flips between two levels ~1.7×
 *     apart (the reference loop moves in lockstep), so compare the figure with the reference.
 *  2. Emulating one MMIO write exit (`mov dword ptr [rbx], eax`): decode + execute + route to
 *     the device through ExitCpu. Reference: calling the device's write directly. Goal < 1 µs.
 *  3. The plain port-I/O fast path (no decode). Reference: the direct device call.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './harness.ts';
import { median } from './harness.ts';
import { decodeInto, DecodeFault, Instruction } from '../src/x86/decode/index.ts';
import { X86Registers, RBX, RCX, RSI, RAX, type X86Cpu, type X86Fault } from '../src/x86/cpu.ts';
import { handlerFor, type Handler } from '../src/x86/exec/executor.ts';
import { chainBlock, MAX_BLOCK_INSNS, type BlockExit, type BlockFn } from '../src/x86/exec/block.ts';
import { emulateInstruction, emulatePortIoHalves, ExitCpu, type MmioBus, type PortIoBus } from '../src/x86/emulate.ts';
import { GuestRam } from '../src/memory/guest-memory.ts';

// top: mov eax,[rsi+8] / add eax,ebx / sub edx,3 / and eax,0xffff / or ebx,eax / xor r8d,edx /
//      inc edi / mov r9,rax / cmp edx,ebx / dec ecx / jnz top        (bytes from GNU as)
const LOOP = Buffer.from('8b460801d883ea0325ffff000009c34131d0ffc74989c139daffc975e3', 'hex');
const LOOP_INSNS = 11;
const CODE = 0x1000;

/**
 * Process CPU time in ms. The machine this runs on is shared (load average ≈ 7 on 2 cores
 * while other work runs), so wall-clock rates mostly measure the scheduler; CPU time measures
 * the code. Interpreter and reference are timed the same way.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Median CPU-time nanoseconds per call of `fn`. */
function cpuNsPerOp(fn: () => void, iterations: number, samples = 9): number {
  for (let i = 0; i < 20_000; i++) fn();
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = cpuMs();
    for (let i = 0; i < iterations; i++) fn();
    per.push(((cpuMs() - t0) * 1e6) / iterations);
  }
  return median(per);
}

/** A flat-RAM CPU for the interpreter loop: linear = physical, 1 MiB. */
class FlatCpu implements X86Cpu {
  readonly regs = new X86Registers();
  private readonly dv: DataView;
  constructor(readonly ram: Uint8Array) {
    this.dv = new DataView(ram.buffer);
  }
  readMemory(gva: number, size: number, out: Uint32Array): X86Fault | null {
    if (gva < 0 || gva + size > this.ram.length) return { vector: 14, errorCode: 0, cr2: gva };
    if (size === 4) out[0] = this.dv.getUint32(gva, true);
    else if (size === 8) { out[0] = this.dv.getUint32(gva, true); out[1] = this.dv.getUint32(gva + 4, true); }
    else if (size === 1) out[0] = this.ram[gva]!;
    else out[0] = this.dv.getUint16(gva, true);
    return null;
  }
  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null {
    if (gva < 0 || gva + size > this.ram.length) return { vector: 14, errorCode: 2, cr2: gva };
    if (size === 4) this.dv.setUint32(gva, data[0]!, true);
    else if (size === 8) { this.dv.setUint32(gva, data[0]!, true); this.dv.setUint32(gva + 4, data[1]!, true); }
    else if (size === 1) this.ram[gva] = data[0]!;
    else this.dv.setUint16(gva, data[0]!, true);
    return null;
  }
  compareAndWriteMemory(): boolean { return true; }
  readIo(): number { return 0; }
  writeIo(): void {}
  readMsr(): bigint { return 0n; }
  writeMsr(): null { return null; }
  cpuid(): void {}
}

/** A decoded block: instructions from `start` up to and including the first branch. */
interface Block {
  insns: Instruction[];
  handlers: Handler[];
  /** RIP after each instruction when it falls through. */
  next: number[];
  /** The handlers chained into one function (exec/block.ts). */
  run: BlockFn;
  /** One-entry successor cache (block chaining): the block last entered after this one. */
  succRip: number;
  succ: Block | null;
}

function buildBlock(ram: Uint8Array, start: number): Block {
  const insns: Instruction[] = [], handlers: Handler[] = [], next: number[] = [];
  let at = start;
  for (;;) {
    const insn = new Instruction();
    if (decodeInto(ram, at, 64, insn, at + 15) !== DecodeFault.None) throw new Error('bench: decode failed');
    insns.push(insn);
    handlers.push(handlerFor(insn));
    at += insn.length;
    next.push(at);
    if (isBranch(insn) || insns.length === MAX_BLOCK_INSNS) break;
  }
  return { insns, handlers, next, run: chainBlock(insns, handlers, next), succRip: NaN, succ: null };
}
function isBranch(insn: Instruction): boolean {
  return insn.o0 === 6 /* Rel */;
}

/** Runs `count` instructions through the block cache; returns instructions executed. */
function interpret(cpu: X86Cpu, cache: Map<number, Block>, ram: Uint8Array, count: number): number {
  const r = cpu.regs;
  let done = 0;
  let prev: Block | null = null;
  const exit: BlockExit = { fault: null };
  while (done < count) {
    let blk: Block | undefined;
    if (prev !== null && prev.succRip === r.rip) blk = prev.succ!;
    else {
      blk = cache.get(r.rip);
      if (blk === undefined) {
        blk = buildBlock(ram, r.rip);
        cache.set(r.rip, blk);
      }
      if (prev !== null) {
        prev.succRip = r.rip;
        prev.succ = blk;
      }
    }
    prev = blk;
    done += blk.run(cpu, exit);
    if (exit.fault !== null) throw new Error(`bench: fault ${exit.fault.vector}`);
  }
  return done;
}

/** Interpreter throughput in M instructions/s (exported so the bundled copy can be measured). */
export function interpreterMips(): number {
  const ram = new Uint8Array(1 << 20);
  ram.set(LOOP, CODE);
  const cpu = new FlatCpu(ram);
  const r = cpu.regs;
  r.setGpr(RSI, 0x8000n);
  new DataView(ram.buffer).setUint32(0x8008, 0x12345, true);
  const cache = new Map<number, Block>();
  const rates: number[] = [];
  const per = 2_000_000 * LOOP_INSNS;
  for (let s = 0; s < 9; s++) {
    r.rip = CODE;
    r.setGpr(RCX, BigInt(per / LOOP_INSNS) + 1n);
    const t0 = cpuMs();
    const n = interpret(cpu, cache, ram, per);
    const dt = cpuMs() - t0;
    if (s >= 2) rates.push(n / dt / 1000);
  }
  return median(rates);
}

/** The same loop body written directly in JS on 32-bit locals. */
function referenceMips(): number {
  const mem = new Uint32Array(1 << 18);
  mem[0x8008 >> 2] = 0x12345;
  const rates: number[] = [];
  let sink = 0;
  for (let s = 0; s < 9; s++) {
    let eax = 0, ebx = 0, edx = 0, r8 = 0, edi = 0, r9 = 0, zf = 0;
    const rsi = 0x8000;
    const iters = 20_000_000;
    const t0 = cpuMs();
    for (let ecx = iters; ecx !== 0; ecx = (ecx - 1) | 0) {
      eax = mem[(rsi + 8) >> 2]! | 0;
      eax = (eax + ebx) | 0;
      edx = (edx - 3) | 0;
      eax &= 0xffff;
      ebx |= eax;
      r8 ^= edx;
      edi = (edi + 1) | 0;
      r9 = eax;
      zf = edx === ebx ? 1 : 0;
    }
    const dt = cpuMs() - t0;
    sink ^= eax ^ ebx ^ r8 ^ edi ^ r9 ^ zf;
    if (s >= 2) rates.push((iters * LOOP_INSNS) / dt / 1000);
  }
  if (sink === 0x7fffffff) console.log(sink);
  return median(rates);
}

class NullDevice implements MmioBus, PortIoBus {
  last = 0;
  read(_gpa: number, _size: number, out: Uint32Array): void { out[0] = this.last; }
  write(_gpa: number, _size: number, data: Uint32Array): void { this.last = data[0]!; }
  readIo(): number { return this.last; }
  writeIo(_port: number, _size: number, value: number): void { this.last = value; }
}

export function mmioWriteNs(): { emu: number; direct: number; portIo: number } {
  const ram = GuestRam.allocate([{ gpa: 0, size: 0x10_0000 }]);
  const dev = new NullDevice();
  const regs = new X86Registers();
  const cpu = new ExitCpu({ regs, ram, mmio: dev, io: dev, translate: (gva) => gva });
  const bytes = new Uint8Array([0x89, 0x03]); // mov dword ptr [rbx], eax
  regs.setGpr(RBX, 0xd000_0000n);
  regs.setGpr(RAX, 0x1234n);
  const emu = cpuNsPerOp(() => {
    regs.rip = CODE;
    const out = emulateInstruction(cpu, bytes);
    if (out.kind !== 'done') throw new Error('bench: MMIO emulation failed');
  }, 200_000);
  const data = new Uint32Array(4);
  const direct = cpuNsPerOp(() => {
    data[0] = regs.gpr[0]!;
    dev.write(0xd000_0000, 4, data);
  }, 200_000);
  const exit = { port: 0x3f8, size: 1, isWrite: true, raxLo: 0x41, raxHi: 0, ripLo: 0x81000000, ripHi: 0xffffffff, instructionLength: 1 };
  const portIo = cpuNsPerOp(() => {
    emulatePortIoHalves(exit, dev);
  }, 200_000);
  return { emu, direct, portIo };
}

/**
 * The register-representation decision, measured: `add r64, r64` as the executor does it —
 * read two GPRs, add, write the destination and record the lazy-flag operands and result in
 * the register-file object, then read ZF for a following jnz. GPRs as int32 halves in an
 * Int32Array (what we use) versus a BigUint64Array with BigInt arithmetic and BigInt fields.
 * (A bare `b[0] = BigInt.asUintN(64, b[0] + b[1])` loop is fast in TurboFan because nothing
 * escapes; storing the BigInt operands for the flags, as any x86 interpreter must, allocates.)
 */
class HalvesState { a = 0; b = 0; res = 0; aHi = 0; bHi = 0; resHi = 0; }
class BigState { a = 0n; b = 0n; res = 0n; }
export function registerRepresentation(): { halves: number; bigint: number } {
  const n = 2_000_000;
  const g = new Int32Array(32);
  const hs = new HalvesState();
  const b = new BigUint64Array(16);
  const bs = new BigState();
  const halvesRates: number[] = [], bigRates: number[] = [];
  let zf = 0;
  for (let s = 0; s < 7; s++) {
    g[0] = 0x12345678; g[1] = 0x9abcdef0 | 0; g[2] = 0x0fedcba9; g[3] = 0x76543210;
    b[0] = 0x9abcdef012345678n; b[1] = 0x765432100fedcba9n;
    let t0 = cpuMs();
    for (let i = 0; i < n; i++) {
      const a = g[0]!, aHi = g[1]!, c = g[2]!, cHi = g[3]!;
      const lo = (a + c) | 0;
      const hi = (aHi + cHi + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
      g[0] = lo; g[1] = hi;
      hs.a = a; hs.aHi = aHi; hs.b = c; hs.bHi = cHi; hs.res = lo; hs.resHi = hi;
      zf ^= (hs.res | hs.resHi) === 0 ? 1 : 0;
    }
    halvesRates.push(n / (cpuMs() - t0) / 1000);
    t0 = cpuMs();
    for (let i = 0; i < n; i++) {
      const a = b[0]!, c = b[1]!;
      const res = BigInt.asUintN(64, a + c);
      b[0] = res;
      bs.a = a; bs.b = c; bs.res = res;
      zf ^= bs.res === 0n ? 1 : 0;
    }
    bigRates.push(n / (cpuMs() - t0) / 1000);
  }
  if (zf === 2) console.log(zf);
  return { halves: median(halvesRates), bigint: median(bigRates) };
}

/**
 * krun-whp ships as one esbuild bundle (dist/krun-whp.cjs); code run through tsx's per-file
 * transform is measurably slower (cross-module constants and enum members are not inlined).
 * So the goal figures are taken from this file bundled the same way, and the tsx figures are
 * reported beside them.
 */
async function bundled(): Promise<{ interpreterMips: () => number; mmioWriteNs: typeof mmioWriteNs } | null> {
  try {
    const { build } = await import('esbuild');
    const dir = mkdtempSync(join(tmpdir(), 'krun-x86-bench-'));
    const out = join(dir, 'x86-bench.mjs');
    await build({
      entryPoints: [fileURLToPath(import.meta.url)], outfile: out, bundle: true, platform: 'node',
      format: 'esm', logLevel: 'error', external: ['esbuild'],
    });
    return (await import(pathToFileURL(out).href)) as { interpreterMips: () => number; mmioWriteNs: typeof mmioWriteNs };
  } catch {
    return null;
  }
}

export async function run(): Promise<BenchResult[]> {
  const ref = referenceMips();
  const b = await bundled();
  const mips = b ? b.interpreterMips() : interpreterMips();
  const m = b ? b.mmioWriteNs() : mmioWriteNs();
  const kind = b ? 'bundled as shipped' : 'tsx, unbundled';
  const results: BenchResult[] = [
    {
      name: `x86 interpreter, integer loop (${kind})`,
      unit: 'M instr/s',
      value: mips,
      reference: { name: 'same loop as plain JS', value: ref },
      goal: '≥ 50 M instr/s',
      pass: mips >= 50,
    },
    {
      name: `x86 MMIO write exit emulation (${kind})`,
      unit: 'ns',
      value: m.emu,
      reference: { name: 'direct device write call', value: m.direct },
      goal: '< 1000 ns',
      pass: m.emu < 1000,
    },
    {
      name: `x86 port I/O exit fast path (${kind})`,
      unit: 'ns',
      value: m.portIo,
      reference: { name: 'direct device write call', value: m.direct },
    },
  ];
  const rep = registerRepresentation();
  results.push({
    name: 'GPR representation: 64-bit add on int32 halves',
    unit: 'M adds/s',
    value: rep.halves,
    reference: { name: 'same add on BigUint64Array + BigInt', value: rep.bigint },
  });
  if (b) {
    // Same order as the bundled copy (interpreter first, then MMIO), so both see the same warm-up.
    const tsxMips = interpreterMips();
    const t = mmioWriteNs();
    results.push(
      { name: 'x86 interpreter, integer loop (tsx, unbundled)', unit: 'M instr/s', value: tsxMips, reference: { name: 'same loop as plain JS', value: ref }, goal: '≥ 50 M instr/s', pass: tsxMips >= 50 },
      { name: 'x86 MMIO write exit emulation (tsx, unbundled)', unit: 'ns', value: t.emu, reference: { name: 'direct device write call', value: t.direct } },
    );
  }
  return results;
}
