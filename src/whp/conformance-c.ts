/**
 * Emits C from our WHP declarations (whp-decls.ts, whp-functions.ts), to be
 * compiled with `x86_64-w64-mingw32-gcc -c -Wall -Werror` against the MinGW
 * headers (test/whp-conformance.test.ts, scripts/gen-whp-conformance.ts):
 *
 *  - conformance C: `_Static_assert`s of sizeof/alignof of every type, offsetof,
 *    sizeof and exact C type (`__builtin_types_compatible_p`) of every member,
 *    the value of every enum constant and `#define` we declare, the size and
 *    signedness of every scalar and enum (koffi's integer type is chosen from
 *    it), and an identical redeclaration of every function prototype and
 *    callback typedef — a mismatched redeclaration is a compile error.
 *  - bit-field probes: C cannot take offsetof of a bit-field, and GCC does not
 *    fold a compound literal in a static assertion, so for every bit-field we
 *    emit a constant object with only that field set to all ones. The test
 *    reads the object's bytes out of the compiled `.rdata` and compares them
 *    with the mask our layout predicts.
 *
 * Every assertion message starts with `whp:` and names the type and member, so
 * a failure can be reported as "WHV_X.Member: offsetof == 24" (see
 * parseConformanceErrors).
 *
 * Pure module (string generation only).
 */
import { DeclRegistry } from './c-decl.ts';
import type { CallbackDecl, ConstantDecl, FunctionDecl, Prim } from './c-decl.ts';

const HEADER_INCLUDES = ['#include <windows.h>', '#include <winhvplatform.h>', '#include <winhvemulation.h>', '#include <stddef.h>'];

function sa(cond: string, what: string): string {
  return `_Static_assert(${cond}, "whp: ${what}");`;
}

const hex = (n: number): string => '0x' + (n >>> 0).toString(16);

function cValue(v: number): string {
  return v < 0 ? `(${v})` : `${hex(v)}u`;
}

function signedPrim(p: Prim): boolean | undefined {
  if (p === 'ptr' || p === 'void') return undefined;
  return p === 'i32';
}

/** C type text for `__builtin_types_compatible_p`: `UINT8[16]` for arrays. */
function cFieldType(type: string, count: number | undefined): string {
  return count === undefined ? type : `${type}[${count}]`;
}

export function emitConformanceC(
  reg: DeclRegistry,
  functions: readonly FunctionDecl[],
  callbacks: readonly CallbackDecl[],
  constants: readonly ConstantDecl[],
): string {
  const out: string[] = [
    '/* Generated from src/whp/whp-decls.ts and whp-functions.ts by src/whp/conformance-c.ts. Do not edit. */',
    ...HEADER_INCLUDES,
    '',
  ];
  for (const t of reg.types.values()) {
    if (t.kind === 'scalar') {
      if (t.prim === 'void') continue;
      const size = t.prim === 'ptr' ? 8 : { u8: 1, u16: 2, u32: 4, u64: 8, i32: 4 }[t.prim];
      out.push(sa(`sizeof(${t.name}) == ${size}`, `${t.name}: sizeof == ${size}`));
      const s = signedPrim(t.prim);
      if (s !== undefined) out.push(sa(`((${t.name})-1 < 0) == ${s ? 1 : 0}`, `${t.name}: ${s ? 'signed' : 'unsigned'}`));
    } else if (t.kind === 'enum') {
      const signed = DeclRegistry.enumIsSigned(t);
      out.push(`/* enum ${t.name} */`);
      out.push(sa(`sizeof(${t.name}) == 4`, `${t.name}: sizeof == 4`));
      out.push(sa(`((${t.name})-1 < 0) == ${signed ? 1 : 0}`, `${t.name}: ${signed ? 'signed' : 'unsigned'}`));
      for (const [k, v] of Object.entries(t.values)) out.push(sa(`${k} == ${cValue(v)}`, `${t.name}.${k} == ${v < 0 ? v : hex(v)}`));
    } else {
      const l = reg.layoutOf(t.name);
      out.push(`/* ${t.kind} ${t.name} */`);
      out.push(sa(`sizeof(${t.name}) == ${l.size}`, `${t.name}: sizeof == ${l.size}`));
      out.push(sa(`_Alignof(${t.name}) == ${l.align}`, `${t.name}: alignof == ${l.align}`));
      for (const f of l.fields) {
        out.push(sa(`offsetof(${t.name}, ${f.cPath}) == ${f.offset}`, `${t.name}.${f.cPath}: offsetof == ${f.offset}`));
        out.push(sa(`sizeof(((${t.name} *)0)->${f.cPath}) == ${f.size}`, `${t.name}.${f.cPath}: sizeof == ${f.size}`));
        if (f.type) {
          const ct = cFieldType(f.type, f.count);
          out.push(sa(`__builtin_types_compatible_p(__typeof__(((${t.name} *)0)->${f.cPath}), ${ct})`, `${t.name}.${f.cPath}: type is ${ct}`));
        }
      }
    }
  }
  out.push('', '/* #define constants */');
  for (const c of constants) out.push(sa(`${c.name} == ${cValue(c.value)}`, `${c.name} == ${hex(c.value)}`));
  out.push('', '/* Prototypes, redeclared from our data: any difference from the header is a compile error. */');
  for (const f of functions) out.push(prototypeC(f));
  out.push('', '/* Callback typedefs: our parameter lists must be the header\'s. */');
  for (const cb of callbacks) {
    const fnType = `${cb.ret} (CALLBACK *)(${cb.params.map(([t]) => t).join(', ')})`;
    out.push(sa(`__builtin_types_compatible_p(${cb.name}, ${fnType})`, `${cb.name}: type is ${fnType}`));
  }
  return out.join('\n') + '\n';
}

export function prototypeC(f: FunctionDecl): string {
  const params = f.params.map(([t, n]) => (t.endsWith('*') ? t + n : `${t} ${n}`));
  return `${f.ret}${f.winapi ? ' WINAPI' : ''} ${f.name}(${params.length ? params.join(', ') : 'void'});`;
}

export interface BitfieldProbe {
  /** Global symbol of the probe object in the compiled `.rdata`. */
  readonly symbol: string;
  readonly type: string;
  readonly cPath: string;
  readonly size: number;
  readonly unitOffset: number;
  readonly unitSize: number;
  readonly bitOffset: number;
  readonly width: number;
}

/** One constant object per bit-field, with only that field set to all ones (see the module comment). */
export function emitBitfieldProbesC(reg: DeclRegistry): { source: string; probes: BitfieldProbe[] } {
  const out = ['/* Generated by src/whp/conformance-c.ts: one object per bit-field, that field all ones. Do not edit. */', ...HEADER_INCLUDES, ''];
  const probes: BitfieldProbe[] = [];
  for (const t of reg.types.values()) {
    if (t.kind !== 'struct' && t.kind !== 'union') continue;
    const l = reg.layoutOf(t.name);
    for (const b of l.bitfields) {
      const symbol = `whp_bitprobe_${probes.length}`;
      const mask = (1n << BigInt(b.width)) - 1n;
      out.push(`/* ${t.name}.${b.cPath} */`);
      out.push(`const union { ${t.name} t; unsigned char b[sizeof(${t.name})]; } ${symbol} = { .t = { .${b.cPath} = 0x${mask.toString(16)}ull } };`);
      probes.push({ symbol, type: t.name, cPath: b.cPath, size: l.size, unitOffset: b.unitOffset, unitSize: b.unitSize, bitOffset: b.bitOffset, width: b.width });
    }
  }
  return { source: out.join('\n') + '\n', probes };
}

/** One failed assertion or mismatched prototype, as read from the compiler's output. */
export interface ConformanceFailure {
  /** `WHV_X64_SEGMENT_REGISTER.Attributes: offsetof == 14`, or `prototype of WHvRunVirtualProcessor`. */
  readonly what: string;
  readonly line: number;
  readonly message: string;
}

/**
 * Turns gcc's stderr into named failures: static assertion failures carry our
 * `whp: …` text; conflicting prototypes name the function.
 */
export function parseConformanceErrors(stderr: string): ConformanceFailure[] {
  const failures: ConformanceFailure[] = [];
  for (const line of stderr.split('\n')) {
    const m = /:(\d+):\d+: error: (.*)$/.exec(line);
    if (!m) continue;
    const [, ln, msg] = m as unknown as [string, string, string];
    const sa = /static assertion failed: "whp: (.*)"/.exec(msg);
    const conflict = /conflicting types for '([^']+)'|conflicting types for ‘([^’]+)’/.exec(msg);
    if (sa) failures.push({ what: sa[1]!, line: Number(ln), message: msg });
    else if (conflict) failures.push({ what: `prototype of ${conflict[1] ?? conflict[2]}`, line: Number(ln), message: msg });
    else failures.push({ what: msg, line: Number(ln), message: msg });
  }
  return failures;
}
