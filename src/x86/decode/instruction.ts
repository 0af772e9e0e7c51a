/**
 * The decoded x86 instruction: the contract between the decoder (src/x86/decode) and
 * the executor (src/x86/exec).
 *
 * CHANGES (keep this list; additive changes only once the executor builds on it):
 *   - initial version.
 *   - added OperandKind.Xmm0; Instruction.sib (raw SIB byte or -1; for formatting only).
 *   - added OperandKind.XmmIs4; Op.WBNOINVD, XABORT, XBEGIN, XEND, XTEST, PREFETCHWT1.
 *
 * Shape
 * -----
 * `Instruction` is a flat class of small integers, so `decodeInto()` can fill a
 * pre-allocated object without allocating, and a decoded-block cache can keep an array
 * of them. Nothing in it depends on where the bytes came from (no addresses, no RIP):
 * a cached Instruction is valid wherever the same bytes are executed in the same mode.
 *
 *   op            what to do: an `Op` (mnemonic or family). Families are resolved by
 *                 other fields: Jcc/SETcc/CMOVcc/FCMOVcc by `cc`; string ops (MOVS,
 *                 STOS, ...) and width-named ops (CBW = cbw/cwde/cdqe, CWD = cwd/cdq/cqo,
 *                 IRET = iret/iretd/iretq) by `opSize`.
 *   length        1..15 bytes. When `fault` is not None it is the number of bytes examined
 *                 before the decoder gave up (informational only).
 *   fault         DecodeFault: None, InvalidOpcode (#UD, vector 6), GeneralProtection
 *                 (#GP(0), vector 13: longer than 15 bytes, SDM Vol. 2 §2.3.11), or
 *                 Truncated (the buffer ended before the instruction did: fetch more bytes
 *                 and decode again; not an architectural fault).
 *   operands      up to 4, in Intel order (destination first): kind `o0..o3`
 *                 (OperandKind), size in bytes `s0..s3`, count `nOps`. The kind says which
 *                 field holds the operand:
 *                   Reg  GPR number in `reg`          Rm   GPR `rm` if !hasMem, else memory
 *                   Mem  memory only (lea, lgdt, moffs, cmpxchg8b, ...)
 *                   Imm  `imm`/`immHi`   Imm2 `imm2`  Rel  branch displacement in `imm`
 *                   Far  selector `imm2` : offset `imm` (jmp/call ptr16:16/32)
 *                   Acc  AL/AX/EAX/RAX   Cl  CL   Dx  DX (port)   One  the constant 1
 *                   Seg  segment register `reg` (Seg enum)   Cr/Dr  CRn/DRn number `reg`
 *                   Xmm  XMM/YMM `reg`   XmmRm  XMM/YMM `rm` or memory   XmmV  XMM/YMM `vvvv`
 *                   Mmx  MMn `reg`       MmxRm  MMn `rm` or memory
 *                   GprV GPR `vvvv` (BMI forms)   St0  ST(0)   Sti  ST(`rm`)
 *                   StrSrc  [seg:rSI] (seg override applies)  StrDst  ES:[rDI]
 *                   Xmm0 implicit XMM0 (blendv*, sha256rnds2)
 *                   XmmIs4  XMM/YMM number (imm >> 4) & 15 (VEX vblendv*: the imm8 is the register)
 *                 Opcode-register forms (50+r push, B8+r mov, 90+r xchg, 0FC8+r bswap...)
 *                 are normalised to Rm with hasMem=false and `rm` = the register, so the
 *                 executor treats `push r` and `push r/m` (FF /6) the same.
 *   GPR numbers   0..15 = rAX..r15 at the operand's size. For byte operands without a
 *                 REX prefix, 4..7 mean AH/CH/DH/BH: the decoder reports those as
 *                 HIGH_BYTE_BASE + n (20..23 = AH, CH, DH, BH), so `r & 3` is the
 *                 containing register and `r >= 16` means "bits 15:8".
 *   memory        hasMem, then effective address = base + (index << scale) + disp,
 *                 truncated to `addrSize` bytes. base: -1 none, 0..15 GPR, RIP (16) for
 *                 RIP-relative (add the address of the NEXT instruction; `ripRel` is the
 *                 same fact as a boolean). index: -1 none, 0..15. scale: shift 0..3.
 *                 disp: sign-extended to a signed 32-bit number; `dispHi` is its upper 32
 *                 bits (disp >> 31 except for 64-bit moffs, A0-A3 in long mode, where
 *                 dispHi:disp is the full 64-bit address). 16-bit forms use the SDM table
 *                 (Vol. 2 Table 2-1): [bx+si] is base 3, index 6, scale 0.
 *                 `seg` is the effective segment (override, else SS for rBP/rSP-based forms,
 *                 else DS); `segOverride` is the prefix seen (-1 none). In long mode only
 *                 FS/GS bases matter; the decoder still reports what was encoded.
 *   immediates    `imm` is a signed 32-bit number: immediates the SDM sign-extends (imm8 of
 *                 83/6B/6A, Jcc rel8, imm32 of 64-bit ops) are sign-extended; immediates
 *                 that are unsigned by definition (port numbers, INT n, ENTER sizes,
 *                 RET imm16, shift/rotate/BT counts, SSE imm8 controls, imm8/16 of 8/16-bit
 *                 ops) are zero-extended. `immHi` is the upper 32 bits so that
 *                 (immHi:imm) is always the 64-bit value: imm >> 31 for all forms except
 *                 `mov r64, imm64` (REX.W B8+r), whose high half is really encoded.
 *                 `imm2` is the second immediate: ENTER's nesting level, the far-pointer
 *                 selector. `immSize` is the encoded size of `imm` (0 if none).
 *   sizes         opSize: operand-size attribute (1/2/4/8) after 66/REX.W/defaults.
 *                 addrSize: 2/4/8 after 67. vecSize: 16 (XMM) or 32 (VEX.L=1, YMM) for
 *                 vector ops, else 0. Per-operand sizes are s0..s3.
 *   prefixes      bit set of Prefix.* (LOCK, REP = F3, REPNE = F2, OPSIZE = 66,
 *                 ADDRSIZE = 67, REX, VEX). For SSE instructions the mandatory prefix has
 *                 been consumed into `op`; it still shows in `prefixes` (and `pp`).
 *   ModRM         hasModrm, mod, reg (REX.R applied), rm (REX.B applied; meaningful when
 *                 !hasMem). For group opcodes `reg` is the /digit extension.
 *   cc            condition code 0..15 (SDM Vol. 1 App. B) for Jcc, SETcc, CMOVcc, and
 *                 for FCMOVcc the x87 condition (B, E, BE, U, NB, NE, NBE, NU = 0..7).
 *   VEX           vex: 0 none, 2 or 3 (prefix length); vexL, vexW, vvvv (already
 *                 un-inverted, 0..15), pp (0 none, 1=66, 2=F3, 3=F2), mmmmm (1 0F, 2 0F38,
 *                 3 0F3A).
 *   encoding      map (OpMap), opcode (the last opcode byte), rex (0 or the REX byte).
 *
 * The numeric values of `Op` are not stable across versions: use the names.
 * The numeric values of `OperandKind` ARE stable (the executor mirrors them as constants):
 * new kinds are only ever appended.
 * Op.SAL is never produced: C0-D3 /6 (the SAL alias) decodes as SHL, as /4 does.
 */

/** Why decoding stopped without an instruction. Values are exception vectors where one applies. */
export enum DecodeFault {
  None = 0,
  /** #UD: undefined/invalid encoding in this mode, bad LOCK, register form where memory is required. */
  InvalidOpcode = 6,
  /** #GP(0): instruction longer than 15 bytes (SDM Vol. 2 §2.3.11). */
  GeneralProtection = 13,
  /** Ran out of bytes in the supplied buffer: fetch more (e.g. across a page) and retry. */
  Truncated = 256,
}

/** Decoding mode: the default operand/address size of the code segment (16, 32) or long mode (64). */
export type DecodeMode = 16 | 32 | 64;

/** Opcode maps (the escape sequence before the final opcode byte). */
export enum OpMap {
  OneByte = 0,
  Map0F = 1,
  Map0F38 = 2,
  Map0F3A = 3,
}

/** Operand kinds. Values are stable: append only (src/x86/exec mirrors them as numbers). */
export enum OperandKind {
  None = 0,
  Reg,
  Rm,
  Mem,
  Imm,
  Imm2,
  Rel,
  Far,
  Acc,
  Cl,
  Dx,
  One,
  Seg,
  Cr,
  Dr,
  Xmm,
  XmmRm,
  XmmV,
  Mmx,
  MmxRm,
  GprV,
  St0,
  Sti,
  StrSrc,
  StrDst,
  /** XMM0, implicit third operand of (non-VEX) blendvps/blendvpd/pblendvb/sha256rnds2. */
  Xmm0,
  /** XMM/YMM register numbered by imm8[7:4] (`imm >> 4`; VEX 4-operand blends). */
  XmmIs4,
}

/** Segment registers in SDM encoding order (Sreg field of ModRM). */
export enum Seg {
  ES = 0,
  CS = 1,
  SS = 2,
  DS = 3,
  FS = 4,
  GS = 5,
}

/** Prefix bits in Instruction.prefixes. */
export const Prefix = {
  LOCK: 1,
  REP: 2, // F3 (REP/REPE; also a mandatory prefix for SSE)
  REPNE: 4, // F2
  OPSIZE: 8, // 66
  ADDRSIZE: 16, // 67
  REX: 32,
  VEX: 64,
} as const;

/** Register numbers. */
export const Reg = {
  RAX: 0, RCX: 1, RDX: 2, RBX: 3, RSP: 4, RBP: 5, RSI: 6, RDI: 7,
  R8: 8, R9: 9, R10: 10, R11: 11, R12: 12, R13: 13, R14: 14, R15: 15,
  /** Memory base meaning "RIP-relative". */
  RIP: 16,
  AH: 20, CH: 21, DH: 22, BH: 23,
} as const;
export const HIGH_BYTE_BASE = 16;

/**
 * Mnemonics and families. One Op per distinct operation; width variants share an Op and
 * are told apart by opSize (see the file comment).
 */
export enum Op {
  INVALID = 0,
  // --- integer arithmetic / logic
  ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG, NOT,
  MUL, IMUL, DIV, IDIV,
  ROL, ROR, RCL, RCR, SHL, SHR, SAL, SAR, SHLD, SHRD,
  DAA, DAS, AAA, AAS, AAM, AAD,
  BT, BTS, BTR, BTC, BSF, BSR, POPCNT, LZCNT, TZCNT,
  XADD, XCHG, CMPXCHG, CMPXCHG8B, CMPXCHG16B, BSWAP, MOVBE, CRC32,
  ANDN, BEXTR, BLSI, BLSMSK, BLSR, BZHI, PDEP, PEXT, RORX, SARX, SHLX, SHRX, MULX, ADCX, ADOX,
  // --- data movement
  MOV, MOVZX, MOVSX, MOVSXD, LEA, CBW, CWD, CMOVcc, SETcc, PUSH, POP, PUSHA, POPA,
  PUSHF, POPF, LAHF, SAHF, XLAT, ENTER, LEAVE, BOUND, ARPL, LDS, LES, LFS, LGS, LSS,
  MOVNTI, SALC,
  // --- control flow
  JMP, JMPF, CALL, CALLF, RET, RETF, Jcc, JCXZ, LOOP, LOOPE, LOOPNE, INT, INT3, INT1, INTO, IRET,
  // --- string
  MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS,
  // --- flags
  CLC, STC, CMC, CLD, STD, CLI, STI,
  // --- system
  HLT, NOP, PAUSE, UD0, UD1, UD2, CPUID, RDTSC, RDTSCP, RDPMC, RDMSR, WRMSR, IN, OUT,
  SYSCALL, SYSRET, SYSENTER, SYSEXIT, SWAPGS, CLTS, INVD, WBINVD, WBNOINVD, INVLPG, INVPCID,
  LGDT, LIDT, SGDT, SIDT, LLDT, SLDT, LTR, STR, LMSW, SMSW, LAR, LSL, VERR, VERW,
  MOV_CR, MOV_DR, XGETBV, XSETBV, MONITOR, MWAIT, CLAC, STAC, VMCALL, VMMCALL, RDPID,
  XSAVE, XRSTOR, XSAVEOPT, XSAVEC, XSAVES, XRSTORS, FXSAVE, FXRSTOR, LDMXCSR, STMXCSR,
  CLFLUSH, CLFLUSHOPT, CLWB, LFENCE, MFENCE, SFENCE, PREFETCH, PREFETCHW, PREFETCHWT1, PREFETCHNTA,
  PREFETCHT0, PREFETCHT1, PREFETCHT2, RDRAND, RDSEED, RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE,
  EMMS, ENDBR64, ENDBR32, RSM, WAIT, XABORT, XBEGIN, XEND, XTEST,
  // --- SSE/SSE2/SSE3/SSSE3/SSE4 (and their VEX forms: same Op, vex != 0)
  MOVUPS, MOVUPD, MOVSS, MOVSD_X, MOVLPS, MOVLPD, MOVHLPS, MOVLHPS, MOVHPS, MOVHPD,
  MOVSLDUP, MOVSHDUP, MOVDDUP, UNPCKLPS, UNPCKLPD, UNPCKHPS, UNPCKHPD,
  MOVAPS, MOVAPD, MOVNTPS, MOVNTPD, MOVNTDQ, MOVNTDQA, MOVNTQ, MASKMOVQ, MASKMOVDQU,
  CVTPI2PS, CVTPI2PD, CVTSI2SS, CVTSI2SD, CVTTPS2PI, CVTTPD2PI, CVTTSS2SI, CVTTSD2SI,
  CVTPS2PI, CVTPD2PI, CVTSS2SI, CVTSD2SI, UCOMISS, UCOMISD, COMISS, COMISD,
  MOVMSKPS, MOVMSKPD, SQRTPS, SQRTPD, SQRTSS, SQRTSD, RSQRTPS, RSQRTSS, RCPPS, RCPSS,
  ANDPS, ANDPD, ANDNPS, ANDNPD, ORPS, ORPD, XORPS, XORPD,
  ADDPS, ADDPD, ADDSS, ADDSD, MULPS, MULPD, MULSS, MULSD,
  CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS, CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ,
  SUBPS, SUBPD, SUBSS, SUBSD, MINPS, MINPD, MINSS, MINSD, DIVPS, DIVPD, DIVSS, DIVSD,
  MAXPS, MAXPD, MAXSS, MAXSD, CMPPS, CMPPD, CMPSS, CMPSD_X, SHUFPS, SHUFPD,
  ADDSUBPS, ADDSUBPD, HADDPS, HADDPD, HSUBPS, HSUBPD, LDDQU,
  CVTDQ2PD, CVTTPD2DQ, CVTPD2DQ,
  PUNPCKLBW, PUNPCKLWD, PUNPCKLDQ, PACKSSWB, PCMPGTB, PCMPGTW, PCMPGTD, PACKUSWB,
  PUNPCKHBW, PUNPCKHWD, PUNPCKHDQ, PACKSSDW, PUNPCKLQDQ, PUNPCKHQDQ,
  MOVD, MOVQ, MOVDQA, MOVDQU, MOVQ2DQ, MOVDQ2Q,
  PSHUFW, PSHUFD, PSHUFHW, PSHUFLW, PCMPEQB, PCMPEQW, PCMPEQD,
  PSRLW, PSRAW, PSLLW, PSRLD, PSRAD, PSLLD, PSRLQ, PSRLDQ, PSLLQ, PSLLDQ,
  PINSRW, PEXTRW, PADDQ, PMULLW, PMOVMSKB, PSUBUSB, PSUBUSW, PMINUB, PAND, PADDUSB, PADDUSW,
  PMAXUB, PANDN, PAVGB, PAVGW, PMULHUW, PMULHW, PSUBSB, PSUBSW, PMINSW, POR,
  PADDSB, PADDSW, PMAXSW, PXOR, PMULUDQ, PMADDWD, PSADBW, PSUBB, PSUBW, PSUBD, PSUBQ,
  PADDB, PADDW, PADDD,
  // SSSE3 / SSE4.1 / SSE4.2 (0F38 / 0F3A)
  PSHUFB, PHADDW, PHADDD, PHADDSW, PMADDUBSW, PHSUBW, PHSUBD, PHSUBSW, PSIGNB, PSIGNW,
  PSIGND, PMULHRSW, PABSB, PABSW, PABSD, PALIGNR,
  PBLENDVB, BLENDVPS, BLENDVPD, PTEST, PMOVSXBW, PMOVSXBD, PMOVSXBQ, PMOVSXWD, PMOVSXWQ,
  PMOVSXDQ, PMULDQ, PCMPEQQ, PACKUSDW, PMOVZXBW, PMOVZXBD, PMOVZXBQ, PMOVZXWD, PMOVZXWQ,
  PMOVZXDQ, PCMPGTQ, PMINSB, PMINSD, PMINUW, PMINUD, PMAXSB, PMAXSD, PMAXUW, PMAXUD,
  PMULLD, PHMINPOSUW, ROUNDPS, ROUNDPD, ROUNDSS, ROUNDSD, BLENDPS, BLENDPD, PBLENDW,
  PEXTRB, PEXTRD, PEXTRQ, EXTRACTPS, PINSRB, INSERTPS, PINSRD, PINSRQ, DPPS, DPPD,
  MPSADBW, PCLMULQDQ, PCMPESTRM, PCMPESTRI, PCMPISTRM, PCMPISTRI,
  AESIMC, AESENC, AESENCLAST, AESDEC, AESDECLAST, AESKEYGENASSIST,
  SHA1RNDS4, SHA1NEXTE, SHA1MSG1, SHA1MSG2, SHA256RNDS2, SHA256MSG1, SHA256MSG2,
  // AVX-only forms
  VZEROUPPER, VZEROALL, VBROADCASTSS, VBROADCASTSD, VBROADCASTF128, VPBROADCASTB,
  VPBROADCASTW, VPBROADCASTD, VPBROADCASTQ, VBROADCASTI128, VINSERTF128, VEXTRACTF128,
  VINSERTI128, VEXTRACTI128, VPERM2F128, VPERM2I128, VPERMQ, VPERMPD, VPERMD, VPERMPS,
  VPERMILPS, VPERMILPD, VPBLENDD, VPSLLVD, VPSLLVQ, VPSRLVD, VPSRLVQ, VPSRAVD,
  VMASKMOVPS, VMASKMOVPD, VPMASKMOVD, VPMASKMOVQ, VTESTPS, VTESTPD, VCVTPH2PS, VCVTPS2PH,
  VBLENDVPS, VBLENDVPD, VPBLENDVB,
  // --- MMX-only / 3DNow-free leftovers
  // --- x87
  FADD, FMUL, FCOM, FCOMP, FSUB, FSUBR, FDIV, FDIVR, FLD, FST, FSTP, FLDENV, FLDCW,
  FNSTENV, FNSTCW, FXCH, FNOP, FCHS, FABS, FTST, FXAM, FLD1, FLDL2T, FLDL2E, FLDPI,
  FLDLG2, FLDLN2, FLDZ, F2XM1, FYL2X, FPTAN, FPATAN, FXTRACT, FPREM1, FDECSTP, FINCSTP,
  FPREM, FYL2XP1, FSQRT, FSINCOS, FRNDINT, FSCALE, FSIN, FCOS,
  FIADD, FIMUL, FICOM, FICOMP, FISUB, FISUBR, FIDIV, FIDIVR, FCMOVcc, FUCOMPP,
  FILD, FISTTP, FIST, FISTP, FNCLEX, FNINIT, FUCOMI, FCOMI, FFREE, FUCOM, FUCOMP,
  FRSTOR, FNSAVE, FNSTSW, FADDP, FMULP, FCOMPP, FSUBRP, FSUBP, FDIVRP, FDIVP,
  FBLD, FBSTP, FUCOMIP, FCOMIP, FNENI, FNDISI, FNSETPM, FFREEP,
}

/** Segment override "none". */
export const NO_SEG = -1;

export class Instruction {
  // Outcome
  length = 0;
  fault: DecodeFault = DecodeFault.None;
  op: Op = Op.INVALID;
  mode: DecodeMode = 64;
  // Encoding
  map: OpMap = OpMap.OneByte;
  opcode = 0;
  prefixes = 0;
  rex = 0;
  segOverride = NO_SEG;
  // Sizes
  opSize = 4;
  addrSize = 8;
  vecSize = 0;
  // ModRM
  hasModrm = false;
  mod = 0;
  reg = 0;
  rm = 0;
  // Memory operand
  hasMem = false;
  seg: number = Seg.DS;
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  dispHi = 0;
  ripRel = false;
  /** The raw SIB byte, or -1 (only the formatter needs it: objdump prints riz for index 100b). */
  sib = -1;
  // Immediates
  imm = 0;
  immHi = 0;
  imm2 = 0;
  immSize = 0;
  // Condition code
  cc = 0;
  // VEX
  vex = 0;
  vexL = 0;
  vexW = 0;
  vvvv = 0;
  pp = 0;
  mmmmm = 0;
  // Operands (Intel order)
  nOps = 0;
  o0: OperandKind = OperandKind.None;
  o1: OperandKind = OperandKind.None;
  o2: OperandKind = OperandKind.None;
  o3: OperandKind = OperandKind.None;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;

  /** Operand kind by index (0..3); convenience for non-hot paths. */
  kindOf(i: number): OperandKind {
    return i === 0 ? this.o0 : i === 1 ? this.o1 : i === 2 ? this.o2 : i === 3 ? this.o3 : OperandKind.None;
  }

  /** Operand size in bytes by index (0..3). */
  sizeOf(i: number): number {
    return i === 0 ? this.s0 : i === 1 ? this.s1 : i === 2 ? this.s2 : i === 3 ? this.s3 : 0;
  }

  /** Copy every field from another instruction (for caches that reuse slots). */
  copyFrom(o: Instruction): void {
    Object.assign(this, o);
  }
}
