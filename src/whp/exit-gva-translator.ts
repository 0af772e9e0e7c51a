/**
 * GvaTranslator: guest-linear → guest-physical translation for exit emulation, through
 * WHvTranslateGva (the hypervisor walks the guest's page tables with the vCPU's own CR3, CR4,
 * EFER, CPL and RFLAGS.AC, so no page-table registers are fetched here).
 *
 * Flags (WHV_TRANSLATE_GVA_FLAGS, values from the declarations):
 *  - ValidateRead / ValidateWrite / ValidateExecute by access kind;
 *  - SetPageTableBits, so the walk sets the accessed/dirty bits as the hardware access would
 *    have (SDM Vol. 3 §4.8) — the same choice OpenVMM's emulator makes;
 *  - no PrivilegeExempt and no user/supervisor override: the check follows the current
 *    privilege level, and SMAP follows RFLAGS.AC (neither EnforceSmap nor OverrideSmap), which
 *    is what the instruction itself would have been subject to.
 *
 * Results (WHV_TRANSLATE_GVA_RESULT_CODE):
 *  - Success → the GPA.
 *  - PageNotPresent / PrivilegeViolation / InvalidPageTableFlags → #PF with the SDM error
 *    code (Vol. 3 §4.7: P, W/R, U/S, RSVD, I/D) and CR2 = the faulting linear address.
 *  - GpaUnmapped / GpaNoReadAccess / GpaNoWriteAccess / GpaIllegalOverlayAccess: the guest's
 *    page walk succeeded and the GPA is reported; whether it is RAM or a device is decided by
 *    the caller (MMIO GPAs are exactly the unmapped ones).
 *  - Intercept, any other code, or a failing HRESULT → a HostError: the VMM cannot continue
 *    this exit (nothing sensible to inject).
 * A one-entry cache per access kind (reset at each exit, seeded with the exit's own GVA→GPA
 * pair) avoids a call per `rep` iteration.
 */
import { HostError } from '../errors.ts';
import { ACCESS_EXECUTE, ACCESS_WRITE, VEC_PF, fault, type MemoryAccess, type X86Fault, type X86Registers } from '../x86/cpu.ts';
import type { LinearTranslator } from '../x86/emulate.ts';
import { failed } from './hresult.ts';
import { WhpCallError } from './whp-errors.ts';
import { whpRegistry as reg } from './whp-decls.ts';
import type { NativeBlock } from './native-memory.ts';
import type { WhpApi } from './whp-library.ts';

/** The one WinHvPlatform function this needs (WhpApi fits; tests pass a stub). */
export type WhpTranslateApi = Pick<WhpApi, 'WHvTranslateGva'>;

export const TRANSLATE_FLAGS = {
  read: reg.constant('WHvTranslateGvaFlagValidateRead'),
  write: reg.constant('WHvTranslateGvaFlagValidateWrite'),
  execute: reg.constant('WHvTranslateGvaFlagValidateExecute'),
  setPageTableBits: reg.constant('WHvTranslateGvaFlagSetPageTableBits'),
};

export const TRANSLATE_RESULT = {
  success: reg.constant('WHvTranslateGvaResultSuccess'),
  pageNotPresent: reg.constant('WHvTranslateGvaResultPageNotPresent'),
  privilegeViolation: reg.constant('WHvTranslateGvaResultPrivilegeViolation'),
  invalidPageTableFlags: reg.constant('WHvTranslateGvaResultInvalidPageTableFlags'),
  gpaUnmapped: reg.constant('WHvTranslateGvaResultGpaUnmapped'),
  gpaNoReadAccess: reg.constant('WHvTranslateGvaResultGpaNoReadAccess'),
  gpaNoWriteAccess: reg.constant('WHvTranslateGvaResultGpaNoWriteAccess'),
  gpaIllegalOverlayAccess: reg.constant('WHvTranslateGvaResultGpaIllegalOverlayAccess'),
  intercept: reg.constant('WHvTranslateGvaResultIntercept'),
};

const RESULT_SIZE = reg.layoutOf('WHV_TRANSLATE_GVA_RESULT').size;
const RESULT_CODE = reg.offsetOf('WHV_TRANSLATE_GVA_RESULT', 'ResultCode');
/** Scratch layout: WHV_TRANSLATE_GVA_RESULT at 0, the UINT64 GPA after it (8-aligned). */
const GPA_AT = Math.ceil(RESULT_SIZE / 8) * 8;
export const TRANSLATOR_SCRATCH_SIZE = GPA_AT + 8;

// #PF error code bits (Intel SDM Vol. 3 §4.7, Figure 4-12).
const PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_ID = 16;
const CR4_PAE = 1 << 5, CR4_SMEP = 1 << 20, EFER_NXE = 1 << 11;

const TWO32 = 4294967296;

/** The LinearTranslator ExitCpu (src/x86/emulate.ts) uses on WHP. */
export class GvaTranslator implements LinearTranslator {
  /** WHV_TRANSLATE_GVA_RESULT_CODE of the last WHvTranslateGva call. */
  lastResult = 0;
  /** WHvTranslateGva calls made (tests and benches read it). */
  calls = 0;
  /** The GPA of the last successful translate(). */
  gpa = 0.5; // a double from the start, so V8 keeps the field unboxed
  private readonly dv: DataView;
  private readonly resultAddress: bigint;
  private readonly gpaAddress: bigint;
  // One entry per access kind (read, write, execute): guest page number → GPA page base.
  private readonly cachePage = [NaN, NaN, NaN];
  private readonly cacheGpa = [0, 0, 0];

  constructor(
    private readonly api: WhpTranslateApi,
    private readonly partition: bigint,
    private readonly vpIndex: number,
    private readonly scratch: NativeBlock,
  ) {
    if (scratch.bytes.byteLength < TRANSLATOR_SCRATCH_SIZE) throw new RangeError('translation scratch buffer too small');
    this.dv = new DataView(scratch.bytes.buffer, scratch.bytes.byteOffset, TRANSLATOR_SCRATCH_SIZE);
    this.resultAddress = scratch.address;
    this.gpaAddress = scratch.address + BigInt(GPA_AT);
  }

  /** Forgets cached translations (at every exit: the guest may have changed its page tables). */
  reset(): void {
    this.cachePage[0] = this.cachePage[1] = this.cachePage[2] = NaN;
  }

  /**
   * Seeds the cache with the translation the hypervisor already did for a memory-access exit
   * with GvaValid (its Gva/Gpa pair, for its access type). Takes the exit, not the numbers:
   * passing the GVA and GPA as arguments would box them, one allocation each per exit.
   */
  seedFromExit(exit: { readonly gva: { lo: number; hi: number }; readonly gpa: number; readonly accessType: number }): void {
    const gva = (exit.gva.hi | 0) * TWO32 + (exit.gva.lo >>> 0);
    const page = Math.floor(gva / 4096);
    const access = exit.accessType;
    this.cachePage[access] = page;
    this.cacheGpa[access] = exit.gpa - (gva - page * 4096);
  }

  /**
   * Translates linear address `gva` (canonical, sign-extended number) for `access`: null with
   * the GPA in `this.gpa`, or the #PF. (The GPA goes through a field because returning a
   * number above 2^31 from a call that is not inlined boxes it: one allocation per access.)
   */
  translate(gva: number, access: MemoryAccess, regs: X86Registers): X86Fault | null {
    // Kept small so V8 inlines the cache hit into the caller: a call that is not inlined
    // boxes `gva` (a kernel address is no small integer), one allocation per access.
    const page = Math.floor(gva / 4096);
    if (this.cachePage[access] === page) {
      this.gpa = this.cacheGpa[access]! + (gva - page * 4096);
      return null;
    }
    return this.translateMiss(gva, access, regs);
  }

  /** translate() on a cache miss: one WHvTranslateGva call. */
  private translateMiss(gva: number, access: MemoryAccess, regs: X86Registers): X86Fault | null {
    const page = Math.floor(gva / 4096);
    const off = gva - page * 4096;
    const flags =
      (access === ACCESS_WRITE ? TRANSLATE_FLAGS.write : access === ACCESS_EXECUTE ? TRANSLATE_FLAGS.execute : TRANSLATE_FLAGS.read) |
      TRANSLATE_FLAGS.setPageTableBits;
    // WHV_GUEST_VIRTUAL_ADDRESS is a UINT64: small non-negative addresses go as numbers, the
    // sign-extended (kernel) half as the unsigned BigInt (only on a cache miss).
    const arg = gva >= 0 && gva < Number.MAX_SAFE_INTEGER ? gva : BigInt.asUintN(64, BigInt(gva));
    this.calls++;
    const hr = this.api.WHvTranslateGva(this.partition, this.vpIndex, arg, flags, this.resultAddress, this.gpaAddress);
    if (hr !== 0 && failed(hr)) throw new WhpCallError('WHvTranslateGva', hr, `vCPU ${this.vpIndex}, GVA 0x${hexAddr(gva)}`);
    const code = this.dv.getUint32(RESULT_CODE, true);
    this.lastResult = code;
    const R = TRANSLATE_RESULT;
    if (code === R.success || code === R.gpaUnmapped || code === R.gpaNoReadAccess || code === R.gpaNoWriteAccess || code === R.gpaIllegalOverlayAccess) {
      const gpa = this.dv.getUint32(GPA_AT + 4, true) * TWO32 + this.dv.getUint32(GPA_AT, true);
      this.cachePage[access] = page;
      this.cacheGpa[access] = gpa - off;
      this.gpa = gpa;
      return null;
    }
    if (code === R.pageNotPresent || code === R.privilegeViolation || code === R.invalidPageTableFlags) {
      let ec = code === R.pageNotPresent ? 0 : PF_P;
      if (code === R.invalidPageTableFlags) ec |= PF_RSVD;
      if (access === ACCESS_WRITE) ec |= PF_W;
      if (regs.cpl === 3) ec |= PF_U;
      // I/D is reported only when execute-disable or SMEP is in force (SDM Vol. 3 §4.7: NXE with PAE/4-level paging, or CR4.SMEP).
      if (access === ACCESS_EXECUTE && ((regs.efer & EFER_NXE && regs.cr4 & CR4_PAE) || regs.cr4 & CR4_SMEP)) ec |= PF_ID;
      return fault(VEC_PF, ec, gva);
    }
    throw new HostError(
      `WHvTranslateGva for GVA 0x${hexAddr(gva)} returned ${code === R.intercept ? 'WHvTranslateGvaResultIntercept' : `result code ${code}`}: the exit cannot be emulated`,
      { hint: 'the hypervisor refused to translate the guest address (nested virtualization or an unknown result); run with --emulator winhv or report the guest and Windows build' },
    );
  }

  free(): void {
    this.scratch.free();
  }
}

/** A canonical sign-extended number as unsigned 64-bit hex. */
export function hexAddr(v: number): string {
  return BigInt.asUintN(64, BigInt(v)).toString(16);
}
