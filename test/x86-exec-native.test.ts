/**
 * Differential test of the x86 executor against the host CPU.
 *
 * Every case is instruction text → GNU as (an encoder independent of ours) → bytes, run both
 * natively (test/native/x86-exec-harness.c, user mode, fixed data page at 0x10000000) and
 * through our decoder + executor (FlatTestCpu). Registers, RIP, memory, XMM and every status
 * flag the SDM defines must agree; flags the SDM leaves undefined are masked with the single
 * table in src/x86/exec/undefined-flags.ts. Faults must agree on the vector (and CR2 for #PF).
 *
 * Most forms run in 64-bit mode; the "(32-bit)" families run 32-bit code natively in
 * compatibility mode (Linux's CS 0x23) against the executor in 32-bit mode, which checks the
 * legacy operand/address-size defaults, 16-bit addressing, the 32-bit stack and CX/ECX counts.
 *
 * Values: random 64-bit patterns mixed with edge values (0, 1, -1, sign and carry boundaries),
 * shift counts 0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65. Seeded, so failures reproduce.
 * X86_DEEP=1 (npm run test:x86-deep) runs 10× the cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import {
  assemble, assemblerUnavailable, CODE_BASE, DATA_BASE, nativeHarnessUnavailable, runEmulated, runNative,
  STUB_FIRST, STUB_STRIDE, type NativeCase, type NativeResult,
} from './helpers/native-cpu.ts';
import { undefinedAfter } from '../src/x86/exec/undefined-flags.ts';
import { formatIntel } from '../src/x86/decode/index.ts';
import { Op, OperandKind } from '../src/x86/decode/instruction.ts';

const DEEP = process.env.X86_DEEP === '1';
const PER_FORM = DEEP ? 120 : 20;
const MEM_LEN = 1024;
const RSI_OFF = 0x100, RDI_OFF = 0x200, RSP_OFF = 0x3c0;

// ---------------------------------------------------------------- random values

let seed = 0x2545f491;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}
function ri(n: number): number {
  return Math.floor(rnd() * n);
}
function pick<T>(xs: readonly T[]): T {
  return xs[ri(xs.length)]!;
}
function rand32(): bigint {
  return BigInt((rnd() * 4294967296) >>> 0);
}
const EDGES: bigint[] = [
  0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n,
  0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xfffffffffffffffen,
  0xffffffff80000000n, 0xffffffff7fffffffn, 0x8000000000000001n,
];
function value(): bigint {
  const k = rnd();
  if (k < 0.35) return pick(EDGES);
  if (k < 0.45) return BigInt.asUintN(64, pick(EDGES) + BigInt(ri(5) - 2));
  if (k < 0.6) return rand32();
  if (k < 0.7) return BigInt(ri(256));
  return (rand32() << 32n) | rand32();
}
const COUNTS = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255];
function count(): number {
  return rnd() < 0.7 ? pick(COUNTS) : ri(256);
}

// ---------------------------------------------------------------- templates

const R64 = ['rax', 'rbx', 'rcx', 'rdx', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const R32 = ['eax', 'ebx', 'ecx', 'edx', 'ebp', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const R16 = ['ax', 'bx', 'cx', 'dx', 'bp', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const R8_REX = ['al', 'bl', 'cl', 'dl', 'bpl', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];
const R8_LEGACY = ['al', 'bl', 'cl', 'dl', 'ah', 'bh', 'ch', 'dh'];
const PTR: Record<string, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword', 128: 'xmmword' };
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** Expands {r8} {r16} {r32} {r64} {m8..m128} {i8} {i16} {i32} {c} {cc} {d} in a template. */
function expand(t: string): string {
  const legacy = !/64|r\d|\{r8\}.*\{r8\}.*x/.test(t) && rnd() < 0.4;
  const d = () => ri(0xf0);
  return t
    .replace(/\{r8\}/g, () => pick(legacy ? R8_LEGACY : R8_REX))
    .replace(/\{r16\}/g, () => pick(legacy ? R16.slice(0, 5) : R16))
    .replace(/\{r32\}/g, () => pick(legacy ? R32.slice(0, 5) : R32))
    .replace(/\{r64\}/g, () => pick(R64))
    .replace(/\{l8\}/g, () => pick(R8_LEGACY))
    .replace(/\{l16\}/g, () => pick(R16.slice(0, 5)))
    .replace(/\{l32\}/g, () => pick(R32.slice(0, 5)))
    .replace(/\{m(8|16|32|64|128)\}/g, (_, s: string) => `${PTR[s]} ptr [${pick(['rsi', 'rdi'])}+${d()}]`)
    .replace(/\{i8\}/g, () => String(ri(256) - 128))
    .replace(/\{u8\}/g, () => String(ri(256)))
    .replace(/\{i16\}/g, () => String(ri(65536) - 32768))
    .replace(/\{i32\}/g, () => String(Number(BigInt.asIntN(32, value()))))
    .replace(/\{c\}/g, () => String(count()))
    .replace(/\{cc\}/g, () => pick(CC))
    .replace(/\{d\}/g, () => String(d()));
}

interface Form {
  family: string;
  asm: string;
  /** Adjusts the random initial state (registers by encoding number, memory image). */
  setup?: (gpr: bigint[], mem: Uint8Array) => void;
  /** Allow random DF (string instructions). */
  df?: boolean;
  /** Case multiplier for forms whose variety is in the template (condition codes). */
  repeat?: number;
  /** 32: assemble with .code32 and run in compatibility mode. */
  mode?: 32;
  /**
   * /proc/cpuinfo flags the host CPU needs to run this form as written. Without them the
   * bytes mean something else natively (LZCNT runs as BSR, TZCNT as BSF) or raise #UD, so
   * the host is no oracle for them and they are left out, with the reason printed.
   */
  needs?: string[];
}

const forms: Form[] = [];
function add(family: string, templates: string[], extra: Partial<Form> = {}): void {
  for (const asm of templates) forms.push({ family, asm, ...extra });
}
function sized(tpl: string, sizes = [8, 16, 32, 64]): string[] {
  return sizes.map((s) => tpl.replace(/\{R\}/g, `{r${s}}`).replace(/\{M\}/g, `{m${s}}`).replace(/\{I\}/g, s === 8 ? '{i8}' : s === 16 ? '{i16}' : '{i32}'));
}

// --- stage one
add('mov', [
  ...sized('mov {R}, {R}'), ...sized('mov {R}, {M}'), ...sized('mov {M}, {R}'), ...sized('mov {R}, {I}'),
  ...sized('mov {M}, {I}'), 'movabs rax, 0x123456789abcdef0', 'movabs r11, {i32}',
  'movabs al, [0x10000010]', 'movabs eax, [0x10000020]', 'movabs [0x10000030], rax', 'movabs [0x10000031], ax',
  'mov eax, dword ptr [rip+0x10000000-0x20000000+0x40-6]',
]);
add('movzx/movsx', [
  'movzx {r16}, {r8}', 'movzx {r32}, {r8}', 'movzx {r64}, {r8}', 'movzx {r32}, {r16}', 'movzx {r64}, {r16}',
  'movzx {r32}, {m8}', 'movzx {r64}, {m16}', 'movsx {r16}, {r8}', 'movsx {r32}, {r8}', 'movsx {r64}, {r8}',
  'movsx {r32}, {r16}', 'movsx {r64}, {r16}', 'movsx {r64}, {m8}', 'movsx {r32}, {m16}', 'movsxd {r64}, {r32}',
  'movsxd {r64}, {m32}',
]);
for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp']) {
  add('alu', [
    ...sized(`${op} {R}, {R}`), ...sized(`${op} {R}, {M}`), ...sized(`${op} {M}, {R}`), ...sized(`${op} {R}, {I}`),
    ...sized(`${op} {M}, {I}`), `${op} {r32}, {i8}`, `${op} {m64}, {i8}`, `${op} al, {i8}`, `${op} eax, {i32}`, `${op} rax, {i32}`,
    ...(op === 'cmp' ? [] : sized(`lock ${op} {M}, {R}`)),
  ]);
}
add('test', [...sized('test {R}, {R}'), ...sized('test {M}, {R}'), ...sized('test {R}, {I}'), ...sized('test {M}, {I}'), 'test al, {i8}']);
for (const op of ['inc', 'dec', 'neg', 'not']) add('inc/dec/neg/not', [...sized(`${op} {R}`), ...sized(`${op} {M}`), ...sized(`lock ${op} {M}`)]);
add('xchg', [...sized('xchg {R}, {R}'), ...sized('xchg {M}, {R}'), 'xchg eax, {r32}', 'xchg rax, {r64}', 'xchg ax, {r16}']);
add('cmpxchg', [...sized('cmpxchg {R}, {R}'), ...sized('cmpxchg {M}, {R}'), ...sized('lock cmpxchg {M}, {R}')], {
  setup: (g, mem) => {
    // make "equal" likely: rAX = the memory/register operand half of the time
    if (rnd() < 0.5) {
      const dv = new DataView(mem.buffer);
      g[0] = dv.getBigUint64(RSI_OFF + 8 * ri(8), true);
    }
  },
});
add('cmpxchg8b/16b', ['cmpxchg8b qword ptr [rsi+{d}]', 'lock cmpxchg8b qword ptr [rsi+8]', 'cmpxchg16b xmmword ptr [rsi+16]', 'lock cmpxchg16b xmmword ptr [rdi+32]', 'cmpxchg16b xmmword ptr [rsi+8]'], {
  setup: (g, mem) => {
    if (rnd() < 0.5) {
      const dv = new DataView(mem.buffer);
      for (const off of [RSI_OFF + 8, RSI_OFF + 16, RDI_OFF + 32]) {
        dv.setBigUint64(off, g[0]!, true);
        dv.setBigUint64(off + 8, g[2]!, true);
      }
      if (rnd() < 0.5) dv.setUint32(RSI_OFF + 8 + 4, Number(g[2]! & 0xffffffffn), true);
    }
  },
});
add('xadd', [...sized('xadd {R}, {R}'), ...sized('xadd {M}, {R}'), ...sized('lock xadd {M}, {R}')]);
for (const op of ['bt', 'bts', 'btr', 'btc']) {
  add('bt/bts/btr/btc', [
    ...sized(`${op} {R}, {R}`, [16, 32, 64]), ...sized(`${op} {R}, {u8}`.replace('{u8}', '{c}'), [16, 32, 64]),
    ...sized(`${op} {M}, {c}`, [16, 32, 64]),
    `${op} word ptr [rsi+0x80], ax`, `${op} dword ptr [rsi+0x80], eax`, `${op} qword ptr [rsi+0x80], rax`,
    ...(op === 'bt' ? [] : [`lock ${op} dword ptr [rsi+0x80], eax`, `lock ${op} qword ptr [rdi], {c}`]),
  ], {
    // bit offsets: mostly within the data page, some far (#PF below it); never into the
    // harness's code page above it, which the emulator side does not model
    setup: (g) => {
      const k = rnd();
      g[0] = BigInt.asUintN(64, k < 0.8 ? BigInt(ri(3000) - 1500) : k < 0.9 ? BigInt(ri(1 << 21) - (1 << 20)) : pick([-(1n << 31n), -(1n << 63n), -(1n << 15n)]));
    },
  });
}
add('setcc', ['set{cc} {r8}', 'set{cc} {m8}'], { repeat: 8 });
add('cmovcc', ['cmov{cc} {r16}, {r16}', 'cmov{cc} {r32}, {r32}', 'cmov{cc} {r64}, {r64}', 'cmov{cc} {r32}, {m32}', 'cmov{cc} {r64}, {m64}'], { repeat: 4 });
add('mul/imul', [
  ...sized('mul {R}'), ...sized('mul {M}'), ...sized('imul {R}'), ...sized('imul {M}'),
  ...sized('imul {R}, {R}', [16, 32, 64]), ...sized('imul {R}, {M}', [16, 32, 64]),
  ...sized('imul {R}, {R}, {I}', [16, 32, 64]), 'imul {r32}, {m32}, {i8}', 'imul {r64}, {r64}, {i8}',
]);
const divSetup = (g: bigint[]) => {
  const k = rnd();
  if (k < 0.4) g[2] = 0n; // RDX = 0: no overflow for unsigned
  else if (k < 0.8) g[2] = g[0]! >> 63n ? 0xffffffffffffffffn : 0n; // sign extension of RAX
  if (rnd() < 0.5) g[0] = BigInt.asUintN(64, g[0]! & 0xffffn); // small dividends for 8/16-bit
};
add('div/idiv', [...sized('div {R}'), ...sized('div {M}'), ...sized('idiv {R}'), ...sized('idiv {M}')], { setup: divSetup });
const shiftSetup = (g: bigint[]) => {
  g[1] = (g[1]! & ~0xffn) | BigInt(count());
};
for (const op of ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr', 'sal']) {
  add('shift/rotate', [...sized(`${op} {R}, 1`), ...sized(`${op} {R}, cl`), ...sized(`${op} {R}, {c}`), ...sized(`${op} {M}, cl`), ...sized(`${op} {M}, 1`), ...sized(`${op} {M}, {c}`)], { setup: shiftSetup });
}
for (const op of ['shld', 'shrd']) {
  add('shld/shrd', [...sized(`${op} {R}, {R}, cl`, [16, 32, 64]), ...sized(`${op} {R}, {R}, {c}`, [16, 32, 64]), ...sized(`${op} {M}, {R}, cl`, [16, 32, 64])], { setup: shiftSetup });
}
const strSetup = (g: bigint[]) => {
  g[1] = BigInt(pick([0, 1, 2, 3, 5, 16, ri(17)]));
};
for (const s of ['b', 'w', 'd', 'q']) {
  add('string', [`movs${s}`, `rep movs${s}`, `stos${s}`, `rep stos${s}`, `lods${s}`, `rep lods${s}`], { setup: strSetup, df: true });
  add('cmps/scas', [`cmps${s}`, `repe cmps${s}`, `repne cmps${s}`, `scas${s}`, `repe scas${s}`, `repne scas${s}`], {
    setup: (g, mem) => {
      strSetup(g);
      // make equal runs likely: copy source to destination for a while, zeros for scas
      if (rnd() < 0.6) {
        const n = ri(64);
        mem.copyWithin(RDI_OFF - 64, RSI_OFF - 64, RSI_OFF + n);
        if (rnd() < 0.5) g[0] = 0n;
        if (rnd() < 0.5) mem.fill(0, RDI_OFF - 64, RDI_OFF + ri(64));
      }
    },
    df: true,
  });
}
add('string', ['movsb', 'rep movsd', 'rep stosq'].map((x) => `addr32 ${x}`), {
  setup: (g) => {
    strSetup(g);
    g[6] |= 0xabcd00000000n; // upper halves ignored with a 32-bit address size
    g[7] |= 0x1200000000n;
  },
});
add('ins/outs (#GP at CPL 3)', ['insb', 'outsd', 'rep insw', 'in al, dx', 'out 0x80, al', 'in eax, 0x71']);
for (const m of ['movups', 'movaps', 'movdqu', 'movdqa', 'movupd', 'movapd']) {
  add('sse moves', [`${m} xmm{x}, xmm{x}`, `${m} xmm{x}, {m128}`, `${m} {m128}, xmm{x}`]);
}
add('sse moves', ['movntdq {m128}, xmm3', 'movntps {m128}, xmm9', 'movntpd {m128}, xmm0', 'movd xmm2, {r32}', 'movq xmm4, {r64}', 'movd {r32}, xmm5', 'movq {r64}, xmm6', 'movq xmm1, xmm7', 'movq {m64}, xmm2', 'movq xmm3, {m64}', 'movd xmm9, {m32}', 'movd {m32}, xmm10']);

// --- stage two
add('jcc/jmp', ['j{cc} .+0x40', 'j{cc} .+0x1a0', 'jmp .+0x60', 'jmp .+0x140', 'jrcxz .+0x40', 'jecxz .+0x80'], { setup: (g) => { if (rnd() < 0.3) g[1] = 0n; }, repeat: 4 });
add('loop', ['loop .+0x40', 'loope .+0x60', 'loopne .+0x80'], { setup: (g) => { g[1] = BigInt(pick([0, 1, 2, 0x100000000, 77])); } });
const stub = (k: number) => BigInt(CODE_BASE + STUB_FIRST + STUB_STRIDE * k);
add('call/ret/jmp r/m', ['call .+0x100', 'call rax', 'call qword ptr [rsi+8]', 'jmp rax', 'jmp qword ptr [rsi+8]', 'ret', 'ret 16'], {
  setup: (g, mem) => {
    g[0] = stub(ri(8));
    const dv = new DataView(mem.buffer);
    dv.setBigUint64(RSI_OFF + 8, stub(ri(8)), true);
    dv.setBigUint64(RSP_OFF, stub(ri(8)), true);
  },
});
add('push/pop', [
  'push {r64}', 'push {r16}', 'push {m64}', 'push {i8}', 'push {i32}', 'push rsp', 'pop {r64}', 'pop {r16}', 'pop {m64}',
  'pop qword ptr [rsp+8]', 'pop rsp', 'pushfq', 'pushf', 'popfq', 'enter 16, 0', 'enter 24, 1', 'enter 8, 3', 'leave',
], {
  setup: (g, mem) => {
    if (rnd() < 0.5) g[5] = BigInt(DATA_BASE + 0x300 + ri(0x40));
    // popf: no TF (single-step traps are the software CPU's business, not the executor's),
    const dv = new DataView(mem.buffer);
    dv.setUint32(RSP_OFF, dv.getUint32(RSP_OFF, true) & ~0x40100, true); // nor AC: the harness's exit stub is misaligned
  },
});
add('lea', ['lea {r64}, [{r64}+{r64}*4+{i32}]', 'lea {r32}, [{r64}+{r64}*8-{u8}]', 'lea {r16}, [{r64}+{i8}]', 'lea {r64}, [rip+{i32}]', 'lea {r32}, [{r32}+{r32}*2]', 'lea {r64}, [{r64}*2]']);
add('bswap', ['bswap {r32}', 'bswap {r64}']);
const BIT_SCAN_NEEDS: Record<string, string[]> = { bsf: [], bsr: [], popcnt: ['popcnt'], lzcnt: ['abm'], tzcnt: ['bmi1'] };
for (const op of ['bsf', 'bsr', 'popcnt', 'lzcnt', 'tzcnt']) {
  add('bsf/bsr/popcnt/lzcnt/tzcnt', [...sized(`${op} {R}, {R}`, [16, 32, 64]), `${op} {r32}, {m32}`], {
    setup: (g) => { for (let i = 0; i < 16; i++) if (rnd() < 0.15) g[i] = 0n; },
    needs: BIT_SCAN_NEEDS[op]!,
  });
}
add('cbw/cwd family', ['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo']);
add('flags ops', ['clc', 'stc', 'cmc', 'lahf', 'sahf', 'cld']);
add('xlat / mov r/m,Sreg', ['xlat', 'mov {r32}, cs', 'mov {r16}, ss', 'mov {r64}, ds', 'mov {m16}, es', 'mov {r32}, fs', 'mov {r32}, gs'], {
  setup: (g) => { g[3] = BigInt(DATA_BASE + 0x100 + ri(0x100)); },
});
add('bmi1/bmi2/adx', [
  'andn {r32}, {r32}, {r32}', 'andn {r64}, {r64}, {m64}', 'bextr {r32}, {r32}, {r32}', 'bextr {r64}, {m64}, {r64}',
  'blsi {r32}, {r32}', 'blsi {r64}, {m64}', 'blsmsk {r32}, {r32}', 'blsmsk {r64}, {r64}', 'blsr {r32}, {m32}', 'blsr {r64}, {r64}',
  'bzhi {r32}, {r32}, {r32}', 'bzhi {r64}, {r64}, {r64}', 'shlx {r32}, {r32}, {r32}', 'shrx {r64}, {m64}, {r64}', 'sarx {r64}, {r64}, {r64}',
  'sarx {r32}, {r32}, {r32}', 'rorx {r32}, {r32}, {u8}', 'rorx {r64}, {m64}, {u8}', 'mulx {r64}, {r64}, {r64}', 'mulx {r32}, {r32}, {m32}',
  'pdep {r32}, {r32}, {r32}', 'pdep {r64}, {r64}, {r64}', 'pext {r32}, {r32}, {m32}', 'pext {r64}, {r64}, {r64}',
  'adcx {r32}, {r32}', 'adcx {r64}, {m64}', 'adox {r32}, {r32}', 'adox {r64}, {r64}',
], {
  setup: (g) => { for (const i of [0, 1, 2, 3, 5, 8, 9, 10, 11, 12, 13, 14, 15]) if (rnd() < 0.3) g[i] = BigInt(count()) | (BigInt(count()) << 8n); },
  needs: ['bmi1', 'bmi2', 'adx'],
});
add('movbe', ['movbe {r16}, {m16}', 'movbe {r32}, {m32}', 'movbe {m64}, {r64}'], { needs: ['movbe'] });
add('faults', [
  '.byte 0xf0, 0x01, 0xd8', /* lock add eax, ebx: LOCK on a register form → #UD */
  '.byte 0xf0, 0x8b, 0x06', /* lock mov eax, [rsi] → #UD */
  '.byte 0xf0, 0x0f, 0xa3, 0x06', /* lock bt [rsi], eax → #UD */
  '.byte 0x0f, 0xc7, 0xc8', /* cmpxchg8b with a register operand → #UD */
  'cli', 'sti', /* CPL 3 > IOPL 0 → #GP(0) */
  'mov eax, dword ptr [rsi+0x10000]', 'mov dword ptr [0x300000], eax', 'ud2', 'mov rax, qword ptr [rbx]', 'add byte ptr [rsi-0x200], al', 'movaps xmm0, xmmword ptr [rsi+8]'], {
  setup: (g) => { g[3] = pick([0x8000000000000000n, 0x0000800000000000n, 0n]); },
});

// --- compatibility mode (32-bit code segment): operand/address-size defaults flip
const compat = (family: string, templates: string[], extra: Partial<Form> = {}) =>
  add(`${family} (32-bit)`, templates.map((t) => t.replace(/\{r(8|16|32)\}/g, (_, s: string) => `{l${s}}`)), { ...extra, mode: 32 });
compat('alu', ['add {r32}, {r32}', 'sub {r16}, {r16}', 'adc {r8}, {r8}', 'sbb dword ptr [esi+{d}], {r32}', 'xor word ptr [edi+{d}], {i16}', 'cmp {r32}, {i32}', 'and byte ptr [esi+{d}], {r8}', 'or {r32}, dword ptr [edi+{d}]']);
compat('inc/dec (one-byte forms)', ['inc {r32}', 'dec {r32}', 'inc {r16}', 'dec {r16}']);
compat('mov/lea', ['mov {r32}, dword ptr [esi+{d}]', 'mov word ptr [edi+{d}], {r16}', 'movzx {r32}, byte ptr [esi+{d}]', 'movsx {r16}, {r8}', 'lea {r32}, [{r32}+{r32}*4+{i32}]', 'lea {r16}, [{r32}+{d}]', 'mov al, byte ptr [bx+si]', 'mov ax, word ptr [bp+di+{d}]', 'lea {r32}, [bx+di+{d}]', 'mov eax, dword ptr ds:0x10000040']);
compat('shift/mul/div', ['shl {r32}, cl', 'rcr {r16}, {c}', 'shld {r32}, {r32}, cl', 'imul {r32}, {r32}, {i8}', 'mul {r16}', 'div byte ptr [esi+{d}]', 'idiv {r32}'], { setup: (g) => { g[1] = (g[1]! & ~0xffn) | BigInt(count()); divSetup(g); } });
compat('push/pop/call/ret', ['push {r32}', 'push {r16}', 'pop {r32}', 'push dword ptr [esi+{d}]', 'pop word ptr [edi+{d}]', 'push {i32}', 'pushfd', 'popfd', 'call .+0x40', 'call eax', 'ret', 'ret 8', 'enter 12, 1', 'leave', 'jmp eax'], {
  setup: (g, mem) => {
    g[0] = stub(ri(8));
    g[5] = BigInt(DATA_BASE + 0x300 + ri(0x40));
    const dv = new DataView(mem.buffer);
    // the same slot is a return address (ret) and an RFLAGS image (popfd): stubs 0..3 have
    // neither TF (bit 8) nor AC (bit 18) set
    dv.setUint32(RSP_OFF, Number(stub(ri(4))), true);
  },
});
compat('string', ['rep movsb', 'rep movsd', 'rep stosw', 'lodsd', 'repe cmpsb', 'repne scasd', 'addr16 rep movsb', 'addr16 lodsw'], {
  setup: (g) => {
    g[1] = BigInt(pick([0, 1, 2, 3, 5, 16, ri(17)])) | (rnd() < 0.3 ? 0xabcd0000n : 0n);
    if (rnd() < 0.5) { g[6] = BigInt(DATA_BASE + RSI_OFF); g[7] = BigInt(DATA_BASE + RDI_OFF); }
  },
  df: true,
});
compat('jcc/loop', ['j{cc} .+0x40', 'loop .+0x60', 'jecxz .+0x80', 'jcxz .+0x40', 'addr16 loop .+0x40'], { setup: (g) => { g[1] = BigInt(pick([0, 1, 2, 0x10000, 0x10001, 77])); }, repeat: 2 });
compat('misc', ['cbw', 'cwde', 'cdq', 'bswap {r32}', 'bsf {r32}, {r32}', 'setg {r8}', 'cmovle {r32}, {r32}', 'xchg {r32}, {r32}', 'lock xadd dword ptr [esi+{d}], {r32}', 'cmpxchg8b qword ptr [edi+{d}]', 'movd xmm1, {r32}', 'movups xmm2, xmmword ptr [esi+{d}]']);

// ---------------------------------------------------------------- running

interface Built {
  form: Form;
  text: string;
  c: NativeCase;
}

/** The host CPU's feature flags as Linux reports them (arch/x86/include/asm/cpufeatures.h names). */
const HOST_FLAGS = new Set(
  (existsSync('/proc/cpuinfo') ? /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '' : '').trim().split(/\s+/),
);
const missingFlags = (form: Form): string[] => (form.needs ?? []).filter((f) => !HOST_FLAGS.has(f));

function buildCases(): Built[] {
  const texts: { form: Form; text: string }[] = [];
  for (const form of forms) {
    if (missingFlags(form).length > 0) continue;
    for (let i = 0; i < PER_FORM * (form.repeat ?? 1); i++) {
      texts.push({ form, text: expand(form.asm).replace(/\{x\}/g, () => String(ri(16))) });
    }
  }
  const codes = assemble(texts.map((t) => (t.form.mode === 32 ? `.code32\n${t.text}\n.code64` : t.text)));
  codes.forEach((c, i) => {
    if (c.length > 15) throw new Error(`test template produced ${c.length} bytes: ${texts[i]!.text}`);
  });
  return texts.map(({ form, text }, i) => {
    const gpr: bigint[] = [];
    for (let g = 0; g < 16; g++) gpr.push(value());
    gpr[4] = BigInt(DATA_BASE + RSP_OFF);
    gpr[6] = BigInt(DATA_BASE + RSI_OFF);
    gpr[7] = BigInt(DATA_BASE + RDI_OFF);
    const mem = new Uint8Array(MEM_LEN);
    for (let b = 0; b < MEM_LEN; b += 8) {
      const v = value();
      new DataView(mem.buffer).setBigUint64(b, v, true);
    }
    form.setup?.(gpr, mem);
    let rflags = ri(0x1000) & 0x8d5;
    if (form.df && rnd() < 0.5) rflags |= 0x400;
    const xmm = new Uint8Array(256);
    for (let b = 0; b < 256; b++) xmm[b] = ri(256);
    return { form, text, c: { code: codes[i]!, gpr, rflags, mem, xmm, ...(form.mode === 32 ? { mode: 32 as const } : {}) } };
  });
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

function shiftCount(b: Built, insn: ReturnType<typeof runEmulated>['insn']): number {
  const kinds = [insn.o1, insn.o2];
  if (kinds.includes(OperandKind.Cl)) return Number(b.c.gpr[1]! & 0xffn);
  if (kinds.includes(OperandKind.One)) return 1;
  return insn.imm & 0xff;
}

/**
 * Returns a description of the first disagreement, or null. `viaHandlerFor` runs the handler
 * a decoded-block cache would use (the specialised fast handlers where one exists).
 */
function compare(b: Built, nat: NativeResult, viaHandlerFor = false): string | null {
  const emu = runEmulated(b.c, viaHandlerFor);
  const e = emu.state;
  if (emu.unsupported) return `not implemented by the executor (${formatIntel(emu.insn)})`;
  if (nat.vector !== e.vector) return `fault: native vector ${nat.vector}, emulator ${e.vector}`;
  if (nat.vector === 14 && nat.cr2 !== e.cr2) return `#PF CR2: native ${hex(nat.cr2)}, emulator ${hex(e.cr2)}`;
  const und = nat.vector >= 0 ? { flags: 0, result: false } : undefinedAfter(emu.insn, shiftCount(b, emu.insn));
  // BSF/BSR: "If the content of the source operand is 0, the content of the destination operand
  // is undefined" (SDM). AMD documents it as unchanged; Intel keeps the low bits but clears bits
  // 63:32 of a 32-bit destination (the note on ffs() in Linux's arch/x86/include/asm/bitops.h).
  // Only the bits both keep are compared, so either vendor's CPU can be the oracle.
  const scanZero = nat.vector < 0 && (emu.insn.op === Op.BSF || emu.insn.op === Op.BSR) && (nat.rflags & 0x40) !== 0;
  const partialReg = scanZero ? emu.insn.reg : -1;
  const partialMask = (1n << BigInt(emu.insn.opSize * 8)) - 1n;
  if (!und.result) {
    const legacy = b.c.mode === 32; // compat mode: only EAX..EDI exist; bits 63:32 are undefined after it
    for (let i = 0; i < (legacy ? 8 : 16); i++) {
      const diff = nat.gpr[i]! ^ e.gpr[i]!;
      if (i === partialReg ? diff & partialMask : legacy ? diff & 0xffffffffn : diff !== 0n) return `${GPR_NAMES[i]}: native ${hex(nat.gpr[i]!)}, emulator ${hex(e.gpr[i]!)} (input ${hex(b.c.gpr[i]!)})`;
    }
    for (let i = 0; i < MEM_LEN; i++) {
      if (nat.mem[i] !== e.mem[i]) return `memory at +0x${i.toString(16)}: native ${hex(nat.mem[i]!)}, emulator ${hex(e.mem[i]!)}`;
    }
  }
  if (nat.vector < 0) {
    if (nat.rip !== e.rip) return `rip: native ${hex(nat.rip)}, emulator ${hex(e.rip)}`;
    const mask = 0xcd5 & ~und.flags;
    if ((nat.rflags & mask) !== (e.rflags & mask)) {
      return `rflags: native ${hex(nat.rflags & 0xcd5)}, emulator ${hex(e.rflags & 0xcd5)} (compared ${hex(mask)}, input ${hex(b.c.rflags)})`;
    }
  }
  for (let i = 0; i < 256; i++) if (nat.xmm[i] !== e.xmm[i]) return `xmm${i >> 4} byte ${i & 15} differs`;
  return null;
}

test('x86 executor agrees with the host CPU (native oracle)', (t) => {
  const skip = nativeHarnessUnavailable() ?? assemblerUnavailable();
  if (skip) {
    t.skip(skip);
    return;
  }
  const left = [...new Set(forms.filter((f) => missingFlags(f).length > 0).map((f) => `${f.asm} (host lacks ${missingFlags(f).join(', ')})`))];
  if (left.length > 0) t.diagnostic(`left out, the host CPU cannot run them as written: ${left.join('; ')}`);
  const built = buildCases();
  if (process.env.X86_DUMP) writeFileSync(process.env.X86_DUMP, built.map((b, i) => `${i} ${b.text}`).join('\n'));
  const results = runNative(built.map((b) => b.c));
  const perFamily = new Map<string, { cases: number; failed: number }>();
  const failures: string[] = [];
  let faulted = 0;
  built.forEach((b, i) => {
    const fam = perFamily.get(b.form.family) ?? { cases: 0, failed: 0 };
    fam.cases++;
    if (results[i]!.vector >= 0) faulted++;
    let why = compare(b, results[i]!);
    if (!why) {
      const fast = compare(b, results[i]!, true);
      if (fast) why = `fast handler: ${fast}`;
    }
    if (why) {
      fam.failed++;
      if (fam.failed <= 3 && failures.length < 40) {
        const regs = b.c.gpr.map((v, k) => `${GPR_NAMES[k]}=${hex(v)}`).join(' ');
        failures.push(`[${b.form.family}] ${b.text}  (bytes ${Buffer.from(b.c.code).toString('hex')}): ${why}\n    in: ${regs} rflags=${hex(b.c.rflags)}`);
      }
    }
    perFamily.set(b.form.family, fam);
  });
  const summary = [...perFamily].map(([f, s]) => `${f}: ${s.cases}${s.failed ? ` (${s.failed} FAILED)` : ''}`).join(', ');
  t.diagnostic(`${built.length} cases (${faulted} of them fault natively, e.g. #DE, #PF, #GP) — ${summary}`);
  assert.equal(failures.length, 0, `executor disagrees with the host CPU:\n${failures.join('\n')}`);
});
