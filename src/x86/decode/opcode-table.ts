/**
 * Builds the numeric decode tables from the text specs in opcode-specs.ts, once, at module
 * load. The decoder then only follows object references and reads small integers.
 */
import { Op, OperandKind as K } from './instruction.ts';
import {
  GROUPS, NAMED, ONE_BYTE, THREE_BYTE_38, THREE_BYTE_3A, TWO_BYTE, VEX_ONLY, X87_MEM, X87_REG,
} from './opcode-specs.ts';

/** How an entry is resolved to a leaf. */
export const enum EK {
  Leaf = 0,
  Group = 1, // by ModRM.reg
  ModSplit = 2, // [memory form, register form]
  Rm = 3, // by ModRM.rm (register forms)
  MandatoryPrefix = 4, // [none, 66, F3, F2]
  RepPrefix = 5, // [none, F3, F2]
  RexW = 6, // [W0, W1] by REX.W / VEX.W in long mode (W is ignored for GPR sizes elsewhere)
  VexW = 7, // [W0, W1] by VEX.W in any mode (element-size selection: vpsrlvd/q, ...)
}

/** Size codes: positive = bytes; negative = computed at decode time. */
export const SZ = {
  V: -1, // operand size
  Z: -2, // 2 if operand size is 2, else 4
  Y: -3, // 8 if operand size is 8, else 4
  X: -4, // vector size (16, or 32 with VEX.L)
  P: -5, // far pointer: 2 + operand size
  S: -6, // pseudo-descriptor: 6, or 10 in long mode
  A: -7, // BOUND: 2 * operand size
  H: -8, // half the vector size (8 or 16)
  U: -9, // a quarter of the vector size (4 or 8)
  E: -10, // an eighth of the vector size (2 or 4)
  QX: -11, // 8 for XMM, 32 for YMM (movddup source)
} as const;

/** Immediate encodings. */
export const enum IK {
  None = 0,
  Ib = 1, // imm8, zero-extended
  Ibs = 2, // imm8, sign-extended
  Iw = 3, // imm16, zero-extended
  Iz = 4, // imm16 (zero-extended) or imm32 (sign-extended) by operand size
  Iv = 5, // imm16/32/64 by operand size
  Jb = 6, // rel8
  Jz = 7, // rel16/32
  Ap = 8, // ptr16:16/32
  O = 9, // moffs (address size)
}

/** Entry flags. */
export const F = {
  LOCK: 1,
  I64: 2,
  O64: 4,
  D64: 8,
  F64: 16,
  CC: 32,
  REP: 64,
  V3: 128,
  V2: 256,
  VL0: 512,
  W64: 1024,
  MODRM: 2048, // needs a ModRM byte
  MEM_ONLY: 4096, // register form is #UD
  REG_ONLY: 8192, // memory form is #UD
  MOD_IGNORED: 16384, // MOV CR/DR: always a register, no SIB/displacement
  VEX: 32768, // a VEX-encoded leaf (operands already in VEX order)
  USES_VVVV: 65536, // has an operand in VEX.vvvv (else vvvv must be 1111b)
  L1: 1 << 17, // VEX.L must be 1 (256-bit only)
  W0: 1 << 18, // VEX.W must be 0
  W1: 1 << 19, // VEX.W must be 1
  IS4: 1 << 20, // an operand is the register in imm8[7:4]
} as const;

const FLAG_NAMES: Record<string, number> = {
  L: F.LOCK, i64: F.I64, o64: F.O64, d64: F.D64, f64: F.F64, cc: F.CC, rep: F.REP,
  v3: F.V3, v2: F.V2, vl0: F.VL0, w64: F.W64, l1: F.L1, w0: F.W0, w1: F.W1,
};

export class Entry {
  kind: EK = EK.Leaf;
  sub: Array<Entry | null> = [];
  op: Op = Op.INVALID;
  flags = 0;
  nOps = 0;
  /** Operand kinds. */
  k: K[] = [K.None, K.None, K.None, K.None];
  /** Register-form sizes (size codes). */
  rs: number[] = [0, 0, 0, 0];
  /** Memory-form sizes (size codes). */
  ms: number[] = [0, 0, 0, 0];
  /** Immediate encoding per operand. */
  ik: IK[] = [IK.None, IK.None, IK.None, IK.None];
  /** Fixed register number per operand (segment for ES..GS; -1 none). */
  fixed: number[] = [-1, -1, -1, -1];
  /** Mnemonic as written in the spec (for diagnostics). */
  name = '';
}

interface ParsedOperand { k: K; rs: number; ms: number; ik: IK; fixed: number; flags: number }

function sizeCode(s: string, spec: string): number {
  switch (s) {
    case 'b': return 1;
    case 'w': return 2;
    case 'd': case 'ss': return 4;
    case 'q': case 'sd': return 8;
    case 'dq': return 16;
    case 't': return 10;
    case 'v': return SZ.V;
    case 'z': return SZ.Z;
    case 'y': return SZ.Y;
    case 'x': case 'ps': case 'pd': return SZ.X;
    case 'p': return SZ.P;
    case 's': return SZ.S;
    case 'a': return SZ.A;
    case 'h': return SZ.H;
    case 'u': return SZ.U;
    case 'e': return SZ.E;
    case 'qx': return SZ.QX;
    case '0': case '': return 0;
    default: throw new Error(`opcode spec "${spec}": unknown size "${s}"`);
  }
}

const SEGS: Record<string, number> = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5 };

function parseOperand(t: string, spec: string): ParsedOperand {
  const o: ParsedOperand = { k: K.None, rs: 0, ms: 0, ik: IK.None, fixed: -1, flags: 0 };
  if (t in SEGS) { o.k = K.Seg; o.rs = o.ms = 2; o.fixed = SEGS[t]!; return o; }
  switch (t) {
    case 'AL': o.k = K.Acc; o.rs = 1; return o;
    case 'AX': o.k = K.Acc; o.rs = 2; return o;
    case 'rAX': o.k = K.Acc; o.rs = SZ.V; return o;
    case 'eAX': o.k = K.Acc; o.rs = SZ.Z; return o;
    case 'CL': o.k = K.Cl; o.rs = 1; return o;
    case 'DX': o.k = K.Dx; o.rs = 2; return o;
    case '1': o.k = K.One; o.rs = 1; return o;
    case 'ST': o.k = K.St0; o.rs = 10; return o;
    case 'STi': o.k = K.Sti; o.rs = 10; o.flags = F.MODRM; return o;
    case 'XMM0': o.k = K.Xmm0; o.rs = 16; return o;
    case 'Ibs': o.k = K.Imm; o.rs = SZ.V; o.ik = IK.Ibs; return o;
  }
  if (t.includes('/')) {
    // "Rd/Mb": one r/m operand with distinct register and memory sizes.
    const [r, m] = t.split('/') as [string, string];
    if (r[0] !== 'R' || m[0] !== 'M') throw new Error(`opcode spec "${spec}": bad operand ${t}`);
    o.k = K.Rm; o.rs = sizeCode(r.slice(1), spec); o.ms = sizeCode(m.slice(1), spec); o.flags = F.MODRM;
    return o;
  }
  const letter = t[0]!;
  const sz = sizeCode(t.slice(1), spec);
  o.rs = o.ms = sz;
  switch (letter) {
    case 'E': o.k = K.Rm; o.flags = F.MODRM; break;
    case 'G': o.k = K.Reg; o.flags = F.MODRM; break;
    case 'M': o.k = K.Mem; o.flags = F.MODRM | F.MEM_ONLY; break;
    case 'R': o.k = K.Rm; o.flags = F.MODRM | F.MOD_IGNORED; break;
    case 'Z': o.k = K.Rm; break;
    case 'S': o.k = K.Seg; o.flags = F.MODRM; o.rs = o.ms = 2; break;
    case 'C': o.k = K.Cr; o.flags = F.MODRM; break;
    case 'D': o.k = K.Dr; o.flags = F.MODRM; break;
    case 'V': o.k = K.Xmm; o.flags = F.MODRM; break;
    case 'W': o.k = K.XmmRm; o.flags = F.MODRM; break;
    case 'U': o.k = K.XmmRm; o.flags = F.MODRM | F.REG_ONLY; break;
    case 'H': o.k = K.XmmV; break;
    case 'P': o.k = K.Mmx; o.flags = F.MODRM; o.rs = o.ms = 8; break;
    case 'Q': o.k = K.MmxRm; o.flags = F.MODRM; break;
    case 'N': o.k = K.MmxRm; o.flags = F.MODRM | F.REG_ONLY; break;
    case 'B': o.k = K.GprV; break;
    case 'L': o.k = K.XmmIs4; o.ik = IK.Ib; break;
    case 'X': o.k = K.StrSrc; break;
    case 'Y': o.k = K.StrDst; break;
    case 'I':
      o.k = K.Imm;
      if (t === 'Ib') o.ik = IK.Ib;
      else if (t === 'Iw') o.ik = IK.Iw;
      else if (t === 'Iz') { o.ik = IK.Iz; o.rs = o.ms = SZ.V; }
      else if (t === 'Iv') o.ik = IK.Iv;
      else throw new Error(`opcode spec "${spec}": bad immediate ${t}`);
      break;
    case 'J':
      o.k = K.Rel; o.ik = t === 'Jb' ? IK.Jb : IK.Jz; o.rs = o.ms = SZ.V; break;
    case 'O': o.k = K.Mem; o.ik = IK.O; break;
    case 'A': o.k = K.Far; o.ik = IK.Ap; o.rs = o.ms = SZ.P; break;
    default: throw new Error(`opcode spec "${spec}": unknown operand ${t}`);
  }
  return o;
}

interface Inherit { operands: string; flags: string[] }

/** Parse one spec string (possibly composite) into an Entry, or null for "undefined". */
export function parseSpec(spec: string, inherit?: Inherit): Entry | null {
  spec = spec.trim();
  if (spec === '') return null;
  if (spec[0] === '$') {
    const named = NAMED[spec.slice(1)];
    if (named === undefined) throw new Error(`opcode spec "${spec}": unknown name`);
    return parseSpec(named, inherit);
  }
  const composite = /^(mp|rp|mod|rm|w|vw):/.exec(spec);
  if (composite) {
    const kw = composite[1]!;
    const body = spec.slice(kw.length + 1);
    const e = new Entry();
    const parts = kw === 'mod' || kw === 'w' || kw === 'vw' ? body.split(';') : body.split('|');
    e.kind = kw === 'mp' ? EK.MandatoryPrefix : kw === 'rp' ? EK.RepPrefix : kw === 'mod' ? EK.ModSplit
      : kw === 'rm' ? EK.Rm : kw === 'w' ? EK.RexW : EK.VexW;
    const want = { mp: 4, rp: 3, mod: 2, rm: 8, w: 2, vw: 2 }[kw]!;
    if (parts.length !== want) throw new Error(`opcode spec "${spec}": ${kw} needs ${want} parts`);
    e.sub = parts.map((p) => parseSpec(p, inherit));
    return e;
  }
  if (spec[0] === '@') {
    const [gname, ...rest] = spec.slice(1).split(' ');
    const group = GROUPS[gname!];
    if (!group) throw new Error(`opcode spec "${spec}": unknown group`);
    const parentOps = rest.filter((x) => !(x in FLAG_NAMES)).join(' ');
    const parentFlags = rest.filter((x) => x in FLAG_NAMES);
    const e = new Entry();
    e.kind = EK.Group;
    e.sub = group.map((g) => parseSpec(g, { operands: parentOps, flags: parentFlags }));
    return e;
  }
  const words = spec.split(' ').filter((w) => w !== '');
  const e = new Entry();
  e.name = words[0]!;
  const op = (Op as unknown as Record<string, number>)[e.name];
  if (op === undefined) throw new Error(`opcode spec "${spec}": unknown mnemonic`);
  e.op = op;
  let operands = '';
  const flags: string[] = [];
  for (const w of words.slice(1)) {
    if (w in FLAG_NAMES) flags.push(w);
    else if (operands === '') operands = w;
    else throw new Error(`opcode spec "${spec}": unexpected "${w}"`);
  }
  if (inherit) {
    if (operands === '') operands = inherit.operands;
    flags.push(...inherit.flags);
  }
  for (const f of flags) e.flags |= FLAG_NAMES[f]!;
  if (operands !== '') {
    const ops = operands.split(',');
    e.nOps = ops.length;
    ops.forEach((t, i) => {
      const p = parseOperand(t, spec);
      e.k[i] = p.k; e.rs[i] = p.rs; e.ms[i] = p.ms; e.ik[i] = p.ik; e.fixed[i] = p.fixed;
      e.flags |= p.flags;
      if (p.k === K.XmmV || p.k === K.GprV) e.flags |= F.USES_VVVV;
      if (p.k === K.XmmIs4) e.flags |= F.IS4;
    });
  }
  // Groups, x87 and 0F-map opcodes with a ModRM but no ModRM operand (e.g. SWAPGS via rm:) get
  // F.MODRM from their parent context; the decoder reads ModRM whenever a composite needs it.
  return e;
}

function buildMap(specs: string[]): Array<Entry | null> {
  return specs.map((s) => parseSpec(s));
}

export const MAP_ONE = buildMap(ONE_BYTE);
/** One-byte map in long mode: 63 is MOVSXD (SDM Vol. 2 MOVSX/MOVSXD). */
export const MAP_ONE_64 = MAP_ONE.slice();
MAP_ONE_64[0x63] = parseSpec('MOVSXD Gv,Ez'); // r16 ← r/m16 with 66, r64 ← r/m32 with REX.W
export const MAP_0F = buildMap(TWO_BYTE);
export const MAP_0F38 = buildMap(THREE_BYTE_38);
export const MAP_0F3A = buildMap(THREE_BYTE_3A);

/** 90 with REX.B is XCHG r8, rAX (the Z operand picks up REX.B). */
export const XCHG_R_RAX = parseSpec('XCHG Zv,rAX')!;

/** x87: [opcode - D8][reg] for memory forms and register forms. */
export const X87_MEM_ENTRIES = X87_MEM.map((row) => row.map((s) => parseSpec(s)));
export const X87_REG_ENTRIES = X87_REG.map((row) => row.map((s) => parseSpec(s)));

/**
 * VEX maps, derived from the legacy SSE entries marked v2/v3 (a v3 leaf gains an XmmV
 * operand after the destination) plus the VEX-only entries.
 */
function toVex(e: Entry | null): Entry | null {
  if (e === null) return null;
  if (e.kind === EK.Leaf) {
    if (!(e.flags & (F.V2 | F.V3))) return null;
    const v = new Entry();
    Object.assign(v, e);
    v.k = e.k.slice(); v.rs = e.rs.slice(); v.ms = e.ms.slice(); v.ik = e.ik.slice(); v.fixed = e.fixed.slice();
    v.flags |= F.VEX;
    if (e.flags & F.V3) {
      // Insert H (same size as the destination) as operand 1.
      for (let i = 3; i > 1; i--) {
        v.k[i] = v.k[i - 1]!; v.rs[i] = v.rs[i - 1]!; v.ms[i] = v.ms[i - 1]!; v.ik[i] = v.ik[i - 1]!; v.fixed[i] = v.fixed[i - 1]!;
      }
      v.k[1] = K.XmmV; v.rs[1] = v.ms[1] = e.k[0] === K.Xmm || e.k[0] === K.XmmRm ? e.rs[0]! : SZ.X; v.ik[1] = IK.None; v.fixed[1] = -1;
      v.nOps = e.nOps + 1;
      v.flags |= F.USES_VVVV;
    }
    return v;
  }
  if (e.kind === EK.RepPrefix || e.kind === EK.Group) return null;
  const c = new Entry();
  c.kind = e.kind;
  c.sub = e.sub.map(toVex);
  return c;
}

function markVex(e: Entry | null): Entry | null {
  if (e === null) return null;
  if (e.kind === EK.Leaf) { e.flags |= F.VEX; return e; }
  e.sub.forEach(markVex);
  return e;
}

function buildVexMap(legacy: Array<Entry | null>, map: number): Array<Entry | null> {
  const t = legacy.map((e) => {
    // VEX maps only have mandatory-prefix entries (pp is always present).
    if (e === null || e.kind !== EK.MandatoryPrefix) return null;
    return toVex(e);
  });
  for (const [m, opc, spec] of VEX_ONLY) if (m === map) t[opc] = markVex(parseSpec(spec.startsWith('mp:') ? spec : `mp:${spec}|||`));
  return t;
}

export const VEX_0F = buildVexMap(MAP_0F, 1);
export const VEX_0F38 = buildVexMap(MAP_0F38, 2);
export const VEX_0F3A = buildVexMap(MAP_0F3A, 3);
/** VZEROALL is C5 F8 77 with VEX.L = 1. */
export const VZEROALL = markVex(parseSpec('mp:VZEROALL|||'))!;
