/**
 * GNU objdump as a decoding oracle. Many encodings go into one raw binary, each in its own
 * 48-byte slot, and objdump runs once per batch. A slot is the case bytes, then zeros,
 * then the 4-byte sync sequence F8 0F 1F 00 (clc; nop DWORD PTR [rax]) in its last 4
 * bytes. An x86 instruction is at most 15 bytes, so whatever objdump makes of a case (a
 * different length, or "(bad)" and a re-sync inside the case bytes) ends by slot offset
 * 29. Objdump then elides the run of zeros (without -z it skips runs of 8 or more zero
 * bytes, in multiples of 4), leaving 0-3 zeros before the sync. With 0 or 2 left it
 * decodes "00 00" pairs and then clc; with 1 or 3 the last zero pairs with F8 as
 * "add al,bh" (F8 is a register-form ModRM). Either way the 3-byte NOP ends exactly on
 * the slot boundary. The first instruction it reports at a slot address is its reading of the case.
 * (Padding with NOPs alone works too but prints ~20 lines per case, which made objdump
 * ten times slower.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SLOT = 48;
/** clc; nop DWORD PTR [rax], at slot offset 44 (see above). */
export const SYNC = Uint8Array.of(0xf8, 0x0f, 0x1f, 0x00);

export interface ObjdumpInsn {
  /** Bytes objdump consumed for the instruction at the slot start. */
  length: number;
  /** Its text after the byte column (mnemonic and operands), whitespace as printed. */
  text: string;
}

export type Mode = 16 | 32 | 64;

const ARCH: Record<Mode, string[]> = {
  64: ['-m', 'i386:x86-64', '-M', 'intel,intel64'],
  32: ['-m', 'i386', '-M', 'intel'],
  16: ['-m', 'i8086', '-M', 'intel'],
};

export function objdumpAvailable(): boolean {
  try {
    execFileSync('objdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Disassemble each case (≤ SLOT-16 bytes) with objdump; one process per call. */
export function objdumpBatch(cases: readonly Uint8Array[], mode: Mode): ObjdumpInsn[] {
  const buf = new Uint8Array(cases.length * SLOT);
  cases.forEach((c, i) => {
    if (c.length > 16) throw new Error(`case ${i} is ${c.length} bytes; the slot allows 16`);
    buf.set(c, i * SLOT);
    buf.set(SYNC, i * SLOT + SLOT - 4);
  });
  const dir = mkdtempSync(join(tmpdir(), 'krun-objdump-'));
  try {
    const file = join(dir, 'cases.bin');
    writeFileSync(file, buf);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', ...ARCH[mode], '--insn-width=16', file], {
      maxBuffer: 1 << 30,
      encoding: 'latin1',
    });
    const result: ObjdumpInsn[] = new Array(cases.length);
    for (const line of out.split('\n')) {
      // "   20:\t66 90                \txchg   ax,ax"
      const t1 = line.indexOf(':\t');
      if (t1 < 0) continue;
      const addr = parseInt(line.slice(0, t1), 16);
      if (Number.isNaN(addr) || addr % SLOT !== 0) continue;
      const rest = line.slice(t1 + 2);
      const t2 = rest.indexOf('\t');
      const bytesCol = t2 < 0 ? rest : rest.slice(0, t2);
      const text = t2 < 0 ? '' : rest.slice(t2 + 1);
      const length = bytesCol.trim().split(/\s+/).filter((x) => x !== '').length;
      result[addr / SLOT] = { length, text };
    }
    for (let i = 0; i < cases.length; i++) {
      if (!result[i]) throw new Error(`objdump printed nothing at slot ${i}`);
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PREFIX_WORDS = new Set([
  'cs', 'ds', 'es', 'ss', 'fs', 'gs', 'data16', 'data32', 'addr16', 'addr32', 'lock', 'rep', 'repz', 'repnz',
  'repe', 'repne', 'bnd', 'notrack', 'xacquire', 'xrelease', 'rex', 'rex64',
]);

/**
 * Normalise a disassembly line for comparison: drop objdump's trailing comment
 * ("# 0x1234" after RIP-relative operands), leading prefix words (objdump prints unused
 * and superseded prefixes as words: "data16", "rex.W", "cs"...), and collapse spaces.
 */
export function normalize(text: string): string {
  let t = text;
  if (t.includes('(bad)')) return '(bad)';
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  const words = t.trim().split(/\s+/);
  let i = 0;
  while (i < words.length - 1 && (PREFIX_WORDS.has(words[i]!) || words[i]!.startsWith('rex.') || /^\{.*\}$/.test(words[i]!))) i++;
  if (i === words.length - 1 && (PREFIX_WORDS.has(words[i]!) || words[i]!.startsWith('rex.'))) return words[i]!;
  return words.slice(i).join(' ');
}
