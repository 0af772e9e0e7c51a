/**
 * Table-driven x86 decoder (Intel SDM Vol. 2, chapter 2 "Instruction Format" and
 * Appendix A "Opcode Map"). `decodeInto` fills a caller-owned Instruction and allocates
 * nothing; `decode` is the allocating convenience form.
 *
 * Hardware behaviours this follows (each checked against GNU objdump in the tests, or
 * listed there as an objdump quirk):
 * - Legacy prefixes may repeat and come in any order; within a group the last one wins
 *   (segment overrides; F2/F3 for mandatory-prefix selection).
 * - REX counts only when it is the byte immediately before the opcode (or VEX); a REX
 *   followed by a legacy prefix is ignored (SDM Vol. 2 §2.2.1).
 * - An instruction longer than 15 bytes raises #GP(0) (SDM Vol. 2 §2.3.11).
 * - Mandatory prefixes (66/F2/F3) select SSE instructions; when 66 is used that way it
 *   does not change the operand size.
 * - In long mode near branches use 64-bit operand size and ignore 66 (Intel 64 behaviour;
 *   AMD honours 66 — see the objdump `-M intel64` option used by the tests).
 * - LOCK is #UD unless the instruction is lockable and its destination is memory.
 * - C4/C5 are VEX in long mode, and outside it when the next byte has mod = 11b.
 * - Outside long mode VEX.vvvv bit 3 is ignored as a register number, but a non-1111b
 *   vvvv on an instruction that has no vvvv operand is #UD.
 * - Undefined encodings, LOCK misuse, register forms of memory-only operands, reserved
 *   segment/control/debug registers, VEX.L/W constraints: DecodeFault.InvalidOpcode.
 * - The decoder knows nothing of CPUID: an instruction the CPU does not advertise (e.g.
 *   RDRAND, AVX2) still decodes; the executor raises #UD for it.
 */
import {
  DecodeFault, HIGH_BYTE_BASE, Instruction, NO_SEG, Op, OpMap, OperandKind as K, Prefix, Reg, Seg,
} from './instruction.ts';
import type { DecodeMode } from './instruction.ts';
import * as tbl from './opcode-table.ts';
import { EK, F, IK, SZ } from './opcode-table.ts';
import type { Entry } from './opcode-table.ts';

// Hot-path constants copied into module-local bindings: imported bindings and enum
// objects are property loads (getters under tsx's CommonJS interop) on every use.
const HIGH_BYTE = HIGH_BYTE_BASE;
const NOSEG = NO_SEG;
const DecodeFault_GeneralProtection = DecodeFault.GeneralProtection;
const DecodeFault_InvalidOpcode = DecodeFault.InvalidOpcode;
const DecodeFault_None = DecodeFault.None;
const DecodeFault_Truncated = DecodeFault.Truncated;
const EK_Group = EK.Group;
const EK_Leaf = EK.Leaf;
const EK_MandatoryPrefix = EK.MandatoryPrefix;
const EK_ModSplit = EK.ModSplit;
const EK_RepPrefix = EK.RepPrefix;
const EK_RexW = EK.RexW;
const EK_VexW = EK.VexW;
const F_CC = F.CC;
const F_D64 = F.D64;
const F_F64 = F.F64;
const F_I64 = F.I64;
const F_L1 = F.L1;
const F_LOCK = F.LOCK;
const F_MEM_ONLY = F.MEM_ONLY;
const F_MODRM = F.MODRM;
const F_MOD_IGNORED = F.MOD_IGNORED;
const F_O64 = F.O64;
const F_REG_ONLY = F.REG_ONLY;
const F_USES_VVVV = F.USES_VVVV;
const F_V2 = F.V2;
const F_V3 = F.V3;
const F_VEX = F.VEX;
const F_VL0 = F.VL0;
const F_W0 = F.W0;
const F_W1 = F.W1;
const IK_Ap = IK.Ap;
const IK_Ib = IK.Ib;
const IK_Ibs = IK.Ibs;
const IK_Iv = IK.Iv;
const IK_Iw = IK.Iw;
const IK_Iz = IK.Iz;
const IK_Jb = IK.Jb;
const IK_Jz = IK.Jz;
const IK_None = IK.None;
const IK_O = IK.O;
const K_Cr = K.Cr;
const K_Dr = K.Dr;
const K_Imm2 = K.Imm2;
const K_Mem = K.Mem;
const K_Mmx = K.Mmx;
const K_MmxRm = K.MmxRm;
const K_None = K.None;
const K_Reg = K.Reg;
const K_Rm = K.Rm;
const K_Seg = K.Seg;
const K_Sti = K.Sti;
const K_XmmRm = K.XmmRm;
const Op_FCMOVcc = Op.FCMOVcc;
const Op_INVALID = Op.INVALID;
const Op_MOV = Op.MOV;
const OpMap_Map0F = OpMap.Map0F;
const OpMap_Map0F38 = OpMap.Map0F38;
const OpMap_Map0F3A = OpMap.Map0F3A;
const OpMap_OneByte = OpMap.OneByte;
const Prefix_ADDRSIZE = Prefix.ADDRSIZE;
const Prefix_LOCK = Prefix.LOCK;
const Prefix_OPSIZE = Prefix.OPSIZE;
const Prefix_REP = Prefix.REP;
const Prefix_REPNE = Prefix.REPNE;
const Prefix_REX = Prefix.REX;
const Prefix_VEX = Prefix.VEX;
const Reg_RBP = Reg.RBP;
const Reg_RBX = Reg.RBX;
const Reg_RDI = Reg.RDI;
const Reg_RIP = Reg.RIP;
const Reg_RSI = Reg.RSI;
const Reg_RSP = Reg.RSP;
const SZ_A = SZ.A;
const SZ_H = SZ.H;
const SZ_U = SZ.U;
const SZ_E = SZ.E;
const SZ_QX = SZ.QX;
const SZ_P = SZ.P;
const SZ_S = SZ.S;
const SZ_V = SZ.V;
const SZ_X = SZ.X;
const SZ_Y = SZ.Y;
const SZ_Z = SZ.Z;
const Seg_CS = Seg.CS;
const Seg_DS = Seg.DS;
const Seg_ES = Seg.ES;
const Seg_FS = Seg.FS;
const Seg_GS = Seg.GS;
const Seg_SS = Seg.SS;
const MAP_0F = tbl.MAP_0F;
const MAP_0F38 = tbl.MAP_0F38;
const MAP_0F3A = tbl.MAP_0F3A;
const MAP_ONE = tbl.MAP_ONE;
const MAP_ONE_64 = tbl.MAP_ONE_64;
const VEX_0F = tbl.VEX_0F;
const VEX_0F38 = tbl.VEX_0F38;
const VEX_0F3A = tbl.VEX_0F3A;
const VZEROALL = tbl.VZEROALL;
const X87_MEM_ENTRIES = tbl.X87_MEM_ENTRIES;
const X87_REG_ENTRIES = tbl.X87_REG_ENTRIES;
const XCHG_R_RAX = tbl.XCHG_R_RAX;

/** Prefix classes per byte value. */
const P_NONE = 0, P_SEG = 1, P_OPSIZE = 2, P_ADDR = 3, P_LOCK = 4, P_REPNE = 5, P_REP = 6, P_REX = 7;
const PREFIX_CLASS = new Uint8Array(256);
PREFIX_CLASS[0x26] = P_SEG; PREFIX_CLASS[0x2e] = P_SEG; PREFIX_CLASS[0x36] = P_SEG;
PREFIX_CLASS[0x3e] = P_SEG; PREFIX_CLASS[0x64] = P_SEG; PREFIX_CLASS[0x65] = P_SEG;
PREFIX_CLASS[0x66] = P_OPSIZE; PREFIX_CLASS[0x67] = P_ADDR; PREFIX_CLASS[0xf0] = P_LOCK;
PREFIX_CLASS[0xf2] = P_REPNE; PREFIX_CLASS[0xf3] = P_REP;
for (let i = 0x40; i < 0x50; i++) PREFIX_CLASS[i] = P_REX;
/** Segment override prefix byte → Seg. */
const SEG_OF = new Int8Array(256).fill(-1);
SEG_OF[0x26] = Seg_ES; SEG_OF[0x2e] = Seg_CS; SEG_OF[0x36] = Seg_SS;
SEG_OF[0x3e] = Seg_DS; SEG_OF[0x64] = Seg_FS; SEG_OF[0x65] = Seg_GS;

/** 16-bit ModRM r/m → base, index (SDM Vol. 2 Table 2-1). */
const RM16_BASE = [Reg_RBX, Reg_RBX, Reg_RBP, Reg_RBP, Reg_RSI, Reg_RDI, Reg_RBP, Reg_RBX];
const RM16_INDEX = [Reg_RSI, Reg_RDI, Reg_RSI, Reg_RDI, -1, -1, -1, -1];

const MAX_LEN = 15;

/**
 * Bytes are read without per-byte bounds checks: when fewer than FAST_SPAN bytes remain
 * in the caller's buffer, the available ones are copied into a zero-padded scratch
 * buffer first. No instruction reads more than 16 prefix bytes + 34 more, and running
 * past the real end is detected once, at the end, from the position reached.
 */
const FAST_SPAN = 64;
const SCRATCH = new Uint8Array(FAST_SPAN);

/**
 * The fault for a decode that stopped at `used` bytes with `f`, given `avail` real bytes:
 * reading past the buffer is Truncated (unless 16 bytes were there, which proves #GP);
 * past 15 bytes is #GP(0); else `f`.
 */
function resolveFault(f: number, used: number, avail: number): number {
  if (used > avail && avail <= MAX_LEN) return DecodeFault_Truncated;
  if (used > MAX_LEN) return DecodeFault_GeneralProtection;
  return f;
}

function resetInstruction(out: Instruction, mode: DecodeMode): void {
  out.length = 0; out.fault = DecodeFault_None; out.op = Op_INVALID; out.mode = mode;
  out.map = OpMap_OneByte; out.opcode = 0; out.prefixes = 0; out.rex = 0; out.segOverride = NOSEG;
  out.opSize = 4; out.addrSize = 8; out.vecSize = 0;
  out.hasModrm = false; out.mod = 0; out.reg = 0; out.rm = 0;
  out.hasMem = false; out.seg = Seg_DS; out.base = -1; out.index = -1; out.scale = 0;
  out.disp = 0; out.dispHi = 0; out.ripRel = false; out.sib = -1;
  out.imm = 0; out.immHi = 0; out.imm2 = 0; out.immSize = 0; out.cc = 0;
  out.vex = 0; out.vexL = 0; out.vexW = 0; out.vvvv = 0; out.pp = 0; out.mmmmm = 0;
  out.nOps = 0; out.o0 = K_None; out.o1 = K_None; out.o2 = K_None; out.o3 = K_None;
  out.s0 = 0; out.s1 = 0; out.s2 = 0; out.s3 = 0;
}

function fail(out: Instruction, f: DecodeFault, used: number, avail: number): DecodeFault {
  // Truncation / over-length found on the way take precedence: the CPU faults on fetch
  // before it can tell the encoding is undefined.
  const fault = resolveFault(f, used, avail) as DecodeFault;
  out.fault = fault;
  out.length = used < MAX_LEN ? used : MAX_LEN;
  out.op = Op_INVALID;
  return fault;
}

/**
 * Decode one instruction at `offset` in `buf` for `mode`, into `out`. Returns the fault
 * (DecodeFault_None on success; `out.length` is then the instruction length). Reads no
 * byte at or past `limit` (default: the end of `buf`).
 */
export function decodeInto(
  buf: Uint8Array, offset: number, mode: DecodeMode, out: Instruction, limit: number = buf.length,
): DecodeFault {
  const end = limit < buf.length ? limit : buf.length;
  let b = buf;
  let p = offset;
  let start = offset;
  let avail = end - offset;
  if (avail < FAST_SPAN) {
    SCRATCH.fill(0);
    for (let k = 0; k < avail; k++) SCRATCH[k] = buf[offset + k]!;
    if (avail < 0) avail = 0;
    b = SCRATCH; p = 0; start = 0;
  }
  resetInstruction(out, mode);
  const long = mode === 64;

  // ---- Legacy prefixes and REX.
  let prefixes = 0;
  let segOv = NOSEG;
  let lastRep = 0; // 0, P_REP or P_REPNE: the last of F2/F3 (mandatory-prefix selection)
  let rex = 0;
  let c = 0;
  for (;;) {
    if (p - start > MAX_LEN) return fail(out, DecodeFault_GeneralProtection, p - start, avail);
    c = b[p++]!;
    const cls = PREFIX_CLASS[c]!;
    if (cls === P_NONE) break;
    if (cls === P_REX) {
      if (!long) break; // INC/DEC outside long mode
      rex = c; // only counts if the opcode follows; cleared by a later legacy prefix
      continue;
    }
    rex = 0;
    switch (cls) {
      case P_SEG: {
        // In long mode CS/DS/ES/SS overrides are ignored (SDM Vol. 1 §3.3.7.1): they do not
        // displace an FS/GS override seen before them.
        const sg = SEG_OF[c]!;
        if (!long || sg >= Seg_FS || segOv < Seg_FS) segOv = sg;
        break;
      }
      case P_OPSIZE: prefixes |= Prefix_OPSIZE; break;
      case P_ADDR: prefixes |= Prefix_ADDRSIZE; break;
      case P_LOCK: prefixes |= Prefix_LOCK; break;
      case P_REPNE: prefixes |= Prefix_REPNE; lastRep = P_REPNE; break;
      case P_REP: prefixes |= Prefix_REP; lastRep = P_REP; break;
    }
  }
  if (rex !== 0) prefixes |= Prefix_REX;
  out.rex = rex;
  out.segOverride = segOv;

  const has66 = (prefixes & Prefix_OPSIZE) !== 0;
  const addrSize = long ? (prefixes & Prefix_ADDRSIZE ? 4 : 8)
    : mode === 32 ? (prefixes & Prefix_ADDRSIZE ? 2 : 4) : (prefixes & Prefix_ADDRSIZE ? 4 : 2);
  out.addrSize = addrSize;

  // ---- Opcode (and VEX).
  let map: OpMap = OpMap_OneByte;
  let e: Entry | null = null;
  let vex = 0;
  let vexR = 0, vexX = 0, vexB = 0, vexW = 0, vexL = 0, vvvv = 0, vvvvRaw = 0, pp = 0;
  let modrm = -1;
  let x87 = -1;
  if (c === 0x0f) {
    c = b[p++]!;
    if (c === 0x38) { map = OpMap_Map0F38; c = b[p++]!; e = MAP_0F38[c]!; }
    else if (c === 0x3a) { map = OpMap_Map0F3A; c = b[p++]!; e = MAP_0F3A[c]!; }
    else { map = OpMap_Map0F; e = MAP_0F[c]!; }
  } else if (c === 0xc4 || c === 0xc5) {
    // VEX in long mode; elsewhere only if the next byte would be an invalid LES/LDS
    // register form (mod = 11b), SDM Vol. 2 §2.3.5.
    let isVex = long;
    if (!isVex) {
      isVex = (b[p]! & 0xc0) === 0xc0; // past the end this reads 0: LES/LDS, then Truncated
    }
    if (isVex) {
      const b1 = b[p++]!;
      if (c === 0xc5) {
        vex = 2;
        vexR = (~b1 >> 7) & 1; vvvv = (~b1 >> 3) & 15; vexL = (b1 >> 2) & 1; pp = b1 & 3;
        map = OpMap_Map0F;
      } else {
        vex = 3;
        const b2 = b[p++]!;
        vexR = (~b1 >> 7) & 1; vexX = (~b1 >> 6) & 1; vexB = (~b1 >> 5) & 1;
        const mm = b1 & 31;
        vexW = (b2 >> 7) & 1; vvvv = (~b2 >> 3) & 15; vexL = (b2 >> 2) & 1; pp = b2 & 3;
        if (mm < 1 || mm > 3) {
          b[p++]!; // the opcode byte is still part of what the CPU fetched
          return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
        }
        map = mm as OpMap;
      }
      vvvvRaw = vvvv;
      if (!long) {
        // Outside long mode R and X are 1 (that is what made this VEX), B is ignored, and
        // only XMM0-7 exist: vvvv bit 3 is ignored as a register number, but still counts
        // for the "must be 1111b" rule below (as objdump reads it).
        vexR = 0; vexX = 0; vexB = 0; vvvv &= 7;
      }
      c = b[p++]!;
      out.vex = vex; out.vexL = vexL; out.vexW = vexW; out.vvvv = vvvv; out.pp = pp; out.mmmmm = map;
      prefixes |= Prefix_VEX;
      // VEX after 66/F2/F3/LOCK/REX is #UD (SDM Vol. 2 §2.3.2).
      if ((prefixes & (Prefix_OPSIZE | Prefix_REP | Prefix_REPNE | Prefix_LOCK)) !== 0 || rex !== 0) {
        return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
      }
      e = map === OpMap_Map0F ? VEX_0F[c]! : map === OpMap_Map0F38 ? VEX_0F38[c]! : VEX_0F3A[c]!;
      if (map === OpMap_Map0F && c === 0x77 && vexL) e = VZEROALL;
    } else {
      e = MAP_ONE[c]!;
    }
  } else if (c >= 0xd8 && c <= 0xdf) {
    x87 = c - 0xd8;
  } else {
    e = long ? MAP_ONE_64[c]! : MAP_ONE[c]!;
    // REX.B 90 is XCHG r8, rAX; F3 90 stays PAUSE (as objdump reads it).
    if (c === 0x90 && (rex & 1) && lastRep !== P_REP) e = XCHG_R_RAX;
  }
  out.map = map;
  out.opcode = c;
  out.prefixes = prefixes;

  if (x87 >= 0) {
    modrm = b[p++]!;
    const reg = (modrm >> 3) & 7;
    e = (modrm >> 6) === 3 ? X87_REG_ENTRIES[x87]![reg]! : X87_MEM_ENTRIES[x87]![reg]!;
  }

  // ---- Resolve composite entries to a leaf.
  let used66 = false;
  while (e !== null && e.kind !== EK_Leaf) {
    switch (e.kind) {
      case EK_MandatoryPrefix: {
        let idx: number;
        if (vex) idx = pp;
        else if (lastRep === P_REP) idx = 2;
        else if (lastRep === P_REPNE) idx = 3;
        else if (has66) { idx = 1; used66 = true; }
        else idx = 0;
        e = e.sub[idx]!;
        break;
      }
      case EK_RepPrefix:
        e = e.sub[lastRep === P_REP ? 1 : lastRep === P_REPNE ? 2 : 0]!;
        break;
      case EK_RexW:
        e = e.sub[long && (vex ? vexW : rex & 8) ? 1 : 0]!;
        break;
      case EK_VexW:
        e = e.sub[vexW]!;
        break;
      default: // Group, ModSplit, Rm: need the ModRM byte
        if (modrm < 0) {
          modrm = b[p++]!;
        }
        if (e.kind === EK_Group) e = e.sub[(modrm >> 3) & 7]!;
        else if (e.kind === EK_ModSplit) e = e.sub[(modrm >> 6) === 3 ? 1 : 0]!;
        else e = e.sub[modrm & 7]!;
    }
  }
  if (e === null) return fail(out, DecodeFault_InvalidOpcode, p - start, avail); // undefined encoding
  const flags = e.flags;
  if ((flags & F_I64) && long) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
  if ((flags & F_O64) && !long) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
  if (vex) {
    if ((flags & F_VL0) && vexL) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
    if ((flags & F_L1) && !vexL) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
    if ((flags & F_W0) && vexW) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
    if ((flags & F_W1) && !vexW) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
  }
  // VEX.vvvv must be 1111b (0 here) when no operand uses it (SDM Vol. 2 §2.3.6).
  if (vex && vvvvRaw !== 0 && (flags & F_USES_VVVV) === 0) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);

  // ---- Operand size.
  const rexW = long && (rex & 8) !== 0;
  const wide = vex ? (long && vexW === 1) : rexW;
  let opSize: number;
  if (long) {
    if (flags & F_F64) opSize = 8;
    else if (wide) opSize = 8;
    else if (has66 && !used66) opSize = 2;
    else opSize = flags & F_D64 ? 8 : 4;
  } else {
    opSize = mode === 32 ? 4 : 2;
    if (has66 && !used66) opSize = opSize === 4 ? 2 : 4;
  }
  const vecSize = vex && vexL ? 32 : 16;
  out.opSize = opSize;
  if (flags & (F_V2 | F_V3 | F_VEX)) out.vecSize = vecSize;

  // ---- ModRM, SIB, displacement.
  if ((flags & F_MODRM) !== 0 && modrm < 0) {
    modrm = b[p++]!;
  }
  const rexR = vex ? vexR : (rex >> 2) & 1;
  const rexX = vex ? vexX : (rex >> 1) & 1;
  const rexB = vex ? vexB : rex & 1;
  if (modrm >= 0) {
    const mod = modrm >> 6;
    out.hasModrm = true;
    out.mod = mod;
    out.reg = ((modrm >> 3) & 7) | (rexR << 3);
    out.rm = (modrm & 7) | (rexB << 3);
    if (mod !== 3 && (flags & F_MOD_IGNORED) === 0) {
      if (flags & F_REG_ONLY) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
      out.hasMem = true;
      const rm = modrm & 7;
      if (addrSize === 2) {
        if (mod === 0 && rm === 6) {
          out.disp = (b[p++]! | (b[p++]! << 8)) << 16 >> 16;
        } else {
          out.base = RM16_BASE[rm]!;
          out.index = RM16_INDEX[rm]!;
          if (mod === 1) out.disp = (b[p++]! << 24) >> 24;
          else if (mod === 2) out.disp = (b[p++]! | (b[p++]! << 8)) << 16 >> 16;
          if (out.base === Reg_RBP) out.seg = Seg_SS;
        }
      } else {
        let base = rm;
        if (rm === 4) {
          const sib = b[p++]!;
          out.sib = sib;
          out.scale = sib >> 6;
          const idx = ((sib >> 3) & 7) | (rexX << 3);
          out.index = idx === 4 ? -1 : idx;
          base = sib & 7;
          if (base === 5 && mod === 0) {
            out.base = -1;
            out.disp = b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24);
          } else {
            out.base = base | (rexB << 3);
          }
        } else if (rm === 5 && mod === 0) {
          out.disp = b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24);
          if (long) { out.base = Reg_RIP; out.ripRel = true; } else out.base = -1;
        } else {
          out.base = base | (rexB << 3);
        }
        if (mod === 1) out.disp = (b[p++]! << 24) >> 24;
        else if (mod === 2) out.disp = b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24);
        if (out.base === Reg_RSP || out.base === Reg_RBP) out.seg = Seg_SS;
      }
      out.dispHi = out.disp >> 31;
    } else if (flags & F_MEM_ONLY) {
      return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
    }
  }
  if (segOv !== NOSEG) out.seg = segOv;

  // ---- Operands and immediates.
  const nOps = e.nOps;
  let immCount = 0;
  for (let i = 0; i < nOps; i++) {
    const kind = e.k[i]!;
    const ik = e.ik[i]!;
    const rsCode = e.rs[i]!;
    const msCode = e.ms[i]!;
    const code = out.hasMem && (kind === K_Rm || kind === K_XmmRm || kind === K_MmxRm || kind === K_Mem) ? msCode : rsCode;
    let size: number;
    switch (code) {
      case SZ_V: size = opSize; break;
      case SZ_Z: size = opSize === 2 ? 2 : 4; break;
      case SZ_Y: size = opSize === 8 ? 8 : 4; break;
      case SZ_X: size = vecSize; break;
      case SZ_P: size = 2 + opSize; break;
      case SZ_S: size = long ? 10 : 6; break;
      case SZ_A: size = 2 * opSize; break;
      case SZ_H: size = vecSize >> 1; break;
      case SZ_U: size = vecSize >> 2; break;
      case SZ_E: size = vecSize >> 3; break;
      case SZ_QX: size = vecSize === 32 ? 32 : 8; break;
      default: size = code;
    }
    let k = kind;
    if (ik !== IK_None) {
      let v = 0, hi = 0, n = 0;
      switch (ik) {
        case IK_Ib: v = b[p++]!; n = 1; break;
        case IK_Ibs: case IK_Jb: v = (b[p++]! << 24) >> 24; n = 1; break;
        case IK_Iw: v = b[p++]! | (b[p++]! << 8); n = 2; break;
        case IK_Iz: case IK_Jz:
          if (opSize === 2) {
            v = b[p++]! | (b[p++]! << 8); n = 2;
            if (ik === IK_Jz) v = (v << 16) >> 16;
          } else { v = b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24); n = 4; }
          break;
        case IK_Iv:
          if (opSize === 2) { v = b[p++]! | (b[p++]! << 8); n = 2; }
          else {
            v = b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24); n = 4;
            if (opSize === 8) { hi = b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24); n = 8; }
          }
          break;
        case IK_Ap: {
          if (opSize === 2) v = b[p++]! | (b[p++]! << 8);
          else v = b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24);
          out.imm2 = b[p++]! | (b[p++]! << 8);
          n = opSize === 2 ? 2 : 4;
          break;
        }
        case IK_O: {
          // moffs: an absolute address of address-size width, no ModRM.
          out.hasMem = true;
          out.seg = segOv !== NOSEG ? segOv : Seg_DS;
          if (addrSize === 2) { out.disp = b[p++]! | (b[p++]! << 8); out.dispHi = 0; }
          else {
            out.disp = b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24);
            out.dispHi = addrSize === 8 ? b[p++]! | (b[p++]! << 8) | (b[p++]! << 16) | (b[p++]! << 24) : 0;
          }
          break;
        }
      }
      if (ik !== IK_O) {
        if (immCount === 0 || ik === IK_Ap) {
          out.imm = v | 0;
          out.immHi = ik === IK_Iv && opSize === 8 ? hi | 0 : (v | 0) >> 31;
          out.immSize = n;
        } else {
          out.imm2 = v;
        }
        if (ik !== IK_Ap && immCount++ > 0) k = K_Imm2;
      }
    }
    switch (i) {
      case 0: out.o0 = k; out.s0 = size; break;
      case 1: out.o1 = k; out.s1 = size; break;
      case 2: out.o2 = k; out.s2 = size; break;
      default: out.o3 = k; out.s3 = size;
    }
    // Register numbering fix-ups.
    if (kind === K_Rm && modrm < 0) {
      // Opcode-register form (50+r, B8+r, ...): normalise to a register r/m.
      out.rm = (c & 7) | (rexB << 3);
      out.mod = 3;
    } else if (kind === K_Seg) {
      if (e.fixed[i]! >= 0) out.reg = e.fixed[i]!;
      else {
        const s = (modrm >> 3) & 7;
        // MOV Sreg: 6 and 7 are reserved; loading CS with MOV is #UD (SDM MOV).
        if (s > 5 || (i === 0 && s === Seg_CS && e.op === Op_MOV)) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
        out.reg = s;
      }
    } else if (kind === K_Cr) {
      const r = out.reg;
      if (r !== 0 && r !== 2 && r !== 3 && r !== 4 && r !== 8) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
    } else if (kind === K_Dr) {
      if (out.reg > 7) return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
    } else if (kind === K_Mmx) {
      out.reg &= 7;
    } else if (kind === K_MmxRm && !out.hasMem) {
      out.rm &= 7;
    } else if (kind === K_Sti) {
      out.rm = modrm & 7;
    }
    if (size === 1 && rex === 0 && !vex) {
      if (kind === K_Reg && out.reg >= 4 && out.reg < 8) out.reg += HIGH_BYTE;
      else if (kind === K_Rm && !out.hasMem && out.rm >= 4 && out.rm < 8) out.rm += HIGH_BYTE;
    }
  }
  out.nOps = nOps;

  // ---- LOCK: only lockable instructions with a memory destination (SDM Vol. 2 LOCK).
  if ((prefixes & Prefix_LOCK) !== 0 && ((flags & F_LOCK) === 0 || !out.hasMem)) {
    return fail(out, DecodeFault_InvalidOpcode, p - start, avail);
  }

  // ---- Per-instruction details.
  const op = e.op;
  if (flags & F_CC) out.cc = c & 15;
  if (op === Op_FCMOVcc) out.cc = (x87 === 3 ? 4 : 0) + ((modrm >> 3) & 3);
  const used = p - start;
  if (used > avail || used > MAX_LEN) return fail(out, DecodeFault_None, used, avail);
  out.op = op;
  out.length = used;
  return DecodeFault_None;
}

/** Decode one instruction into a new Instruction (convenience; allocates). */
export function decode(buf: Uint8Array, offset: number, mode: DecodeMode, limit?: number): Instruction {
  const out = new Instruction();
  decodeInto(buf, offset, mode, out, limit);
  return out;
}
