/**
 * The x86 opcode maps as compact text specs, in the notation of the Intel SDM Vol. 2
 * Appendix A ("Opcode Map"): `MNEMONIC operand,operand flags`. `opcode-table.ts` parses
 * these once at module load into numeric entries; nothing here runs per decode.
 *
 * Operand codes (SDM A.2.1/A.2.2, plus a few of our own):
 *   E  ModRM r/m, GPR or memory          G  ModRM reg, GPR          M  ModRM r/m, memory only
 *   R  ModRM r/m, GPR only (mod ignored: MOV CR/DR)                  Z  low 3 opcode bits (+REX.B)
 *   I  immediate (Ib zero-extended; Ibs sign-extended to the operand size; Iw; Iz 16/32;
 *      Iv 16/32/64)                      J  relative branch (Jb, Jz)  O  moffs   A  far pointer
 *   S  segment register (reg)            C  control register        D  debug register
 *   V  XMM (reg)   W  XMM or memory (r/m)   U  XMM (r/m, register only)   H  XMM (VEX.vvvv)
 *   L  XMM named by imm8[7:4] (VEX 4-operand blends)
 *   P  MMX (reg)   Q  MMX or memory (r/m)   N  MMX (r/m, register only)   B  GPR (VEX.vvvv)
 *   X  DS:rSI      Y  ES:rDI
 *   fixed: AL, rAX (AX/EAX/RAX by operand size), eAX (AX/EAX), CL, DX, 1, ST, STi,
 *          ES CS SS DS FS GS, XMM0
 *   `Rd/Mb`-style pairs give the register size and memory size of one r/m operand.
 * Size codes: b w d q (1 2 4 8), dq 16, t 10 (x87), v operand size, z 16/32 (imm),
 *   y 32/64, x 16/32 by VEX.L (ps, pd are x), h/u/e = x/2, x/4, x/8 (widening sources),
 *   qx 8 (XMM) or 32 (YMM),
 *   ss 4, sd 8, p far pointer (2+v),
 *   s pseudo-descriptor (6, or 10 in long mode), a BOUND pair (2v), 0 no size (lea, fxsave).
 * Flags:
 *   L    LOCK allowed (with a memory destination)       i64  invalid in 64-bit mode
 *   o64  valid only in 64-bit mode                      d64  operand size defaults to 64 in long mode
 *   f64  operand size forced to 64 in long mode (Intel 64: 66 ignored on near branches)
 *   cc   condition code = low nibble of the opcode      rep  string instruction (REP prefixes meaningful)
 *   v3   has a VEX form with an extra VEX.vvvv source (NDS): V,W -> V,H,W
 *   v2   has a VEX form with the same operands (VEX.vvvv must be 1111b)
 *   vl0  VEX form only with VEX.L = 0 (scalar / 128-bit only)
 *   w64  REX.W selects the 64-bit form: appends nothing but sets opSize 8 (fxsave64, ...)
 *
 * Composite entries:
 *   `@name`             a ModRM.reg group (GROUPS[name], 8 specs by reg)
 *   `mp:a|b|c|d`        mandatory prefix: none | 66 | F3 | F2 (SSE; 66 then is not operand size)
 *   `rp:a|c|d`          REP-selected: none | F3 | F2 (66 stays operand size: popcnt, tzcnt, crc32)
 *   `mod:mem;reg`       different instruction for memory and register forms
 *   `rm:s0|s1|...|s7`   by ModRM.rm (register forms of 0F 01 and x87)
 *   `w:w0;w1`           by REX.W / VEX.W in long mode (movd/movq, pextrd/pextrq, cmpxchg8b/16b)
 *   `vw:w0;w1`          by VEX.W in any mode (vpsrlvd/vpsrlvq, vpmaskmovd/q)
 *   empty string        undefined: #UD
 */

const ALU = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];

function aluRow(m: string): string[] {
  const l = m === 'CMP' ? '' : ' L';
  return [`${m} Eb,Gb${l}`, `${m} Ev,Gv${l}`, `${m} Gb,Eb`, `${m} Gv,Ev`, `${m} AL,Ib`, `${m} rAX,Iz`];
}

function build1(): string[] {
  const t: string[] = new Array(256).fill('');
  for (let i = 0; i < 8; i++) {
    const row = aluRow(ALU[i]!);
    for (let j = 0; j < 6; j++) t[i * 8 + j] = row[j]!;
  }
  t[0x06] = 'PUSH ES i64'; t[0x07] = 'POP ES i64';
  t[0x0e] = 'PUSH CS i64';
  t[0x16] = 'PUSH SS i64'; t[0x17] = 'POP SS i64';
  t[0x1e] = 'PUSH DS i64'; t[0x1f] = 'POP DS i64';
  t[0x27] = 'DAA i64'; t[0x2f] = 'DAS i64'; t[0x37] = 'AAA i64'; t[0x3f] = 'AAS i64';
  for (let r = 0; r < 8; r++) {
    t[0x40 + r] = 'INC Zv i64';
    t[0x48 + r] = 'DEC Zv i64';
    t[0x50 + r] = 'PUSH Zv d64';
    t[0x58 + r] = 'POP Zv d64';
    t[0xb0 + r] = 'MOV Zb,Ib';
    t[0xb8 + r] = 'MOV Zv,Iv';
    t[0x90 + r] = 'XCHG Zv,rAX';
  }
  t[0x60] = 'PUSHA i64'; t[0x61] = 'POPA i64';
  t[0x62] = 'BOUND Gv,Ma i64';
  t[0x63] = 'ARPL Ew,Gw i64'; // MOVSXD in 64-bit mode: see MAP_ONE_64 in opcode-table.ts
  t[0x68] = 'PUSH Iz d64'; t[0x69] = 'IMUL Gv,Ev,Iz';
  t[0x6a] = 'PUSH Ibs d64'; t[0x6b] = 'IMUL Gv,Ev,Ibs';
  t[0x6c] = 'INS Yb,DX rep'; t[0x6d] = 'INS Yz,DX rep';
  t[0x6e] = 'OUTS DX,Xb rep'; t[0x6f] = 'OUTS DX,Xz rep';
  for (let c = 0; c < 16; c++) t[0x70 + c] = 'Jcc Jb f64 cc';
  t[0x80] = '@G1 Eb,Ib'; t[0x81] = '@G1 Ev,Iz'; t[0x82] = '@G1 Eb,Ib i64'; t[0x83] = '@G1 Ev,Ibs';
  t[0x84] = 'TEST Eb,Gb'; t[0x85] = 'TEST Ev,Gv';
  t[0x86] = 'XCHG Eb,Gb L'; t[0x87] = 'XCHG Ev,Gv L';
  t[0x88] = 'MOV Eb,Gb'; t[0x89] = 'MOV Ev,Gv'; t[0x8a] = 'MOV Gb,Eb'; t[0x8b] = 'MOV Gv,Ev';
  t[0x8c] = 'MOV Rv/Mw,Sw'; t[0x8d] = 'LEA Gv,M0'; t[0x8e] = 'MOV Sw,Rv/Mw'; t[0x8f] = '@G1A';
  t[0x90] = 'rp:NOP|PAUSE|NOP';
  t[0x98] = 'CBW'; t[0x99] = 'CWD'; t[0x9a] = 'CALLF Ap i64'; t[0x9b] = 'WAIT';
  t[0x9c] = 'PUSHF d64'; t[0x9d] = 'POPF d64'; t[0x9e] = 'SAHF'; t[0x9f] = 'LAHF';
  t[0xa0] = 'MOV AL,Ob'; t[0xa1] = 'MOV rAX,Ov'; t[0xa2] = 'MOV Ob,AL'; t[0xa3] = 'MOV Ov,rAX';
  t[0xa4] = 'MOVS Yb,Xb rep'; t[0xa5] = 'MOVS Yv,Xv rep';
  t[0xa6] = 'CMPS Xb,Yb rep'; t[0xa7] = 'CMPS Xv,Yv rep';
  t[0xa8] = 'TEST AL,Ib'; t[0xa9] = 'TEST rAX,Iz';
  t[0xaa] = 'STOS Yb,AL rep'; t[0xab] = 'STOS Yv,rAX rep';
  t[0xac] = 'LODS AL,Xb rep'; t[0xad] = 'LODS rAX,Xv rep';
  t[0xae] = 'SCAS AL,Yb rep'; t[0xaf] = 'SCAS rAX,Yv rep';
  t[0xc0] = '@G2 Eb,Ib'; t[0xc1] = '@G2 Ev,Ib';
  t[0xc2] = 'RET Iw f64'; t[0xc3] = 'RET f64';
  t[0xc4] = 'LES Gz,Mp i64'; t[0xc5] = 'LDS Gz,Mp i64'; // VEX when it can be (decoder)
  t[0xc6] = '@G11B'; t[0xc7] = '@G11V';
  t[0xc8] = 'ENTER Iw,Ib d64'; t[0xc9] = 'LEAVE d64';
  t[0xca] = 'RETF Iw'; t[0xcb] = 'RETF';
  t[0xcc] = 'INT3'; t[0xcd] = 'INT Ib'; t[0xce] = 'INTO i64'; t[0xcf] = 'IRET';
  t[0xd0] = '@G2 Eb,1'; t[0xd1] = '@G2 Ev,1'; t[0xd2] = '@G2 Eb,CL'; t[0xd3] = '@G2 Ev,CL';
  t[0xd4] = 'AAM Ib i64'; t[0xd5] = 'AAD Ib i64'; t[0xd6] = ''; t[0xd7] = 'XLAT';
  // D8-DF: x87, handled by the x87 tables.
  t[0xe0] = 'LOOPNE Jb f64'; t[0xe1] = 'LOOPE Jb f64'; t[0xe2] = 'LOOP Jb f64'; t[0xe3] = 'JCXZ Jb f64';
  t[0xe4] = 'IN AL,Ib'; t[0xe5] = 'IN eAX,Ib'; t[0xe6] = 'OUT Ib,AL'; t[0xe7] = 'OUT Ib,eAX';
  t[0xe8] = 'CALL Jz f64'; t[0xe9] = 'JMP Jz f64'; t[0xea] = 'JMPF Ap i64'; t[0xeb] = 'JMP Jb f64';
  t[0xec] = 'IN AL,DX'; t[0xed] = 'IN eAX,DX'; t[0xee] = 'OUT DX,AL'; t[0xef] = 'OUT DX,eAX';
  t[0xf1] = 'INT1'; t[0xf4] = 'HLT'; t[0xf5] = 'CMC';
  t[0xf6] = '@G3B'; t[0xf7] = '@G3V';
  t[0xf8] = 'CLC'; t[0xf9] = 'STC'; t[0xfa] = 'CLI'; t[0xfb] = 'STI'; t[0xfc] = 'CLD'; t[0xfd] = 'STD';
  t[0xfe] = '@G4'; t[0xff] = '@G5';
  return t;
}

/** MMX form (none) and SSE2 form (66) of a packed-integer op. */
function pint(m: string, extra = ''): string {
  return `mp:${m} Pq,Qq${extra}|${m} Vx,Wx v3${extra}||`;
}

function build0F(): string[] {
  const t: string[] = new Array(256).fill('');
  t[0x00] = '@G6'; t[0x01] = '@G7';
  t[0x02] = 'LAR Gv,Rv/Mw'; t[0x03] = 'LSL Gv,Rv/Mw';
  t[0x05] = 'SYSCALL'; t[0x06] = 'CLTS'; t[0x07] = 'SYSRET'; t[0x08] = 'INVD';
  t[0x09] = 'rp:WBINVD|WBNOINVD|WBINVD';
  t[0x0b] = 'UD2'; t[0x0d] = '@G0D';
  t[0x10] = 'mp:MOVUPS Vx,Wx v2|MOVUPD Vx,Wx v2|mod:MOVSS Vdq,Md v2;MOVSS Vdq,Udq v3|mod:MOVSD_X Vdq,Mq v2;MOVSD_X Vdq,Udq v3';
  t[0x11] = 'mp:MOVUPS Wx,Vx v2|MOVUPD Wx,Vx v2|mod:MOVSS Md,Vdq v2;MOVSS Udq,Vdq v3|mod:MOVSD_X Mq,Vdq v2;MOVSD_X Udq,Vdq v3';
  t[0x12] = 'mp:mod:MOVLPS Vdq,Mq v3 vl0;MOVHLPS Vdq,Udq v3 vl0|MOVLPD Vdq,Mq v3 vl0|MOVSLDUP Vx,Wx v2|MOVDDUP Vx,Wqx v2';
  t[0x13] = 'mp:MOVLPS Mq,Vdq v2 vl0|MOVLPD Mq,Vdq v2 vl0||';
  t[0x14] = 'mp:UNPCKLPS Vx,Wx v3|UNPCKLPD Vx,Wx v3||';
  t[0x15] = 'mp:UNPCKHPS Vx,Wx v3|UNPCKHPD Vx,Wx v3||';
  t[0x16] = 'mp:mod:MOVHPS Vdq,Mq v3 vl0;MOVLHPS Vdq,Udq v3 vl0|MOVHPD Vdq,Mq v3 vl0|MOVSHDUP Vx,Wx v2|';
  t[0x17] = 'mp:MOVHPS Mq,Vdq v2 vl0|MOVHPD Mq,Vdq v2 vl0||';
  t[0x18] = '@G16';
  for (let i = 0x19; i <= 0x1f; i++) t[i] = 'NOP Ev';
  t[0x1e] = 'rp:NOP Ev|@G1E|NOP Ev';
  // MOV CR/DR: 64-bit operands in long mode whatever the prefixes (SDM MOV—Move to/from Control Registers).
  t[0x20] = 'MOV_CR Ry,Cy f64'; t[0x21] = 'MOV_DR Ry,Dy f64'; t[0x22] = 'MOV_CR Cy,Ry f64'; t[0x23] = 'MOV_DR Dy,Ry f64';
  t[0x28] = 'mp:MOVAPS Vx,Wx v2|MOVAPD Vx,Wx v2||';
  t[0x29] = 'mp:MOVAPS Wx,Vx v2|MOVAPD Wx,Vx v2||';
  t[0x2a] = 'mp:CVTPI2PS Vdq,Qq|CVTPI2PD Vdq,Qq|CVTSI2SS Vdq,Ey v3|CVTSI2SD Vdq,Ey v3';
  t[0x2b] = 'mp:MOVNTPS Mx,Vx v2|MOVNTPD Mx,Vx v2||';
  t[0x2c] = 'mp:CVTTPS2PI Pq,Wq|CVTTPD2PI Pq,Wdq|CVTTSS2SI Gy,Wd v2|CVTTSD2SI Gy,Wq v2';
  t[0x2d] = 'mp:CVTPS2PI Pq,Wq|CVTPD2PI Pq,Wdq|CVTSS2SI Gy,Wd v2|CVTSD2SI Gy,Wq v2';
  t[0x2e] = 'mp:UCOMISS Vdq,Wd v2|UCOMISD Vdq,Wq v2||';
  t[0x2f] = 'mp:COMISS Vdq,Wd v2|COMISD Vdq,Wq v2||';
  t[0x30] = 'WRMSR'; t[0x31] = 'RDTSC'; t[0x32] = 'RDMSR'; t[0x33] = 'RDPMC';
  t[0x34] = 'SYSENTER'; t[0x35] = 'SYSEXIT';
  for (let c = 0; c < 16; c++) {
    t[0x40 + c] = 'CMOVcc Gv,Ev cc';
    t[0x80 + c] = 'Jcc Jz f64 cc';
    t[0x90 + c] = 'SETcc Eb cc';
  }
  t[0x50] = 'mp:MOVMSKPS Gy,Ux v2|MOVMSKPD Gy,Ux v2||';
  const arith = (m: string, ps = true, pd = true, ss = true, sd = true): string =>
    `mp:${ps ? `${m}PS Vx,Wx v3` : ''}|${pd ? `${m}PD Vx,Wx v3` : ''}|${ss ? `${m}SS Vdq,Wd v3` : ''}|${sd ? `${m}SD Vdq,Wq v3` : ''}`;
  t[0x51] = 'mp:SQRTPS Vx,Wx v2|SQRTPD Vx,Wx v2|SQRTSS Vdq,Wd v3|SQRTSD Vdq,Wq v3';
  t[0x52] = 'mp:RSQRTPS Vx,Wx v2||RSQRTSS Vdq,Wd v3|';
  t[0x53] = 'mp:RCPPS Vx,Wx v2||RCPSS Vdq,Wd v3|';
  t[0x54] = arith('AND', true, true, false, false);
  t[0x55] = arith('ANDN', true, true, false, false);
  t[0x56] = arith('OR', true, true, false, false);
  t[0x57] = arith('XOR', true, true, false, false);
  t[0x58] = arith('ADD'); t[0x59] = arith('MUL');
  t[0x5a] = 'mp:CVTPS2PD Vx,Wh v2|CVTPD2PS Vdq,Wx v2|CVTSS2SD Vdq,Wd v3|CVTSD2SS Vdq,Wq v3';
  t[0x5b] = 'mp:CVTDQ2PS Vx,Wx v2|CVTPS2DQ Vx,Wx v2|CVTTPS2DQ Vx,Wx v2|';
  t[0x5c] = arith('SUB'); t[0x5d] = arith('MIN'); t[0x5e] = arith('DIV'); t[0x5f] = arith('MAX');
  const p60 = ['PUNPCKLBW', 'PUNPCKLWD', 'PUNPCKLDQ', 'PACKSSWB', 'PCMPGTB', 'PCMPGTW', 'PCMPGTD', 'PACKUSWB',
    'PUNPCKHBW', 'PUNPCKHWD', 'PUNPCKHDQ', 'PACKSSDW'];
  for (let i = 0; i < p60.length; i++) t[0x60 + i] = pint(p60[i]!);
  // MMX punpckl* read only 32 bits of memory (SDM: mm/m32).
  for (let i = 0; i < 3; i++) t[0x60 + i] = `mp:${p60[i]} Pq,Qd|${p60[i]} Vx,Wx v3||`;
  t[0x6c] = 'mp:|PUNPCKLQDQ Vx,Wx v3||';
  t[0x6d] = 'mp:|PUNPCKHQDQ Vx,Wx v3||';
  t[0x6e] = 'mp:w:MOVD Pq,Ed;MOVQ Pq,Eq|w:MOVD Vdq,Ed v2 vl0;MOVQ Vdq,Eq v2 vl0||';
  t[0x6f] = 'mp:MOVQ Pq,Qq|MOVDQA Vx,Wx v2|MOVDQU Vx,Wx v2|';
  t[0x70] = 'mp:PSHUFW Pq,Qq,Ib|PSHUFD Vx,Wx,Ib v2|PSHUFHW Vx,Wx,Ib v2|PSHUFLW Vx,Wx,Ib v2';
  t[0x71] = '@G12'; t[0x72] = '@G13'; t[0x73] = '@G14';
  t[0x74] = pint('PCMPEQB'); t[0x75] = pint('PCMPEQW'); t[0x76] = pint('PCMPEQD');
  t[0x77] = 'mp:EMMS|||'; // NP 0F 77 (SDM EMMS)
  t[0x7c] = 'mp:|HADDPD Vx,Wx v3||HADDPS Vx,Wx v3';
  t[0x7d] = 'mp:|HSUBPD Vx,Wx v3||HSUBPS Vx,Wx v3';
  t[0x7e] = 'mp:w:MOVD Ed,Pq;MOVQ Eq,Pq|w:MOVD Ed,Vdq v2 vl0;MOVQ Eq,Vdq v2 vl0|MOVQ Vdq,Wq v2 vl0|';
  t[0x7f] = 'mp:MOVQ Qq,Pq|MOVDQA Wx,Vx v2|MOVDQU Wx,Vx v2|';
  t[0xa0] = 'PUSH FS d64'; t[0xa1] = 'POP FS d64'; t[0xa2] = 'CPUID';
  t[0xa3] = 'BT Ev,Gv'; t[0xa4] = 'SHLD Ev,Gv,Ib'; t[0xa5] = 'SHLD Ev,Gv,CL';
  t[0xa8] = 'PUSH GS d64'; t[0xa9] = 'POP GS d64'; t[0xaa] = 'RSM';
  t[0xab] = 'BTS Ev,Gv L'; t[0xac] = 'SHRD Ev,Gv,Ib'; t[0xad] = 'SHRD Ev,Gv,CL';
  t[0xae] = '@G15'; t[0xaf] = 'IMUL Gv,Ev';
  t[0xb0] = 'CMPXCHG Eb,Gb L'; t[0xb1] = 'CMPXCHG Ev,Gv L';
  t[0xb2] = 'LSS Gv,Mp'; t[0xb3] = 'BTR Ev,Gv L'; t[0xb4] = 'LFS Gv,Mp'; t[0xb5] = 'LGS Gv,Mp';
  t[0xb6] = 'MOVZX Gv,Eb'; t[0xb7] = 'MOVZX Gv,Ew';
  t[0xb8] = 'rp:|POPCNT Gv,Ev|';
  t[0xb9] = 'UD1 Gv,Ev'; t[0xba] = '@G8'; t[0xbb] = 'BTC Ev,Gv L';
  t[0xbc] = 'rp:BSF Gv,Ev|TZCNT Gv,Ev|BSF Gv,Ev'; t[0xbd] = 'rp:BSR Gv,Ev|LZCNT Gv,Ev|BSR Gv,Ev';
  t[0xbe] = 'MOVSX Gv,Eb'; t[0xbf] = 'MOVSX Gv,Ew';
  t[0xc0] = 'XADD Eb,Gb L'; t[0xc1] = 'XADD Ev,Gv L';
  t[0xc2] = 'mp:CMPPS Vx,Wx,Ib v3|CMPPD Vx,Wx,Ib v3|CMPSS Vdq,Wd,Ib v3|CMPSD_X Vdq,Wq,Ib v3';
  t[0xc3] = 'mp:MOVNTI My,Gy|||';
  t[0xc4] = 'mp:PINSRW Pq,Rd/Mw,Ib|PINSRW Vdq,Rd/Mw,Ib v3 vl0||';
  t[0xc5] = 'mp:PEXTRW Gd,Nq,Ib|PEXTRW Gd,Udq,Ib v2 vl0||';
  t[0xc6] = 'mp:SHUFPS Vx,Wx,Ib v3|SHUFPD Vx,Wx,Ib v3||';
  t[0xc7] = '@G9';
  for (let r = 0; r < 8; r++) t[0xc8 + r] = 'BSWAP Zv'; // with 66 the result is undefined (SDM BSWAP); decoded as 16-bit
  t[0xd0] = 'mp:|ADDSUBPD Vx,Wx v3||ADDSUBPS Vx,Wx v3';
  const pd: Array<[number, string]> = [
    [0xd1, 'PSRLW'], [0xd2, 'PSRLD'], [0xd3, 'PSRLQ'], [0xd4, 'PADDQ'], [0xd5, 'PMULLW'],
    [0xd8, 'PSUBUSB'], [0xd9, 'PSUBUSW'], [0xda, 'PMINUB'], [0xdb, 'PAND'], [0xdc, 'PADDUSB'],
    [0xdd, 'PADDUSW'], [0xde, 'PMAXUB'], [0xdf, 'PANDN'], [0xe0, 'PAVGB'], [0xe1, 'PSRAW'],
    [0xe2, 'PSRAD'], [0xe3, 'PAVGW'], [0xe4, 'PMULHUW'], [0xe5, 'PMULHW'], [0xe8, 'PSUBSB'],
    [0xe9, 'PSUBSW'], [0xea, 'PMINSW'], [0xeb, 'POR'], [0xec, 'PADDSB'], [0xed, 'PADDSW'],
    [0xee, 'PMAXSW'], [0xef, 'PXOR'], [0xf1, 'PSLLW'], [0xf2, 'PSLLD'], [0xf3, 'PSLLQ'],
    [0xf4, 'PMULUDQ'], [0xf5, 'PMADDWD'], [0xf6, 'PSADBW'], [0xf8, 'PSUBB'], [0xf9, 'PSUBW'],
    [0xfa, 'PSUBD'], [0xfb, 'PSUBQ'], [0xfc, 'PADDB'], [0xfd, 'PADDW'], [0xfe, 'PADDD'],
  ];
  for (const [o, m] of pd) t[o] = pint(m);
  // Shift-by-register forms take the count from an XMM/m128 even with VEX.L=1.
  for (const o of [0xd1, 0xd2, 0xd3, 0xe1, 0xe2, 0xf1, 0xf2, 0xf3]) {
    const m = pd.find((x) => x[0] === o)![1];
    t[o] = `mp:${m} Pq,Qq|${m} Vx,Wdq v3||`;
  }
  t[0xd6] = 'mp:|MOVQ Wq,Vdq v2 vl0|MOVQ2DQ Vdq,Nq|MOVDQ2Q Pq,Udq';
  t[0xd7] = 'mp:PMOVMSKB Gy,Nq|PMOVMSKB Gy,Ux v2||';
  t[0xe6] = 'mp:|CVTTPD2DQ Vdq,Wx v2|CVTDQ2PD Vx,Wh v2|CVTPD2DQ Vdq,Wx v2';
  t[0xe7] = 'mp:MOVNTQ Mq,Pq|MOVNTDQ Mx,Vx v2||';
  t[0xf0] = 'mp:|||LDDQU Vx,Mx v2';
  t[0xf7] = 'mp:MASKMOVQ Pq,Nq|MASKMOVDQU Vdq,Udq v2 vl0||';
  t[0xff] = 'UD0 Gv,Ev';
  return t;
}

/** 0F 38 map. Packed-integer SSSE3 ops have MMX (none) and XMM (66) forms. */
function build0F38(): string[] {
  const t: string[] = new Array(256).fill('');
  const ssse3 = ['PSHUFB', 'PHADDW', 'PHADDD', 'PHADDSW', 'PMADDUBSW', 'PHSUBW', 'PHSUBD', 'PHSUBSW',
    'PSIGNB', 'PSIGNW', 'PSIGND', 'PMULHRSW'];
  for (let i = 0; i < ssse3.length; i++) t[i] = pint(ssse3[i]!);
  t[0x1c] = pint('PABSB').replace(' v3', ' v2'); t[0x1d] = pint('PABSW').replace(' v3', ' v2');
  t[0x1e] = pint('PABSD').replace(' v3', ' v2');
  const x66 = (s: string): string => `mp:|${s}||`;
  t[0x10] = x66('PBLENDVB Vdq,Wdq,XMM0'); t[0x14] = x66('BLENDVPS Vdq,Wdq,XMM0');
  t[0x15] = x66('BLENDVPD Vdq,Wdq,XMM0'); t[0x17] = x66('PTEST Vx,Wx v2');
  // Source is 1/2, 1/4 or 1/8 of the destination vector (VEX.256 doubles it).
  const mov = [['BW', 'h'], ['BD', 'u'], ['BQ', 'e'], ['WD', 'h'], ['WQ', 'u'], ['DQ', 'h']] as const;
  for (let i = 0; i < 6; i++) {
    t[0x20 + i] = x66(`PMOVSX${mov[i]![0]} Vx,W${mov[i]![1]} v2`);
    t[0x30 + i] = x66(`PMOVZX${mov[i]![0]} Vx,W${mov[i]![1]} v2`);
  }
  t[0x28] = x66('PMULDQ Vx,Wx v3'); t[0x29] = x66('PCMPEQQ Vx,Wx v3');
  t[0x2a] = x66('MOVNTDQA Vx,Mx v2'); t[0x2b] = x66('PACKUSDW Vx,Wx v3');
  const m37 = ['PCMPGTQ', 'PMINSB', 'PMINSD', 'PMINUW', 'PMINUD', 'PMAXSB', 'PMAXSD', 'PMAXUW', 'PMAXUD', 'PMULLD'];
  for (let i = 0; i < m37.length; i++) t[0x37 + i] = x66(`${m37[i]} Vx,Wx v3`);
  t[0x41] = x66('PHMINPOSUW Vdq,Wdq v2 vl0');
  t[0xc8] = 'mp:SHA1NEXTE Vdq,Wdq|||'; t[0xc9] = 'mp:SHA1MSG1 Vdq,Wdq|||';
  t[0xca] = 'mp:SHA1MSG2 Vdq,Wdq|||'; t[0xcb] = 'mp:SHA256RNDS2 Vdq,Wdq,XMM0|||';
  t[0xcc] = 'mp:SHA256MSG1 Vdq,Wdq|||'; t[0xcd] = 'mp:SHA256MSG2 Vdq,Wdq|||';
  t[0xdb] = x66('AESIMC Vdq,Wdq v2 vl0'); t[0xdc] = x66('AESENC Vdq,Wdq v3 vl0');
  t[0xdd] = x66('AESENCLAST Vdq,Wdq v3 vl0'); t[0xde] = x66('AESDEC Vdq,Wdq v3 vl0');
  t[0xdf] = x66('AESDECLAST Vdq,Wdq v3 vl0');
  t[0xf0] = 'rp:MOVBE Gv,Mv||CRC32 Gy,Eb';
  t[0xf1] = 'rp:MOVBE Mv,Gv||CRC32 Gy,Ev';
  t[0xf6] = 'mp:|ADCX Gy,Ey|ADOX Gy,Ey|';
  t[0x82] = x66('INVPCID Gy,M0 f64');
  return t;
}

function build0F3A(): string[] {
  const t: string[] = new Array(256).fill('');
  const x66 = (s: string): string => `mp:|${s}||`;
  t[0x08] = x66('ROUNDPS Vx,Wx,Ib v2'); t[0x09] = x66('ROUNDPD Vx,Wx,Ib v2');
  t[0x0a] = x66('ROUNDSS Vdq,Wd,Ib v3'); t[0x0b] = x66('ROUNDSD Vdq,Wq,Ib v3');
  t[0x0c] = x66('BLENDPS Vx,Wx,Ib v3'); t[0x0d] = x66('BLENDPD Vx,Wx,Ib v3');
  t[0x0e] = x66('PBLENDW Vx,Wx,Ib v3');
  t[0x0f] = 'mp:PALIGNR Pq,Qq,Ib|PALIGNR Vx,Wx,Ib v3||';
  t[0x14] = x66('PEXTRB Rd/Mb,Vdq,Ib v2 vl0');
  t[0x15] = x66('PEXTRW Rd/Mw,Vdq,Ib v2 vl0');
  t[0x16] = x66('w:PEXTRD Ed,Vdq,Ib v2 vl0;PEXTRQ Eq,Vdq,Ib v2 vl0');
  t[0x17] = x66('EXTRACTPS Rd/Md,Vdq,Ib v2 vl0');
  t[0x20] = x66('PINSRB Vdq,Rd/Mb,Ib v3 vl0');
  t[0x21] = x66('INSERTPS Vdq,Wd,Ib v3 vl0');
  t[0x22] = x66('w:PINSRD Vdq,Ed,Ib v3 vl0;PINSRQ Vdq,Eq,Ib v3 vl0');
  t[0x40] = x66('DPPS Vx,Wx,Ib v3'); t[0x41] = x66('DPPD Vdq,Wdq,Ib v3 vl0');
  t[0x42] = x66('MPSADBW Vx,Wx,Ib v3'); t[0x44] = x66('PCLMULQDQ Vdq,Wdq,Ib v3 vl0');
  t[0x60] = x66('PCMPESTRM Vdq,Wdq,Ib v2 vl0'); t[0x61] = x66('PCMPESTRI Vdq,Wdq,Ib v2 vl0');
  t[0x62] = x66('PCMPISTRM Vdq,Wdq,Ib v2 vl0'); t[0x63] = x66('PCMPISTRI Vdq,Wdq,Ib v2 vl0');
  t[0xcc] = 'mp:SHA1RNDS4 Vdq,Wdq,Ib|||';
  t[0xdf] = x66('AESKEYGENASSIST Vdq,Wdq,Ib v2 vl0');
  return t;
}

/** ModRM.reg groups (SDM Table A-6). Each has 8 specs, indexed by ModRM.reg. */
export const GROUPS: Record<string, string[]> = {
  G1: ALU.map((m) => `${m} ${m === 'CMP' ? '' : 'L'}`), // operands come from the opcode entry
  G1A: ['POP Ev d64', '', '', '', '', '', '', ''],
  // /6 is an undocumented alias of /4 (SHL/SAL); objdump and hardware agree.
  G2: ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SHL', 'SAR'],
  G3B: ['TEST Eb,Ib', 'TEST Eb,Ib', 'NOT Eb L', 'NEG Eb L', 'MUL Eb', 'IMUL Eb', 'DIV Eb', 'IDIV Eb'],
  G3V: ['TEST Ev,Iz', 'TEST Ev,Iz', 'NOT Ev L', 'NEG Ev L', 'MUL Ev', 'IMUL Ev', 'DIV Ev', 'IDIV Ev'],
  G4: ['INC Eb L', 'DEC Eb L', '', '', '', '', '', ''],
  G5: ['INC Ev L', 'DEC Ev L', 'CALL Ev f64', 'CALLF Mp', 'JMP Ev f64', 'JMPF Mp', 'PUSH Ev d64', ''],
  G6: ['SLDT Rv/Mw', 'STR Rv/Mw', 'LLDT Ew', 'LTR Ew', 'VERR Ew', 'VERW Ew', '', ''],
  G7: [
    'mod:SGDT M0;rm:|VMCALL||||||',
    'mod:SIDT M0;rm:MONITOR|MWAIT|CLAC|STAC||||',
    'mod:LGDT M0;rm:XGETBV|XSETBV||||XEND|XTEST|',
    'mod:LIDT M0;rm:|$VMMCALL||||||',
    'SMSW Rv/Mw',
    '',
    'LMSW Ew',
    'mod:INVLPG Mb;rm:SWAPGS o64|RDTSCP||||||',
  ],
  G0D: ['PREFETCH Mb', 'PREFETCHW Mb', 'PREFETCHWT1 Mb', 'PREFETCH Mb', 'PREFETCH Mb', 'PREFETCH Mb', 'PREFETCH Mb', 'PREFETCH Mb'],
  G8: ['', '', '', '', 'BT Ev,Ib', 'BTS Ev,Ib L', 'BTR Ev,Ib L', 'BTC Ev,Ib L'],
  G9: [
    '',
    'w:CMPXCHG8B Mq L;CMPXCHG16B Mdq L',
    '',
    'mod:XRSTORS M0 w64;', 'mod:XSAVEC M0 w64;', 'mod:XSAVES M0 w64;',
    // NFx (SDM): F2/F3 are not allowed with RDRAND/RDSEED; F3 /7 is RDPID.
    'mod:;rp:RDRAND Rv||',
    'mod:;rp:RDSEED Rv|RDPID Ry f64|',
  ],
  G11B: ['MOV Eb,Ib', '', '', '', '', '', '', 'mod:;rm:XABORT Ib|||||||'],
  G11V: ['MOV Ev,Iz', '', '', '', '', '', '', 'mod:;rm:XBEGIN Jz|||||||'],
  G12: ['', '', 'mod:;mp:PSRLW Nq,Ib|PSRLW Ux,Ib||', '', 'mod:;mp:PSRAW Nq,Ib|PSRAW Ux,Ib||', '', 'mod:;mp:PSLLW Nq,Ib|PSLLW Ux,Ib||', ''],
  G13: ['', '', 'mod:;mp:PSRLD Nq,Ib|PSRLD Ux,Ib||', '', 'mod:;mp:PSRAD Nq,Ib|PSRAD Ux,Ib||', '', 'mod:;mp:PSLLD Nq,Ib|PSLLD Ux,Ib||', ''],
  G14: ['', '', 'mod:;mp:PSRLQ Nq,Ib|PSRLQ Ux,Ib||', 'mod:;mp:|PSRLDQ Ux,Ib||', '', '', 'mod:;mp:PSLLQ Nq,Ib|PSLLQ Ux,Ib||', 'mod:;mp:|PSLLDQ Ux,Ib||'],
  G15: [
    'mod:mp:FXSAVE M0 w64|||;mp:||RDFSBASE Rv o64|',
    'mod:mp:FXRSTOR M0 w64|||;mp:||RDGSBASE Rv o64|',
    'mod:mp:LDMXCSR Md|||;mp:||WRFSBASE Rv o64|',
    'mod:mp:STMXCSR Md|||;mp:||WRGSBASE Rv o64|',
    // F3 forms of the memory slots are PTWRITE (/4) etc., and 66/F2/F3 register forms are
    // INCSSP, UMONITOR, UMWAIT, TPAUSE: not decoded, so #UD here (NP = no prefix, SDM).
    'mod:mp:XSAVE M0 w64|||;',
    'mod:mp:XRSTOR M0 w64|||;mp:LFENCE|||',
    'mod:mp:XSAVEOPT M0 w64|CLWB Mb||;mp:MFENCE|||',
    'mod:mp:CLFLUSH Mb|CLFLUSHOPT Mb||;mp:SFENCE|||',
  ],
  GBMI1: ['', 'BLSR By,Ey vl0', 'BLSMSK By,Ey vl0', 'BLSI By,Ey vl0', '', '', '', ''],
  VG12: ['', '', 'mod:;PSRLW Hx,Ux,Ib', '', 'mod:;PSRAW Hx,Ux,Ib', '', 'mod:;PSLLW Hx,Ux,Ib', ''],
  VG13: ['', '', 'mod:;PSRLD Hx,Ux,Ib', '', 'mod:;PSRAD Hx,Ux,Ib', '', 'mod:;PSLLD Hx,Ux,Ib', ''],
  VG14: ['', '', 'mod:;PSRLQ Hx,Ux,Ib', 'mod:;PSRLDQ Hx,Ux,Ib', '', '', 'mod:;PSLLQ Hx,Ux,Ib', 'mod:;PSLLDQ Hx,Ux,Ib'],
  VG15: ['', '', 'mod:LDMXCSR Md vl0;', 'mod:STMXCSR Md vl0;', '', '', '', ''],
  G16: ['mod:PREFETCHNTA Mb;NOP Ev', 'mod:PREFETCHT0 Mb;NOP Ev', 'mod:PREFETCHT1 Mb;NOP Ev', 'mod:PREFETCHT2 Mb;NOP Ev',
    'NOP Ev', 'NOP Ev', 'NOP Ev', 'NOP Ev'],
  G1E: ['NOP Ev', 'NOP Ev', 'NOP Ev', 'NOP Ev', 'NOP Ev', 'NOP Ev', 'NOP Ev', 'mod:NOP Ev;rm:NOP Ev|NOP Ev|ENDBR64|ENDBR32|NOP Ev|NOP Ev|NOP Ev|NOP Ev'],
};

/**
 * Named sub-specs, referenced as `$NAME` where a composite would need a separator that its
 * parent already uses.
 */
export const NAMED: Record<string, string> = {
  // F3 0F 01 D9 is VMGEXIT (SEV-ES), not VMMCALL.
  VMMCALL: 'rp:VMMCALL||',
};

export const ONE_BYTE = build1();
export const TWO_BYTE = build0F();
export const THREE_BYTE_38 = build0F38();
export const THREE_BYTE_3A = build0F3A();

/**
 * x87 (D8-DF), SDM Tables A-7..A-22. Memory forms by [opcode-D8][reg]; register forms by
 * [opcode-D8][reg] with either one spec using STi, or an `rm:` list.
 */
const X87_ARITH = ['FADD', 'FMUL', 'FCOM', 'FCOMP', 'FSUB', 'FSUBR', 'FDIV', 'FDIVR'];
const X87_IARITH = ['FIADD', 'FIMUL', 'FICOM', 'FICOMP', 'FISUB', 'FISUBR', 'FIDIV', 'FIDIVR'];
export const X87_MEM: string[][] = [
  X87_ARITH.map((m) => `${m} Md`),
  ['FLD Md', '', 'FST Md', 'FSTP Md', 'FLDENV M0', 'FLDCW Mw', 'FNSTENV M0', 'FNSTCW Mw'],
  X87_IARITH.map((m) => `${m} Md`),
  ['FILD Md', 'FISTTP Md', 'FIST Md', 'FISTP Md', '', 'FLD Mt', '', 'FSTP Mt'],
  X87_ARITH.map((m) => `${m} Mq`),
  ['FLD Mq', 'FISTTP Mq', 'FST Mq', 'FSTP Mq', 'FRSTOR M0', '', 'FNSAVE M0', 'FNSTSW Mw'],
  X87_IARITH.map((m) => `${m} Mw`),
  ['FILD Mw', 'FISTTP Mw', 'FIST Mw', 'FISTP Mw', 'FBLD Mt', 'FILD Mq', 'FBSTP Mt', 'FISTP Mq'],
];
export const X87_REG: string[][] = [
  ['FADD ST,STi', 'FMUL ST,STi', 'FCOM STi', 'FCOMP STi', 'FSUB ST,STi', 'FSUBR ST,STi', 'FDIV ST,STi', 'FDIVR ST,STi'],
  [
    'FLD STi', 'FXCH STi', 'rm:FNOP|||||||', '',
    'rm:FCHS|FABS|||FTST|FXAM||',
    'rm:FLD1|FLDL2T|FLDL2E|FLDPI|FLDLG2|FLDLN2|FLDZ|',
    'rm:F2XM1|FYL2X|FPTAN|FPATAN|FXTRACT|FPREM1|FDECSTP|FINCSTP',
    'rm:FPREM|FYL2XP1|FSQRT|FSINCOS|FRNDINT|FSCALE|FSIN|FCOS',
  ],
  ['FCMOVcc ST,STi', 'FCMOVcc ST,STi', 'FCMOVcc ST,STi', 'FCMOVcc ST,STi', '', 'rm:|FUCOMPP||||||', '', ''],
  ['FCMOVcc ST,STi', 'FCMOVcc ST,STi', 'FCMOVcc ST,STi', 'FCMOVcc ST,STi', 'rm:FNENI|FNDISI|FNCLEX|FNINIT|FNSETPM|||', 'FUCOMI ST,STi', 'FCOMI ST,STi', ''],
  ['FADD STi,ST', 'FMUL STi,ST', '', '', 'FSUBR STi,ST', 'FSUB STi,ST', 'FDIVR STi,ST', 'FDIV STi,ST'],
  ['FFREE STi', '', 'FST STi', 'FSTP STi', 'FUCOM STi', 'FUCOMP STi', '', ''],
  ['FADDP STi,ST', 'FMULP STi,ST', '', 'rm:|FCOMPP||||||', 'FSUBRP STi,ST', 'FSUBP STi,ST', 'FDIVRP STi,ST', 'FDIVP STi,ST'],
  ['FFREEP STi', '', '', '', 'rm:FNSTSW AX|||||||', 'FUCOMIP ST,STi', 'FCOMIP ST,STi', ''],
];

/**
 * VEX-only instructions (no legacy SSE form), keyed by map and opcode, with pp in the
 * spec (`mp:` order none|66|F3|F2). Operands already in VEX order.
 */
export const VEX_ONLY: Array<[number, number, string]> = [
  [1, 0x77, 'VZEROUPPER'], // L selects VZEROALL (decoder)
  [1, 0x71, 'mp:|@VG12||'],
  [1, 0x72, 'mp:|@VG13||'],
  [1, 0x73, 'mp:|@VG14||'],
  [1, 0xae, 'mp:@VG15|||'],
  [3, 0x4a, 'mp:|VBLENDVPS Vx,Hx,Wx,Lx w0||'],
  [3, 0x4b, 'mp:|VBLENDVPD Vx,Hx,Wx,Lx w0||'],
  [3, 0x4c, 'mp:|VPBLENDVB Vx,Hx,Wx,Lx w0||'],
  [2, 0x0c, 'mp:|VPERMILPS Vx,Hx,Wx w0||'],
  [2, 0x0d, 'mp:|VPERMILPD Vx,Hx,Wx w0||'],
  [2, 0x0e, 'mp:|VTESTPS Vx,Wx w0||'],
  [2, 0x0f, 'mp:|VTESTPD Vx,Wx w0||'],
  [2, 0x13, 'mp:|VCVTPH2PS Vx,Wh w0||'],
  [2, 0x16, 'mp:|VPERMPS Vx,Hx,Wx w0 l1||'],
  [2, 0x18, 'mp:|VBROADCASTSS Vx,Wd w0||'],
  [2, 0x19, 'mp:|VBROADCASTSD Vx,Wq w0 l1||'],
  [2, 0x1a, 'mp:|VBROADCASTF128 Vx,Mdq w0 l1||'],
  [2, 0x2c, 'mp:|VMASKMOVPS Vx,Hx,Mx w0||'],
  [2, 0x2d, 'mp:|VMASKMOVPD Vx,Hx,Mx w0||'],
  [2, 0x2e, 'mp:|VMASKMOVPS Mx,Hx,Vx w0||'],
  [2, 0x2f, 'mp:|VMASKMOVPD Mx,Hx,Vx w0||'],
  [2, 0x36, 'mp:|VPERMD Vx,Hx,Wx w0 l1||'],
  [2, 0x45, 'mp:|vw:VPSRLVD Vx,Hx,Wx;VPSRLVQ Vx,Hx,Wx||'],
  [2, 0x46, 'mp:|VPSRAVD Vx,Hx,Wx w0||'],
  [2, 0x47, 'mp:|vw:VPSLLVD Vx,Hx,Wx;VPSLLVQ Vx,Hx,Wx||'],
  [2, 0x58, 'mp:|VPBROADCASTD Vx,Wd w0||'],
  [2, 0x59, 'mp:|VPBROADCASTQ Vx,Wq w0||'],
  [2, 0x5a, 'mp:|VBROADCASTI128 Vx,Mdq w0 l1||'],
  [2, 0x78, 'mp:|VPBROADCASTB Vx,Wb w0||'],
  [2, 0x79, 'mp:|VPBROADCASTW Vx,Ww w0||'],
  [2, 0x8c, 'mp:|vw:VPMASKMOVD Vx,Hx,Mx;VPMASKMOVQ Vx,Hx,Mx||'],
  [2, 0x8e, 'mp:|vw:VPMASKMOVD Mx,Hx,Vx;VPMASKMOVQ Mx,Hx,Vx||'],
  [2, 0xf2, 'mp:ANDN Gy,By,Ey vl0|||'],
  [2, 0xf3, 'mp:@GBMI1|||'],
  [2, 0xf5, 'mp:BZHI Gy,Ey,By vl0||PEXT Gy,By,Ey vl0|PDEP Gy,By,Ey vl0'],
  [2, 0xf6, 'mp:|||MULX Gy,By,Ey vl0'],
  [2, 0xf7, 'mp:BEXTR Gy,Ey,By vl0|SHLX Gy,Ey,By vl0|SARX Gy,Ey,By vl0|SHRX Gy,Ey,By vl0'],
  [3, 0x00, 'mp:|VPERMQ Vx,Wx,Ib w1 l1||'],
  [3, 0x01, 'mp:|VPERMPD Vx,Wx,Ib w1 l1||'],
  [3, 0x02, 'mp:|VPBLENDD Vx,Hx,Wx,Ib w0||'],
  [3, 0x04, 'mp:|VPERMILPS Vx,Wx,Ib w0||'],
  [3, 0x05, 'mp:|VPERMILPD Vx,Wx,Ib w0||'],
  [3, 0x06, 'mp:|VPERM2F128 Vx,Hx,Wx,Ib w0 l1||'],
  [3, 0x18, 'mp:|VINSERTF128 Vx,Hx,Wdq,Ib w0 l1||'],
  [3, 0x19, 'mp:|VEXTRACTF128 Wdq,Vx,Ib w0 l1||'],
  [3, 0x1d, 'mp:|VCVTPS2PH Wh,Vx,Ib w0||'],
  [3, 0x38, 'mp:|VINSERTI128 Vx,Hx,Wdq,Ib w0 l1||'],
  [3, 0x39, 'mp:|VEXTRACTI128 Wdq,Vx,Ib w0 l1||'],
  [3, 0x46, 'mp:|VPERM2I128 Vx,Hx,Wx,Ib w0 l1||'],
  [3, 0xf0, 'mp:|||RORX Gy,Ey,Ib vl0'],
];
