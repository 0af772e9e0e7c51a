/**
 * The MinGW-w64 cross toolchain as a test oracle: compile C against the real
 * Windows headers, and read the bytes of constant objects the compiler laid
 * out (from the object file's `.rdata`, no linking and no Wine needed).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MINGW_GCC = 'x86_64-w64-mingw32-gcc';
export const MINGW_OBJDUMP = 'x86_64-w64-mingw32-objdump';
export const MINGW_OBJCOPY = 'x86_64-w64-mingw32-objcopy';

let available: string | undefined | null = null;

/** undefined when the toolchain is usable, else the reason it is not (for t.skip). */
export function mingwMissingReason(): string | undefined {
  if (available !== null) return available;
  const r = spawnSync(MINGW_GCC, ['--version'], { encoding: 'utf8' });
  available = r.status === 0 ? undefined : `${MINGW_GCC} not found (apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev)`;
  return available;
}

export interface CompileResult {
  ok: boolean;
  stderr: string;
  object: string;
  dir: string;
}

/** `x86_64-w64-mingw32-gcc -std=c11 -c -Wall -Werror` of one source; the caller removes `dir` (or uses withTempDir). */
export function compileC(source: string, name: string, dir: string): CompileResult {
  const src = join(dir, `${name}.c`);
  const object = join(dir, `${name}.o`);
  writeFileSync(src, source);
  const r = spawnSync(MINGW_GCC, ['-std=c11', '-c', '-Wall', '-Werror', '-fno-toplevel-reorder', src, '-o', object], { encoding: 'utf8' });
  return { ok: r.status === 0, stderr: r.stderr, object, dir };
}

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'krun-whp-mingw-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The `.rdata` bytes of a compiled object and the offset of each global symbol
 * in it (COFF symbol table from objdump -t: `(sec N)` is 1-based, objdump -h
 * indexes sections from 0).
 */
export function readRdata(object: string): { bytes: Uint8Array; symbols: Map<string, number> } {
  const h = spawnSync(MINGW_OBJDUMP, ['-h', object], { encoding: 'utf8' });
  if (h.status !== 0) throw new Error(`objdump -h failed: ${h.stderr}`);
  const sec = /^\s*(\d+)\s+\.rdata\s/m.exec(h.stdout);
  if (!sec) throw new Error(`no .rdata section in ${object}`);
  const rdataIndex = Number(sec[1]) + 1;
  const t = spawnSync(MINGW_OBJDUMP, ['-t', object], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (t.status !== 0) throw new Error(`objdump -t failed: ${t.stderr}`);
  const symbols = new Map<string, number>();
  for (const line of t.stdout.split('\n')) {
    const m = /\(sec\s+(\d+)\).*\(scl\s+2\).*0x([0-9a-f]+)\s+(\S+)$/.exec(line);
    if (m && Number(m[1]) === rdataIndex) symbols.set(m[3]!, Number.parseInt(m[2]!, 16));
  }
  const bin = object + '.rdata.bin';
  const c = spawnSync(MINGW_OBJCOPY, ['-O', 'binary', '--only-section=.rdata', object, bin], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`objcopy failed: ${c.stderr}`);
  return { bytes: new Uint8Array(readFileSync(bin)), symbols };
}

/** The bytes of one global constant object of known size. */
export function symbolBytes(rdata: { bytes: Uint8Array; symbols: Map<string, number> }, symbol: string, size: number): Uint8Array {
  const off = rdata.symbols.get(symbol);
  if (off === undefined) throw new Error(`symbol ${symbol} not found in .rdata`);
  return rdata.bytes.subarray(off, off + size);
}
