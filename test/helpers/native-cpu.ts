/**
 * Test-side oracles for the x86 executor:
 *  - `assemble()`: GNU as (binutils) turns instruction text into bytes, one `as` run per batch —
 *    an encoder independent of ours.
 *  - `runNative()`: the C harness in test/native/x86-exec-harness.c, compiled on first use with gcc
 *    into a cache directory, runs each case on the host CPU and reports the resulting state.
 * Both return `null`-ish skip reasons instead of throwing when the tool is absent, so a test can
 * `t.skip(reason)`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

export const DATA_BASE = 0x1000_0000;
/** Size of the data mapping (the case's image is its start; the rest reads as zero). */
export const DATA_SIZE = 0x1_0000;
export const CODE_BASE = 0x2000_0000;
/** Branch targets with an exit stub: CODE_BASE + STUB_FIRST + STUB_STRIDE * k. */
export const STUB_FIRST = 0x40;
export const STUB_STRIDE = 32;
/** Flags the harness lets a case set (CF PF AF ZF SF OF DF); others are forced (bit 1, IF). */
export const SETTABLE_FLAGS = 0xcd5;

export interface NativeCase {
  code: Uint8Array;
  /** 16 GPRs in encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15). */
  gpr: bigint[];
  rflags: number;
  /** 16 XMM registers × 16 bytes, or undefined for all zero. */
  xmm?: Uint8Array;
  /** Data memory image at DATA_BASE (all cases of a batch use the same length). */
  mem: Uint8Array;
  /** 64 (default) or 32: run in compatibility mode (CS = 0x23, 32-bit code; DS/ES = 0x2b). */
  mode?: 64 | 32;
}

export interface NativeResult {
  gpr: bigint[];
  rflags: number;
  /** Final RIP: CODE_BASE + length on fall-through, a stub address after a branch, the faulting RIP on a fault. */
  rip: number;
  /** Exception vector (0 #DE, 6 #UD, 13 #GP, 14 #PF, 17 #AC), or -1. */
  vector: number;
  errorCode: number;
  cr2: bigint;
  xmm: Uint8Array;
  mem: Uint8Array;
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

let harnessPath: string | undefined;
let harnessSkip: string | undefined;

/** Compiles the harness (cached by source hash). Returns a skip reason when that is impossible. */
export function nativeHarnessUnavailable(): string | undefined {
  if (harnessPath || harnessSkip) return harnessSkip;
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    return (harnessSkip = `native x86-64 oracle needs a Linux x86-64 host (this is ${process.platform}/${process.arch})`);
  }
  if (!which('gcc')) return (harnessSkip = 'gcc not found: cannot build the native x86 oracle (apt-get install gcc)');
  const src = join(ROOT, 'test', 'native', 'x86-exec-harness.c');
  const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'krun-whp-x86-native');
  const exe = join(dir, `harness-${hash}`);
  if (!existsSync(exe)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${exe}.${process.pid}.tmp`;
    const r = spawnSync('gcc', ['-O1', '-o', tmp, src], { encoding: 'utf8' });
    if (r.status !== 0) return (harnessSkip = `gcc failed to build the native x86 oracle: ${r.stderr.trim()}`);
    renameSync(tmp, exe);
  }
  // A probe run: RWX or fixed mappings may be refused (hardened kernels, sanitizers).
  const probe = spawnSync(exe, [], { input: header(0, 0) });
  if (probe.status !== 0) {
    return (harnessSkip = `native x86 oracle cannot run here: ${String(probe.stderr).trim() || `exit ${probe.status}`}`);
  }
  harnessPath = exe;
  return undefined;
}

function header(count: number, memLen: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(0x54363858, 0);
  b.writeUInt32LE(count, 4);
  b.writeUInt32LE(memLen, 8);
  return b;
}

/** Runs a batch natively. All cases must have the same `mem.length`. */
export function runNative(cases: readonly NativeCase[]): NativeResult[] {
  const skip = nativeHarnessUnavailable();
  if (skip) throw new Error(skip);
  const memLen = cases.length ? cases[0]!.mem.length : 0;
  const inSize = 16 + 8 + 128 + 8 + 256 + memLen;
  const input = Buffer.alloc(12 + inSize * cases.length);
  header(cases.length, memLen).copy(input, 0);
  let o = 12;
  for (const c of cases) {
    if (c.code.length > 15) throw new Error('instruction longer than 15 bytes');
    if (c.mem.length !== memLen) throw new Error('all cases of a batch need the same memory length');
    input.set(c.code, o);
    input.writeUInt32LE(c.code.length, o + 16);
    input.writeUInt32LE(c.mode ?? 64, o + 20);
    for (let i = 0; i < 16; i++) input.writeBigUInt64LE(BigInt.asUintN(64, c.gpr[i] ?? 0n), o + 24 + 8 * i);
    input.writeBigUInt64LE(BigInt(c.rflags >>> 0), o + 152);
    if (c.xmm) input.set(c.xmm, o + 160);
    input.set(c.mem, o + 416);
    o += inSize;
  }
  const r = spawnSync(harnessPath!, [], { input, maxBuffer: 1 << 30, timeout: 120_000 });
  if (r.status !== 0) {
    const tail = String(r.stderr).split('\n').slice(-3).join(' | ');
    throw new Error(`native x86 oracle failed (exit ${r.status}, signal ${r.signal}): ${tail}`);
  }
  const out = r.stdout;
  const outSize = 128 + 8 + 8 + 4 + 4 + 8 + 256 + memLen;
  if (out.length !== outSize * cases.length) throw new Error(`native x86 oracle: short output ${out.length}`);
  const results: NativeResult[] = [];
  for (let i = 0, p = 0; i < cases.length; i++, p += outSize) {
    const gpr: bigint[] = [];
    for (let g = 0; g < 16; g++) gpr.push(out.readBigUInt64LE(p + 8 * g));
    results.push({
      gpr,
      rflags: Number(out.readBigUInt64LE(p + 128)),
      rip: Number(out.readBigUInt64LE(p + 136)),
      vector: out.readInt32LE(p + 144),
      errorCode: out.readUInt32LE(p + 148),
      cr2: out.readBigUInt64LE(p + 152),
      xmm: new Uint8Array(out.subarray(p + 160, p + 416)),
      mem: new Uint8Array(out.subarray(p + 416, p + 416 + memLen)),
    });
  }
  return results;
}

let asSkip: string | undefined;
let asChecked = false;

export function assemblerUnavailable(): string | undefined {
  if (!asChecked) {
    asChecked = true;
    if (!which('as') || !which('objcopy') || !which('nm')) asSkip = 'GNU binutils (as, objcopy, nm) not found (apt-get install binutils)';
  }
  return asSkip;
}

const asmCache = new Map<string, Uint8Array>();

/**
 * Assembles each line (Intel syntax, no prefix; 64-bit mode) to its bytes with one `as` run.
 * Lines may contain several instructions separated by ';' (the result is their concatenation).
 */
export function assemble(lines: readonly string[]): Uint8Array[] {
  const skip = assemblerUnavailable();
  if (skip) throw new Error(skip);
  const todo = [...new Set(lines.filter((l) => !asmCache.has(l)))];
  if (todo.length) {
    const dir = join(tmpdir(), 'krun-whp-x86-native');
    mkdirSync(dir, { recursive: true });
    const base = join(dir, `asm-${process.pid}-${Date.now()}`);
    let text = '.intel_syntax noprefix\n.text\n';
    todo.forEach((l, i) => {
      text += `krun_L${i}:\n${l}\n`;
    });
    text += `krun_L${todo.length}:\n`;
    writeFileSync(`${base}.s`, text);
    const a = spawnSync('as', ['--64', '-o', `${base}.o`, `${base}.s`], { encoding: 'utf8' });
    if (a.status !== 0) {
      const firstErr = /:(\d+): Error: (.*)/.exec(a.stderr);
      const line = firstErr ? Number(firstErr[1]) : 0;
      const idx = Math.floor((line - 3) / 2);
      throw new Error(`as rejected "${todo[idx] ?? '?'}": ${firstErr?.[2] ?? a.stderr}`);
    }
    const oc = spawnSync('objcopy', ['-O', 'binary', '-j', '.text', `${base}.o`, `${base}.bin`]);
    if (oc.status !== 0) throw new Error(`objcopy failed: ${String(oc.stderr)}`);
    const nm = spawnSync('nm', [`${base}.o`], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const offs = new Map<number, number>();
    for (const m of nm.stdout.matchAll(/^([0-9a-f]+) t krun_L(\d+)$/gm)) offs.set(Number(m[2]), parseInt(m[1]!, 16));
    const bin = readFileSync(`${base}.bin`);
    todo.forEach((l, i) => {
      const s = offs.get(i)!;
      const e = offs.get(i + 1)!;
      asmCache.set(l, new Uint8Array(bin.subarray(s, e)));
    });
    for (const ext of ['.s', '.o', '.bin']) spawnSync('rm', ['-f', `${base}${ext}`]);
  }
  return lines.map((l) => asmCache.get(l)!);
}

// ------------------------------------------------------------------------------------------
// The emulator-side twin of the harness: a CPU with the same fixed data page, for comparisons.

import {
  X86Registers, fault, type X86Cpu, type X86Fault, CS, SS,
} from '../../src/x86/cpu.ts';
import { decodeInto, Instruction, DecodeFault } from '../../src/x86/decode/index.ts';
import { execute, handlerFor } from '../../src/x86/exec/executor.ts';
import { RETRY } from '../../src/x86/exec/result.ts';

/** Flat user-mode CPU: RAM only at [DATA_BASE, DATA_BASE + mem.length); anything else #PF.
 * (runEmulated passes a DATA_SIZE buffer, like the harness's mapping.) */
export class FlatTestCpu implements X86Cpu {
  readonly regs = new X86Registers();
  readonly mem: Uint8Array;
  private readonly dv: DataView;
  ioLog: string[] = [];

  constructor(mem: Uint8Array, user = true) {
    this.mem = mem;
    this.dv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
    if (user) {
      this.regs.segAttr[CS] |= 0x60; // DPL 3: CPL = 3 like the native harness
      this.regs.segAttr[SS] |= 0x60;
      this.regs.segSel[CS] = 0x33; // Linux x86-64 user selectors (__USER_CS, __USER_DS)
      this.regs.segSel[SS] = 0x2b;
    }
  }

  private check(gva: number, size: number, write: boolean): X86Fault | null {
    const off = gva - DATA_BASE;
    if (off < 0 || off + size > this.mem.length) {
      const page = off < 0 || off >= this.mem.length ? gva : DATA_BASE + this.mem.length;
      // user-mode, not-present page: P=0, W/R, U/S=1 (SDM Vol. 3 §4.7)
      return fault(14, 4 | (write ? 2 : 0), page);
    }
    return null;
  }

  readMemory(gva: number, size: number, out: Uint32Array): X86Fault | null {
    const f = this.check(gva, size, false);
    if (f) return f;
    const o = gva - DATA_BASE;
    if (size === 1) out[0] = this.mem[o]!;
    else if (size === 2) out[0] = this.dv.getUint16(o, true);
    else for (let i = 0; i < size / 4; i++) out[i] = this.dv.getUint32(o + 4 * i, true);
    return null;
  }

  writeMemory(gva: number, size: number, data: Uint32Array): X86Fault | null {
    const f = this.check(gva, size, true);
    if (f) return f;
    const o = gva - DATA_BASE;
    if (size === 1) this.mem[o] = data[0]!;
    else if (size === 2) this.dv.setUint16(o, data[0]!, true);
    else for (let i = 0; i < size / 4; i++) this.dv.setUint32(o + 4 * i, data[i]!, true);
    return null;
  }

  compareAndWriteMemory(gva: number, size: number, expected: Uint32Array, data: Uint32Array): X86Fault | boolean {
    const cur = new Uint32Array(4);
    const f = this.readMemory(gva, size, cur);
    if (f) return f;
    for (let i = 0; i < Math.max(1, size / 4); i++) {
      if (cur[i] !== expected[i]) {
        expected.set(cur);
        return false;
      }
    }
    return this.writeMemory(gva, size, data) ?? true;
  }

  readIo(port: number, size: number): number {
    this.ioLog.push(`in${size} ${port.toString(16)}`);
    return 0;
  }
  writeIo(port: number, size: number, value: number): void {
    this.ioLog.push(`out${size} ${port.toString(16)} ${value.toString(16)}`);
  }
  readMsr(): bigint | X86Fault {
    return fault(13, 0);
  }
  writeMsr(): X86Fault | null {
    return fault(13, 0);
  }
  cpuid(_leaf: number, _sub: number, out: Uint32Array): void {
    out.fill(0);
  }
}

export interface EmulatedResult {
  /** Final state (same shape as the native result). */
  state: NativeResult;
  insn: Instruction;
  unsupported: boolean;
}

const scratchData = new Uint8Array(DATA_SIZE);

/**
 * Runs a case through decoder + executor (rep instructions are re-run until they retire).
 * The returned `mem` is a view of a scratch buffer, valid until the next call.
 */
export function runEmulated(c: NativeCase, viaHandlerFor = false): EmulatedResult {
  const mem = scratchData;
  mem.fill(0, c.mem.length);
  mem.set(c.mem);
  const cpu = new FlatTestCpu(mem);
  const r = cpu.regs;
  for (let i = 0; i < 16; i++) r.setGpr(i, c.gpr[i] ?? 0n);
  r.setRflags((c.rflags & SETTABLE_FLAGS) | 0x202);
  if (c.xmm) r.xmm.set(new Uint32Array(c.xmm.buffer.slice(c.xmm.byteOffset, c.xmm.byteOffset + 256)));
  r.rip = CODE_BASE;
  const mode = c.mode ?? 64;
  if (mode === 32) {
    // Linux's compat-mode user state: CS = __USER32_CS (32-bit code, DPL 3), flat data.
    r.segSel[CS] = 0x23;
    r.segAttr[CS] = 0xc0fb;
  }
  const insn = new Instruction();
  const df = decodeInto(c.code, 0, mode, insn);
  let vector = -1, errorCode = 0, cr2 = 0n, unsupported = false;
  if (df !== DecodeFault.None) {
    vector = df === DecodeFault.GeneralProtection ? 13 : 6;
  } else {
    const run = viaHandlerFor ? handlerFor(insn) : execute;
    for (let guard = 0; guard < 100_000; guard++) {
      const res = run(cpu, insn);
      if (res === RETRY) continue;
      if (res !== null) {
        if (res.vector === -2) unsupported = true;
        vector = res.vector;
        errorCode = res.errorCode ?? 0;
        cr2 = BigInt.asUintN(64, BigInt(res.cr2 ?? 0));
      }
      break;
    }
  }
  const gpr: bigint[] = [];
  for (let i = 0; i < 16; i++) gpr.push(r.getGpr(i));
  const xmm = new Uint8Array(new Uint32Array(r.xmm).buffer);
  return {
    insn,
    unsupported,
    state: {
      gpr, rflags: r.getRflags(), rip: Number(r.getRip()), vector, errorCode, cr2, xmm, mem: mem.subarray(0, c.mem.length),
    },
  };
}
