/**
 * A small data model of C declarations, and the x64 layout rules that turn it
 * into sizes and offsets.
 *
 * The WHP bindings are written ONCE, as data in this model (whp-decls.ts,
 * whp-functions.ts). From that data we both
 *   - build the koffi types and function bindings (koffi-bindings.ts), and
 *   - emit a C file of `_Static_assert`s and prototype redeclarations that is
 *     compiled against the MinGW headers (conformance-c.ts),
 * so the header, not a second hand-written table, is the judge of every size,
 * offset, enum value and prototype we use.
 *
 * Layout rules implemented (x86-64 Windows ABI as MinGW-w64 implements it, i.e.
 * -mms-bitfields): a member is aligned to its type's alignment; a struct's
 * size is rounded up to its alignment; a union's size is its largest member,
 * rounded up; consecutive bit-fields of one declared type share one storage
 * unit of that type while they fit (MS rules — a change of type starts a new
 * unit). Our data always writes each run of bit-fields as one `bits` member,
 * so a unit is explicit; layoutOf() checks that its widths fit.
 *
 * Pure module: no koffi, no I/O.
 */

/** The machine class of a scalar C type. */
export type Prim = 'u8' | 'u16' | 'u32' | 'u64' | 'i32' | 'ptr' | 'void';

export interface ScalarDecl {
  readonly kind: 'scalar';
  /** The C spelling (`UINT32`, `WINBOOL`, `WHV_PARTITION_HANDLE`). */
  readonly name: string;
  readonly prim: Prim;
}

export interface EnumDecl {
  readonly kind: 'enum';
  readonly name: string;
  readonly values: Readonly<Record<string, number>>;
}

export type Member =
  /** An ordinary member, optionally a fixed-size array (`count`). */
  | { readonly m: 'field'; readonly name: string; readonly type: string; readonly count?: number }
  /**
   * One storage unit of bit-fields of declared type `type`. C has no name for
   * the unit; koffi (which has no bit-fields) sees a plain integer `koffiName`.
   */
  | { readonly m: 'bits'; readonly type: string; readonly koffiName: string; readonly fields: readonly (readonly [string, number])[] }
  /** An anonymous (`__C89_NAMELESS`) struct or union: C flattens its members; koffi needs a name. */
  | { readonly m: 'anon'; readonly agg: 'struct' | 'union'; readonly koffiName: string; readonly members: readonly Member[] }
  /** A named member whose type is an unnamed struct/union (`struct { … } DeviceInterrupt;`). */
  | { readonly m: 'named'; readonly agg: 'struct' | 'union'; readonly name: string; readonly members: readonly Member[] };

export interface AggregateDecl {
  readonly kind: 'struct' | 'union';
  readonly name: string;
  readonly members: readonly Member[];
  /** `DECLSPEC_ALIGN(n)` on the type (koffi cannot express n > 8; see koffiAlign). */
  readonly declspecAlign?: number;
  /** Where the header itself states the size in a C_ASSERT (documentation; the compiler checks it anyway). */
  readonly headerSize?: number;
}

/** A parameter or return type written as in C: `const WHV_REGISTER_NAME *`, `UINT32`, `VOID **`. */
export type CTypeText = string;

export interface FunctionDecl {
  readonly name: string;
  readonly dll: 'WinHvPlatform.dll' | 'WinHvEmulation.dll';
  readonly ret: CTypeText;
  readonly params: readonly (readonly [CTypeText, string])[];
  /** False for the two migration functions MinGW declares without WINAPI (same ABI on x64). */
  readonly winapi: boolean;
  /** Needed at partition/vCPU runtime (bound eagerly) vs. optional (bound on first use; may be missing on older builds). */
  readonly required: boolean;
}

/** A `typedef HRESULT (CALLBACK *NAME)(…)` pointer type. */
export interface CallbackDecl {
  readonly name: string;
  readonly ret: CTypeText;
  readonly params: readonly (readonly [CTypeText, string])[];
}

/** A `#define` constant from the headers that we use. */
export interface ConstantDecl {
  readonly name: string;
  readonly value: number;
}

// ---- builders (keep the data files readable) --------------------------------

export const field = (name: string, type: string, count?: number): Member =>
  count === undefined ? { m: 'field', name, type } : { m: 'field', name, type, count };
export const bits = (type: string, koffiName: string, fields: readonly (readonly [string, number])[]): Member => ({ m: 'bits', type, koffiName, fields });
export const anonStruct = (koffiName: string, members: readonly Member[]): Member => ({ m: 'anon', agg: 'struct', koffiName, members });
export const anonUnion = (koffiName: string, members: readonly Member[]): Member => ({ m: 'anon', agg: 'union', koffiName, members });
export const namedStruct = (name: string, members: readonly Member[]): Member => ({ m: 'named', agg: 'struct', name, members });
export const struct = (name: string, members: readonly Member[], opts: { declspecAlign?: number; headerSize?: number } = {}): AggregateDecl => ({ kind: 'struct', name, members, ...opts });
export const union = (name: string, members: readonly Member[], opts: { declspecAlign?: number; headerSize?: number } = {}): AggregateDecl => ({ kind: 'union', name, members, ...opts });
/**
 * The common header idiom `union { struct { bit-fields }; UINTn AsUINTn; }`:
 * one storage unit seen both as bit-fields and as a named integer.
 */
export const bitsUnion = (name: string, type: string, storageName: string, fields: readonly (readonly [string, number])[], opts: { headerSize?: number } = {}): AggregateDecl =>
  union(name, [anonStruct('bits', [bits(type, 'bits', fields)]), field(storageName, type)], opts);

// ---- registry and layout ------------------------------------------------------

export type TypeDecl = ScalarDecl | EnumDecl | AggregateDecl;

const PRIM_SIZE: Record<Prim, number> = { u8: 1, u16: 2, u32: 4, u64: 8, i32: 4, ptr: 8, void: 0 };

/** A member as it appears in the laid-out aggregate. */
export interface LaidOutField {
  /** C member designator relative to the aggregate, anonymous levels removed (`IoPortAccess`, `DeviceInterrupt.MsiData`). */
  readonly cPath: string;
  /** The same member in the koffi type (anonymous levels named). */
  readonly koffiPath: string;
  readonly offset: number;
  readonly size: number;
  readonly type: string;
  readonly count?: number;
}

export interface LaidOutBitfield {
  readonly cPath: string;
  /** Byte offset of the storage unit inside the aggregate. */
  readonly unitOffset: number;
  readonly unitSize: number;
  readonly bitOffset: number;
  readonly width: number;
}

export interface Layout {
  readonly name: string;
  readonly size: number;
  /** True C alignment (16 for DECLSPEC_ALIGN(16) types and whatever contains them). */
  readonly align: number;
  /** What koffi can give: alignments are capped at 8 (koffi CheckAlignment: 1, 2, 4 or 8). */
  readonly koffiAlign: number;
  readonly fields: readonly LaidOutField[];
  readonly bitfields: readonly LaidOutBitfield[];
}

/** A set of declarations, with memoised layouts. */
export class DeclRegistry {
  readonly types = new Map<string, TypeDecl>();
  readonly enumConstants = new Map<string, { readonly enumName: string; readonly value: number }>();
  private readonly layouts = new Map<string, Layout>();

  constructor(decls: readonly TypeDecl[]) {
    for (const d of decls) {
      if (this.types.has(d.name)) throw new Error(`duplicate declaration of ${d.name}`);
      this.types.set(d.name, d);
      if (d.kind === 'enum') {
        for (const [k, v] of Object.entries(d.values)) this.enumConstants.set(k, { enumName: d.name, value: v });
      }
    }
  }

  get(name: string): TypeDecl {
    const t = this.types.get(name);
    if (!t) throw new Error(`unknown C type '${name}' (not declared in whp-decls.ts)`);
    return t;
  }

  /** An enum is laid out as GCC does: `unsigned int` unless a constant is negative. */
  static enumIsSigned(e: EnumDecl): boolean {
    return Object.values(e.values).some((v) => v < 0);
  }

  /** Size and C alignment of a named type. */
  sizeAlign(name: string): { size: number; align: number } {
    const t = this.get(name);
    if (t.kind === 'scalar') {
      const s = PRIM_SIZE[t.prim];
      return { size: s, align: Math.max(1, s) };
    }
    if (t.kind === 'enum') return { size: 4, align: 4 };
    const l = this.layoutOf(name);
    return { size: l.size, align: l.align };
  }

  layoutOf(name: string): Layout {
    const cached = this.layouts.get(name);
    if (cached) return cached;
    const t = this.get(name);
    if (t.kind !== 'struct' && t.kind !== 'union') throw new Error(`${name} is not a struct or union`);
    const fields: LaidOutField[] = [];
    const bitfields: LaidOutBitfield[] = [];
    const r = this.layMembers(t.kind, t.members, 0, '', '', fields, bitfields, name);
    const align = Math.max(r.align, t.declspecAlign ?? 1);
    const size = roundUp(r.size, align);
    if (t.headerSize !== undefined && t.headerSize !== size) {
      throw new Error(`${name}: computed size ${size} but the header asserts ${t.headerSize}`);
    }
    const layout: Layout = { name, size, align, koffiAlign: Math.min(align, 8), fields, bitfields };
    this.layouts.set(name, layout);
    return layout;
  }

  /** Lays members out starting at `base`; returns the aggregate's unpadded extent and alignment. */
  private layMembers(
    agg: 'struct' | 'union',
    members: readonly Member[],
    base: number,
    cPrefix: string,
    kPrefix: string,
    fields: LaidOutField[],
    bitfields: LaidOutBitfield[],
    owner: string,
  ): { size: number; align: number } {
    let offset = 0;
    let maxAlign = 1;
    let maxSize = 0;
    for (const mem of members) {
      let size: number;
      let align: number;
      if (mem.m === 'field' || mem.m === 'bits') {
        ({ size, align } = this.sizeAlign(mem.type));
        if (mem.m === 'field' && mem.count !== undefined) size *= mem.count;
      } else {
        // Nested aggregate: lay it out into scratch lists first to learn its size/alignment.
        const sf: LaidOutField[] = [];
        const sb: LaidOutBitfield[] = [];
        const r = this.layMembers(mem.agg, mem.members, 0, '', '', sf, sb, owner);
        align = r.align;
        size = roundUp(r.size, r.align);
      }
      const at = agg === 'struct' ? roundUp(offset, align) : 0;
      const abs = base + at;
      if (mem.m === 'field') {
        const f: LaidOutField = { cPath: cPrefix + mem.name, koffiPath: kPrefix + mem.name, offset: abs, size, type: mem.type, ...(mem.count !== undefined ? { count: mem.count } : {}) };
        fields.push(f);
      } else if (mem.m === 'bits') {
        const total = mem.fields.reduce((s, [, w]) => s + w, 0);
        if (total > size * 8) throw new Error(`${owner}: bit-fields ${mem.fields.map(([n]) => n).join(',')} need ${total} bits but ${mem.type} has ${size * 8}`);
        let bit = 0;
        for (const [n, w] of mem.fields) {
          bitfields.push({ cPath: cPrefix + n, unitOffset: abs, unitSize: size, bitOffset: bit, width: w });
          bit += w;
        }
      } else if (mem.m === 'anon') {
        this.layMembers(mem.agg, mem.members, abs, cPrefix, kPrefix + mem.koffiName + '.', fields, bitfields, owner);
      } else {
        fields.push({ cPath: cPrefix + mem.name, koffiPath: kPrefix + mem.name, offset: abs, size, type: '' });
        this.layMembers(mem.agg, mem.members, abs, cPrefix + mem.name + '.', kPrefix + mem.name + '.', fields, bitfields, owner);
      }
      maxAlign = Math.max(maxAlign, align);
      maxSize = Math.max(maxSize, size);
      offset = at + size;
    }
    return { size: agg === 'struct' ? offset : maxSize, align: maxAlign };
  }

  /**
   * Byte offset of a member designator, following named struct-typed members
   * into their own layouts: offsetOf('WHV_RUN_VP_EXIT_CONTEXT', 'VpContext.Rip').
   */
  offsetOf(typeName: string, path: string): number {
    return this.resolve(typeName, path).offset;
  }

  resolve(typeName: string, path: string): { offset: number; size: number; type: string } {
    const layout = this.layoutOf(typeName);
    const direct = layout.fields.find((f) => f.cPath === path);
    if (direct) return { offset: direct.offset, size: direct.size, type: direct.type };
    const inner = this.memberPrefix(typeName, path);
    if (inner) {
      const r = this.resolve(inner.field.type!, inner.rest);
      return { offset: inner.field.offset + r.offset, size: r.size, type: r.type };
    }
    throw new Error(`${typeName} has no member '${path}'`);
  }

  /** A bit-field by designator, following struct-typed members: bitfieldOf('WHV_RUN_VP_EXIT_CONTEXT', 'VpContext.InstructionLength'). */
  bitfieldOf(typeName: string, path: string): LaidOutBitfield {
    const layout = this.layoutOf(typeName);
    const direct = layout.bitfields.find((b) => b.cPath === path);
    if (direct) return direct;
    const inner = this.memberPrefix(typeName, path);
    if (inner) {
      const b = this.bitfieldOf(inner.field.type!, inner.rest);
      return { ...b, cPath: path, unitOffset: inner.field.offset + b.unitOffset };
    }
    throw new Error(`${typeName} has no bit-field '${path}'`);
  }

  /**
   * For a designator into a nested member ('VpContext.InstructionLength'): the longest
   * prefix that names a (non-array) struct- or union-typed field, and the rest of the path.
   */
  private memberPrefix(typeName: string, path: string): { field: { offset: number; type?: string }; rest: string } | undefined {
    const layout = this.layoutOf(typeName);
    const parts = path.split('.');
    for (let n = parts.length - 1; n >= 1; n--) {
      const head = parts.slice(0, n).join('.');
      const f = layout.fields.find((x) => x.cPath === head);
      if (f && f.type && f.count === undefined) {
        const t = this.types.get(f.type);
        if (t && (t.kind === 'struct' || t.kind === 'union')) return { field: f, rest: parts.slice(n).join('.') };
      }
    }
    return undefined;
  }

  /** Value of an enum constant by its C name. */
  constant(name: string): number {
    const c = this.enumConstants.get(name);
    if (!c) throw new Error(`unknown enum constant ${name}`);
    return c.value;
  }
}

export function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/** Splits a C type text into qualifiers, base name and pointer depth: `const WHV_REGISTER_NAME *` → {base, stars: 1, isConst}. */
export function parseCType(text: CTypeText): { base: string; stars: number; isConst: boolean } {
  let t = text.trim();
  let isConst = false;
  if (t.startsWith('const ')) {
    isConst = true;
    t = t.slice(6).trim();
  }
  let stars = 0;
  while (t.endsWith('*')) {
    stars++;
    t = t.slice(0, -1).trim();
  }
  return { base: t, stars, isConst };
}
