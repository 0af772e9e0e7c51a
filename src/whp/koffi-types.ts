/**
 * Builds koffi types and prototypes from the declaration data (whp-decls.ts,
 * whp-functions.ts) — the same data the conformance C is emitted from.
 *
 * koffi differences from C, and how they are handled:
 *  - No bit-fields: each storage unit becomes a plain integer member (its
 *    `koffiName`); bits are packed and unpacked by hand from the layout.
 *  - No alignment above 8 (koffi CheckAlignment): WHV_UINT128 and the types
 *    that contain it are 16-aligned in C but 8-aligned in koffi. Their sizes
 *    and offsets still agree (checked in test/whp-koffi-types.test.ts); where a
 *    16-byte-aligned buffer matters (WHV_REGISTER_VALUE arrays, the exit
 *    context) we allocate it ourselves (native-memory.ts).
 *  - No anonymous member flattening: anonymous unions/structs get the short
 *    names `u`/`s` (the `koffiPath` of each laid-out member).
 *  - Enums are 32-bit integers with GCC's signedness (unsigned unless a
 *    constant is negative; asserted in the conformance C).
 *
 * koffi type objects belong to one koffi instance (one per Worker), so the
 * cache is keyed on the koffi module object.
 */
import type { Koffi } from '../native/koffi.ts';
import { DeclRegistry, parseCType } from './c-decl.ts';
import type { CallbackDecl, FunctionDecl, Member, Prim } from './c-decl.ts';

type KoffiType = ReturnType<Koffi['type']>;

const PRIM_KOFFI: Record<Exclude<Prim, 'void'>, string> = {
  u8: 'uint8_t',
  u16: 'uint16_t',
  u32: 'uint32_t',
  u64: 'uint64_t',
  i32: 'int32_t',
  ptr: 'void *',
};

export class KoffiTypes {
  private readonly byName = new Map<string, KoffiType>();
  private readonly protos = new Map<string, KoffiType>();

  constructor(
    readonly koffi: Koffi,
    readonly reg: DeclRegistry,
  ) {}

  /** The koffi type for a declared C type name (struct, union, enum or scalar). */
  type(name: string): KoffiType {
    const hit = this.byName.get(name);
    if (hit) return hit;
    const k = this.koffi;
    const t = this.reg.get(name);
    let out: KoffiType;
    if (t.kind === 'scalar') {
      if (t.prim === 'void') throw new Error('VOID has no koffi value type');
      out = k.type(PRIM_KOFFI[t.prim]);
    } else if (t.kind === 'enum') {
      out = k.type(DeclRegistry.enumIsSigned(t) ? 'int32_t' : 'uint32_t');
    } else {
      const def = this.members(t.members);
      // Named so koffi error messages and introspection show the header's name.
      out = t.kind === 'struct' ? k.struct(t.name, def) : k.union(t.name, def);
    }
    this.byName.set(name, out);
    return out;
  }

  private members(members: readonly Member[]): Record<string, KoffiType> {
    const k = this.koffi;
    const def: Record<string, KoffiType> = {};
    for (const m of members) {
      if (m.m === 'field') {
        const base = this.type(m.type);
        def[m.name] = m.count === undefined ? base : k.array(base, m.count);
      } else if (m.m === 'bits') {
        def[m.koffiName] = this.type(m.type);
      } else {
        const inner = this.members(m.members);
        def[m.m === 'anon' ? m.koffiName : m.name] = m.agg === 'struct' ? k.struct(inner) : k.union(inner);
      }
    }
    return def;
  }

  /** koffi type for a C type text such as `const WHV_REGISTER_NAME *` or `VOID **`. */
  typeText(text: string): KoffiType {
    const { base, stars } = parseCType(text);
    if (stars === 0) return this.type(base);
    const pointee = base === 'VOID' ? 'void' : this.type(base);
    return this.koffi.pointer(pointee, stars);
  }

  /** A koffi prototype for a function or callback declaration (cached by name). */
  proto(decl: FunctionDecl | CallbackDecl): KoffiType {
    const hit = this.protos.get(decl.name);
    if (hit) return hit;
    // x64 has one calling convention; koffi ignores __stdcall there (koffi.dev/load).
    const p = this.koffi.proto(decl.name, this.typeText(decl.ret), decl.params.map(([t]) => this.typeText(t)));
    this.protos.set(decl.name, p);
    return p;
  }
}

const cache = new WeakMap<object, KoffiTypes>();

/** The KoffiTypes for this koffi instance (one per Worker), built lazily. */
export function koffiTypesFor(koffi: Koffi, reg: DeclRegistry): KoffiTypes {
  let t = cache.get(koffi);
  if (!t || t.reg !== reg) {
    t = new KoffiTypes(koffi, reg);
    cache.set(koffi, t);
  }
  return t;
}
