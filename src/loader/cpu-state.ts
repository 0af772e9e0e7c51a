/**
 * The vCPU state the loader asks for at the kernel's entry point: a plain object
 * every backend can apply (WHP register batches, the software CPU's state).
 *
 * Segment registers are given as the hidden "descriptor cache" a hypervisor takes
 * (WHV_X64_SEGMENT_REGISTER, KVM's kvm_segment, VMX guest segment fields): base,
 * byte-granular limit and the access-rights bits, not just a selector.
 */

export interface SegmentRegister {
  selector: number;
  base: number;
  /** Effective limit in bytes (already scaled by G: 0xFFFFF pages → 0xFFFFFFFF). */
  limit: number;
  /** Descriptor type field (4 bits; for code/data: bit 3 code, bit 1 R/W, bit 0 accessed). */
  type: number;
  /** S: 1 = code/data segment, 0 = system segment (TSS, LDT). */
  s: boolean;
  dpl: number;
  present: boolean;
  avl: boolean;
  /** L: 64-bit code segment. */
  long: boolean;
  /** D/B: default operation size 32-bit (must be 0 when L = 1). */
  db: boolean;
  /** G: limit counted in 4 KiB units in the descriptor. */
  granularity: boolean;
  /**
   * The same bits packed as the 16-bit access-rights word WHP (WHV_X64_SEGMENT_REGISTER
   * Attributes) and VMX (guest access rights, Intel SDM Vol. 3C 24.4.1) use:
   * type[3:0] S[4] DPL[6:5] P[7] AVL[12] L[13] D/B[14] G[15].
   */
  attributes: number;
}

export interface TableRegister {
  base: number;
  /** Limit as loaded by LGDT/LIDT: size in bytes − 1. */
  limit: number;
}

export interface InitialCpuState {
  rax: number;
  rbx: number;
  rcx: number;
  rdx: number;
  rsi: number;
  rdi: number;
  rsp: number;
  rbp: number;
  r8: number;
  r9: number;
  r10: number;
  r11: number;
  r12: number;
  r13: number;
  r14: number;
  r15: number;
  rip: number;
  rflags: number;
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  cs: SegmentRegister;
  ds: SegmentRegister;
  es: SegmentRegister;
  ss: SegmentRegister;
  fs: SegmentRegister;
  gs: SegmentRegister;
  tr: SegmentRegister;
  ldtr: SegmentRegister;
  gdtr: TableRegister;
  idtr: TableRegister;
}

/** CR0 bits (Intel SDM Vol. 3A 2.5). */
export const CR0_PE = 1 << 0;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_PG = 0x8000_0000;
/** CR4.PAE (Intel SDM Vol. 3A 2.5): required for IA-32e paging. */
export const CR4_PAE = 1 << 5;
/** IA32_EFER bits (Intel SDM Vol. 3A 2.2.1). */
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
/** RFLAGS bit 1 is reserved and always 1; IF (bit 9) clear: the boot protocol wants interrupts off. */
export const RFLAGS_RESERVED = 0x2;

export function packAttributes(s: Omit<SegmentRegister, 'attributes' | 'selector' | 'base' | 'limit'>): number {
  return (
    (s.type & 0xf) |
    (s.s ? 1 << 4 : 0) |
    ((s.dpl & 3) << 5) |
    (s.present ? 1 << 7 : 0) |
    (s.avl ? 1 << 12 : 0) |
    (s.long ? 1 << 13 : 0) |
    (s.db ? 1 << 14 : 0) |
    (s.granularity ? 1 << 15 : 0)
  );
}
