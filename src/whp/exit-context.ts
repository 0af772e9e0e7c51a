/**
 * Decodes WHV_RUN_VP_EXIT_CONTEXT (224 bytes, winhvplatformdefs.h) into a typed
 * exit, reading fields by offset from a DataView over the native buffer that
 * WHvRunVirtualProcessor filled.
 *
 * Every offset and bit position comes from the declaration data (whp-decls.ts
 * via the layout in c-decl.ts), which the conformance test checks against the
 * header; none is written by hand here.
 *
 * Hot path: decode() allocates nothing. Each exit kind has one preallocated
 * object per decoder (one decoder per vCPU) that decode() refills and returns;
 * 64-bit values that may exceed 2^53 (RIP, RAX, GVA …) are U64 pairs of 32-bit
 * halves, refilled in place. A caller that keeps an exit past the next run must
 * copy what it needs.
 */
import { whpRegistry as reg } from './whp-decls.ts';

/** A 64-bit value as two unsigned 32-bit halves, so the hot path never allocates a BigInt. */
export interface U64 {
  lo: number;
  hi: number;
}

export const u64 = (): U64 => ({ lo: 0, hi: 0 });
export const u64ToBigInt = (v: U64): bigint => (BigInt(v.hi >>> 0) << 32n) | BigInt(v.lo >>> 0);
/** Exact when hi < 2^21 (guest-physical addresses always are); otherwise rounded. */
export const u64ToNumber = (v: U64): number => v.hi * 0x1_0000_0000 + v.lo;

/** WHV_X64_SEGMENT_REGISTER. */
export interface Segment {
  base: U64;
  limit: number;
  selector: number;
  /** Raw attribute word: type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15. */
  attributes: number;
}

export const segment = (): Segment => ({ base: u64(), limit: 0, selector: 0, attributes: 0 });

/** WHV_VP_EXIT_CONTEXT: the vCPU state every exit carries. */
export interface VpContext {
  /** Raw WHV_X64_VP_EXECUTION_STATE. */
  executionState: number;
  cpl: number;
  cr0Pe: boolean;
  cr0Am: boolean;
  eferLma: boolean;
  debugActive: boolean;
  interruptionPending: boolean;
  interruptShadow: boolean;
  /** Length of the intercepted instruction (advance RIP by this to skip it). */
  instructionLength: number;
  cr8: number;
  cs: Segment;
  rip: U64;
  rflags: U64;
}

interface ExitBase {
  /** The raw WHV_RUN_VP_EXIT_REASON. */
  reason: number;
  readonly vp: VpContext;
}

export interface IoPortExit extends ExitBase {
  kind: 'io';
  port: number;
  /** 1, 2 or 4 bytes. */
  size: number;
  isWrite: boolean;
  stringOp: boolean;
  rep: boolean;
  /** RAX at the exit: OUT data is its low `size` bytes. */
  rax: U64;
  rcx: U64;
  rsi: U64;
  rdi: U64;
  ds: Segment;
  es: Segment;
  instructionByteCount: number;
  /** 16-byte view into the exit buffer (only the first instructionByteCount are valid). */
  readonly instructionBytes: Uint8Array;
}

export const MEMORY_ACCESS_READ = 0;
export const MEMORY_ACCESS_WRITE = 1;
export const MEMORY_ACCESS_EXECUTE = 2;

export interface MemoryAccessExit extends ExitBase {
  kind: 'mmio';
  /** Guest-physical address (always < 2^52, exact as a number). */
  gpa: number;
  gva: U64;
  /** WHV_MEMORY_ACCESS_TYPE: 0 read, 1 write, 2 execute. */
  accessType: number;
  gpaUnmapped: boolean;
  gvaValid: boolean;
  instructionByteCount: number;
  readonly instructionBytes: Uint8Array;
}

export interface MsrExit extends ExitBase {
  kind: 'msr';
  msr: number;
  isWrite: boolean;
  /** EAX and EDX (WRMSR's value is EDX:EAX; the upper halves of RAX/RDX are ignored by the instruction). */
  eax: number;
  edx: number;
}

export interface CpuidExit extends ExitBase {
  kind: 'cpuid';
  /** Leaf (EAX) and subleaf (ECX). */
  leaf: number;
  subleaf: number;
  /** What the hypervisor would return: start from these (header order is RAX, RCX, RDX, RBX). */
  defaultEax: number;
  defaultEbx: number;
  defaultEcx: number;
  defaultEdx: number;
}

export interface ExceptionExit extends ExitBase {
  kind: 'exception';
  /** WHV_EXCEPTION_TYPE (vector). */
  vector: number;
  errorCodeValid: boolean;
  softwareException: boolean;
  errorCode: number;
  /** CR2 for a page fault. */
  parameter: U64;
  instructionByteCount: number;
  readonly instructionBytes: Uint8Array;
}

export interface InterruptWindowExit extends ExitBase {
  kind: 'interruptWindow';
  /** WHV_X64_PENDING_INTERRUPTION_TYPE: 0 interrupt, 2 NMI, 3 exception. */
  deliverableType: number;
}

export interface UnsupportedFeatureExit extends ExitBase {
  kind: 'unsupportedFeature';
  /** WHV_X64_UNSUPPORTED_FEATURE_CODE: 1 intercept, 2 task switch TSS. */
  featureCode: number;
  featureParameter: U64;
}

export interface CanceledExit extends ExitBase {
  kind: 'canceled';
  /** WHV_RUN_VP_CANCEL_REASON (0 = user, i.e. WHvCancelRunVirtualProcessor). */
  cancelReason: number;
}

export interface ApicEoiExit extends ExitBase {
  kind: 'apicEoi';
  vector: number;
}

export interface RdtscExit extends ExitBase {
  kind: 'rdtsc';
  tscAux: U64;
  virtualOffset: U64;
  tsc: U64;
  referenceTime: U64;
  isRdtscp: boolean;
}

export interface ApicIcrExit extends ExitBase {
  kind: 'apicSmi' | 'apicInitSipi';
  icr: U64;
}

export interface ApicWriteExit extends ExitBase {
  kind: 'apicWrite';
  /** WHV_X64_APIC_WRITE_TYPE: the APIC register offset (0xD0 LDR, 0xE0 DFR, 0xF0 SVR, 0x350 LINT0, 0x360 LINT1). */
  register: number;
  value: U64;
}

export interface HypercallExit extends ExitBase {
  kind: 'hypercall';
  rax: U64;
  rbx: U64;
  rcx: U64;
  rdx: U64;
  r8: U64;
  rsi: U64;
  rdi: U64;
}

export interface SynicSintDeliverableExit extends ExitBase {
  kind: 'synicSintDeliverable';
  deliverableSints: number;
}

/** Exits that carry nothing beyond the VP context, and reasons this header version does not know. */
export interface SimpleExit extends ExitBase {
  kind: 'none' | 'halt' | 'unrecoverableException' | 'invalidVpRegisterValue' | 'unknown';
}

export type WhpExit =
  | IoPortExit
  | MemoryAccessExit
  | MsrExit
  | CpuidExit
  | ExceptionExit
  | InterruptWindowExit
  | UnsupportedFeatureExit
  | CanceledExit
  | ApicEoiExit
  | RdtscExit
  | ApicIcrExit
  | ApicWriteExit
  | HypercallExit
  | SynicSintDeliverableExit
  | SimpleExit;

// ---- offsets, from the declarations -------------------------------------------

const EXIT = 'WHV_RUN_VP_EXIT_CONTEXT';
const off = (path: string): number => reg.offsetOf(EXIT, path);
const bitOf = (path: string): { at: number; shift: number; mask: number } => {
  const b = reg.bitfieldOf(EXIT, path);
  return { at: b.unitOffset, shift: b.bitOffset, mask: b.width === 32 ? 0xffffffff : (1 << b.width) - 1 };
};

export const EXIT_CONTEXT_SIZE = reg.layoutOf(EXIT).size;

export const EXIT_REASON = {
  None: reg.constant('WHvRunVpExitReasonNone'),
  MemoryAccess: reg.constant('WHvRunVpExitReasonMemoryAccess'),
  X64IoPortAccess: reg.constant('WHvRunVpExitReasonX64IoPortAccess'),
  UnrecoverableException: reg.constant('WHvRunVpExitReasonUnrecoverableException'),
  InvalidVpRegisterValue: reg.constant('WHvRunVpExitReasonInvalidVpRegisterValue'),
  UnsupportedFeature: reg.constant('WHvRunVpExitReasonUnsupportedFeature'),
  X64InterruptWindow: reg.constant('WHvRunVpExitReasonX64InterruptWindow'),
  X64Halt: reg.constant('WHvRunVpExitReasonX64Halt'),
  X64ApicEoi: reg.constant('WHvRunVpExitReasonX64ApicEoi'),
  SynicSintDeliverable: reg.constant('WHvRunVpExitReasonSynicSintDeliverable'),
  X64MsrAccess: reg.constant('WHvRunVpExitReasonX64MsrAccess'),
  X64Cpuid: reg.constant('WHvRunVpExitReasonX64Cpuid'),
  Exception: reg.constant('WHvRunVpExitReasonException'),
  X64Rdtsc: reg.constant('WHvRunVpExitReasonX64Rdtsc'),
  X64ApicSmiTrap: reg.constant('WHvRunVpExitReasonX64ApicSmiTrap'),
  Hypercall: reg.constant('WHvRunVpExitReasonHypercall'),
  X64ApicInitSipiTrap: reg.constant('WHvRunVpExitReasonX64ApicInitSipiTrap'),
  X64ApicWriteTrap: reg.constant('WHvRunVpExitReasonX64ApicWriteTrap'),
  Canceled: reg.constant('WHvRunVpExitReasonCanceled'),
} as const;

/** Symbolic name of an exit reason (for messages). */
export function exitReasonName(reason: number): string {
  for (const [k, v] of Object.entries(EXIT_REASON)) if (v === reason) return k;
  return `0x${(reason >>> 0).toString(16)}`;
}

const O = {
  reason: off('ExitReason'),
  execState: off('VpContext.ExecutionState'),
  cs: off('VpContext.Cs'),
  rip: off('VpContext.Rip'),
  rflags: off('VpContext.Rflags'),
  // WHV_VP_EXIT_CONTEXT's Cpl…InterruptShadow are bits of ExecutionState (WHV_X64_VP_EXECUTION_STATE).
  cpl: reg.bitfieldOf('WHV_X64_VP_EXECUTION_STATE', 'Cpl'),
  cr0Pe: reg.bitfieldOf('WHV_X64_VP_EXECUTION_STATE', 'Cr0Pe'),
  cr0Am: reg.bitfieldOf('WHV_X64_VP_EXECUTION_STATE', 'Cr0Am'),
  eferLma: reg.bitfieldOf('WHV_X64_VP_EXECUTION_STATE', 'EferLma'),
  debugActive: reg.bitfieldOf('WHV_X64_VP_EXECUTION_STATE', 'DebugActive'),
  interruptionPending: reg.bitfieldOf('WHV_X64_VP_EXECUTION_STATE', 'InterruptionPending'),
  interruptShadow: reg.bitfieldOf('WHV_X64_VP_EXECUTION_STATE', 'InterruptShadow'),
  instructionLength: bitOf('VpContext.InstructionLength'),
  cr8: bitOf('VpContext.Cr8'),
  seg: {
    base: reg.offsetOf('WHV_X64_SEGMENT_REGISTER', 'Base'),
    limit: reg.offsetOf('WHV_X64_SEGMENT_REGISTER', 'Limit'),
    selector: reg.offsetOf('WHV_X64_SEGMENT_REGISTER', 'Selector'),
    attributes: reg.offsetOf('WHV_X64_SEGMENT_REGISTER', 'Attributes'),
  },
  io: {
    byteCount: off('IoPortAccess.InstructionByteCount'),
    bytes: off('IoPortAccess.InstructionBytes'),
    info: off('IoPortAccess.AccessInfo'),
    isWrite: bitOf('IoPortAccess.AccessInfo.IsWrite'),
    accessSize: bitOf('IoPortAccess.AccessInfo.AccessSize'),
    stringOp: bitOf('IoPortAccess.AccessInfo.StringOp'),
    rep: bitOf('IoPortAccess.AccessInfo.RepPrefix'),
    port: off('IoPortAccess.PortNumber'),
    rax: off('IoPortAccess.Rax'),
    rcx: off('IoPortAccess.Rcx'),
    rsi: off('IoPortAccess.Rsi'),
    rdi: off('IoPortAccess.Rdi'),
    ds: off('IoPortAccess.Ds'),
    es: off('IoPortAccess.Es'),
  },
  mem: {
    byteCount: off('MemoryAccess.InstructionByteCount'),
    bytes: off('MemoryAccess.InstructionBytes'),
    accessType: bitOf('MemoryAccess.AccessInfo.AccessType'),
    gpaUnmapped: bitOf('MemoryAccess.AccessInfo.GpaUnmapped'),
    gvaValid: bitOf('MemoryAccess.AccessInfo.GvaValid'),
    gpa: off('MemoryAccess.Gpa'),
    gva: off('MemoryAccess.Gva'),
  },
  msr: {
    isWrite: bitOf('MsrAccess.AccessInfo.IsWrite'),
    number: off('MsrAccess.MsrNumber'),
    rax: off('MsrAccess.Rax'),
    rdx: off('MsrAccess.Rdx'),
  },
  cpuid: {
    rax: off('CpuidAccess.Rax'),
    rcx: off('CpuidAccess.Rcx'),
    defRax: off('CpuidAccess.DefaultResultRax'),
    defRcx: off('CpuidAccess.DefaultResultRcx'),
    defRdx: off('CpuidAccess.DefaultResultRdx'),
    defRbx: off('CpuidAccess.DefaultResultRbx'),
  },
  exc: {
    byteCount: off('VpException.InstructionByteCount'),
    bytes: off('VpException.InstructionBytes'),
    errorCodeValid: bitOf('VpException.ExceptionInfo.ErrorCodeValid'),
    software: bitOf('VpException.ExceptionInfo.SoftwareException'),
    type: off('VpException.ExceptionType'),
    errorCode: off('VpException.ErrorCode'),
    parameter: off('VpException.ExceptionParameter'),
  },
  interruptWindow: off('InterruptWindow.DeliverableType'),
  unsupported: { code: off('UnsupportedFeature.FeatureCode'), parameter: off('UnsupportedFeature.FeatureParameter') },
  cancelReason: off('CancelReason.CancelReason'),
  apicEoi: off('ApicEoi.InterruptVector'),
  rdtsc: {
    tscAux: off('ReadTsc.TscAux'),
    virtualOffset: off('ReadTsc.VirtualOffset'),
    tsc: off('ReadTsc.Tsc'),
    referenceTime: off('ReadTsc.ReferenceTime'),
    isRdtscp: bitOf('ReadTsc.RdtscInfo.IsRdtscp'),
  },
  apicSmi: off('ApicSmi.ApicIcr'),
  apicInitSipi: off('ApicInitSipi.ApicIcr'),
  apicWrite: { type: off('ApicWrite.Type'), value: off('ApicWrite.WriteValue') },
  hypercall: {
    rax: off('Hypercall.Rax'),
    rbx: off('Hypercall.Rbx'),
    rcx: off('Hypercall.Rcx'),
    rdx: off('Hypercall.Rdx'),
    r8: off('Hypercall.R8'),
    rsi: off('Hypercall.Rsi'),
    rdi: off('Hypercall.Rdi'),
  },
  sints: off('SynicSintDeliverable.DeliverableSints'),
};

/** Bit-field read helper (unit width ≤ 32 bits here). */
const field32 = (dv: DataView, b: { at: number; shift: number; mask: number }, size: 1 | 2 | 4): number => {
  const unit = size === 1 ? dv.getUint8(b.at) : size === 2 ? dv.getUint16(b.at, true) : dv.getUint32(b.at, true);
  return (unit >>> b.shift) & b.mask;
};

function readU64(dv: DataView, at: number, out: U64): void {
  out.lo = dv.getUint32(at, true);
  out.hi = dv.getUint32(at + 4, true);
}

function readSegment(dv: DataView, at: number, out: Segment): void {
  readU64(dv, at + O.seg.base, out.base);
  out.limit = dv.getUint32(at + O.seg.limit, true);
  out.selector = dv.getUint16(at + O.seg.selector, true);
  out.attributes = dv.getUint16(at + O.seg.attributes, true);
}

const execBit = (state: number, b: { bitOffset: number; width: number }): number => (state >>> b.bitOffset) & ((1 << b.width) - 1);

/**
 * One per vCPU: decodes the exit context in `bytes` (the 224-byte buffer passed
 * to WHvRunVirtualProcessor) into reused exit objects.
 */
export class ExitDecoder {
  readonly dv: DataView;
  readonly vp: VpContext = {
    executionState: 0,
    cpl: 0,
    cr0Pe: false,
    cr0Am: false,
    eferLma: false,
    debugActive: false,
    interruptionPending: false,
    interruptShadow: false,
    instructionLength: 0,
    cr8: 0,
    cs: segment(),
    rip: u64(),
    rflags: u64(),
  };
  private readonly io: IoPortExit;
  private readonly mmio: MemoryAccessExit;
  private readonly msr: MsrExit;
  private readonly cpuid: CpuidExit;
  private readonly exception: ExceptionExit;
  private readonly interruptWindow: InterruptWindowExit;
  private readonly unsupported: UnsupportedFeatureExit;
  private readonly canceled: CanceledExit;
  private readonly apicEoi: ApicEoiExit;
  private readonly rdtsc: RdtscExit;
  private readonly apicIcr: ApicIcrExit;
  private readonly apicWrite: ApicWriteExit;
  private readonly hypercall: HypercallExit;
  private readonly sints: SynicSintDeliverableExit;
  private readonly simple: SimpleExit;

  constructor(readonly bytes: Uint8Array) {
    if (bytes.byteLength < EXIT_CONTEXT_SIZE) throw new RangeError(`exit context buffer is ${bytes.byteLength} bytes; WHV_RUN_VP_EXIT_CONTEXT is ${EXIT_CONTEXT_SIZE}`);
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, EXIT_CONTEXT_SIZE);
    const vp = this.vp;
    const sub = (at: number) => bytes.subarray(at, at + 16);
    this.io = { kind: 'io', reason: 0, vp, port: 0, size: 0, isWrite: false, stringOp: false, rep: false, rax: u64(), rcx: u64(), rsi: u64(), rdi: u64(), ds: segment(), es: segment(), instructionByteCount: 0, instructionBytes: sub(O.io.bytes) };
    this.mmio = { kind: 'mmio', reason: 0, vp, gpa: 0, gva: u64(), accessType: 0, gpaUnmapped: false, gvaValid: false, instructionByteCount: 0, instructionBytes: sub(O.mem.bytes) };
    this.msr = { kind: 'msr', reason: 0, vp, msr: 0, isWrite: false, eax: 0, edx: 0 };
    this.cpuid = { kind: 'cpuid', reason: 0, vp, leaf: 0, subleaf: 0, defaultEax: 0, defaultEbx: 0, defaultEcx: 0, defaultEdx: 0 };
    this.exception = { kind: 'exception', reason: 0, vp, vector: 0, errorCodeValid: false, softwareException: false, errorCode: 0, parameter: u64(), instructionByteCount: 0, instructionBytes: sub(O.exc.bytes) };
    this.interruptWindow = { kind: 'interruptWindow', reason: 0, vp, deliverableType: 0 };
    this.unsupported = { kind: 'unsupportedFeature', reason: 0, vp, featureCode: 0, featureParameter: u64() };
    this.canceled = { kind: 'canceled', reason: 0, vp, cancelReason: 0 };
    this.apicEoi = { kind: 'apicEoi', reason: 0, vp, vector: 0 };
    this.rdtsc = { kind: 'rdtsc', reason: 0, vp, tscAux: u64(), virtualOffset: u64(), tsc: u64(), referenceTime: u64(), isRdtscp: false };
    this.apicIcr = { kind: 'apicSmi', reason: 0, vp, icr: u64() };
    this.apicWrite = { kind: 'apicWrite', reason: 0, vp, register: 0, value: u64() };
    this.hypercall = { kind: 'hypercall', reason: 0, vp, rax: u64(), rbx: u64(), rcx: u64(), rdx: u64(), r8: u64(), rsi: u64(), rdi: u64() };
    this.sints = { kind: 'synicSintDeliverable', reason: 0, vp, deliverableSints: 0 };
    this.simple = { kind: 'none', reason: 0, vp };
  }

  /** Decodes the current buffer contents. The returned object is reused by the next decode(). */
  decode(): WhpExit {
    const dv = this.dv;
    const reason = dv.getUint32(O.reason, true);
    this.decodeVpContext();
    switch (reason) {
      case EXIT_REASON.X64IoPortAccess: {
        const e = this.io;
        e.reason = reason;
        const info = dv.getUint32(O.io.info, true);
        e.isWrite = ((info >>> O.io.isWrite.shift) & O.io.isWrite.mask) !== 0;
        e.size = (info >>> O.io.accessSize.shift) & O.io.accessSize.mask;
        e.stringOp = ((info >>> O.io.stringOp.shift) & O.io.stringOp.mask) !== 0;
        e.rep = ((info >>> O.io.rep.shift) & O.io.rep.mask) !== 0;
        e.port = dv.getUint16(O.io.port, true);
        readU64(dv, O.io.rax, e.rax);
        e.instructionByteCount = dv.getUint8(O.io.byteCount);
        if (e.stringOp) {
          readU64(dv, O.io.rcx, e.rcx);
          readU64(dv, O.io.rsi, e.rsi);
          readU64(dv, O.io.rdi, e.rdi);
          readSegment(dv, O.io.ds, e.ds);
          readSegment(dv, O.io.es, e.es);
        }
        return e;
      }
      case EXIT_REASON.MemoryAccess: {
        const e = this.mmio;
        e.reason = reason;
        e.accessType = field32(dv, O.mem.accessType, 4);
        e.gpaUnmapped = field32(dv, O.mem.gpaUnmapped, 4) !== 0;
        e.gvaValid = field32(dv, O.mem.gvaValid, 4) !== 0;
        e.gpa = dv.getUint32(O.mem.gpa + 4, true) * 0x1_0000_0000 + dv.getUint32(O.mem.gpa, true);
        readU64(dv, O.mem.gva, e.gva);
        e.instructionByteCount = dv.getUint8(O.mem.byteCount);
        return e;
      }
      case EXIT_REASON.X64MsrAccess: {
        const e = this.msr;
        e.reason = reason;
        e.isWrite = field32(dv, O.msr.isWrite, 4) !== 0;
        e.msr = dv.getUint32(O.msr.number, true);
        e.eax = dv.getUint32(O.msr.rax, true);
        e.edx = dv.getUint32(O.msr.rdx, true);
        return e;
      }
      case EXIT_REASON.X64Cpuid: {
        const e = this.cpuid;
        e.reason = reason;
        e.leaf = dv.getUint32(O.cpuid.rax, true);
        e.subleaf = dv.getUint32(O.cpuid.rcx, true);
        e.defaultEax = dv.getUint32(O.cpuid.defRax, true);
        e.defaultEbx = dv.getUint32(O.cpuid.defRbx, true);
        e.defaultEcx = dv.getUint32(O.cpuid.defRcx, true);
        e.defaultEdx = dv.getUint32(O.cpuid.defRdx, true);
        return e;
      }
      case EXIT_REASON.Exception: {
        const e = this.exception;
        e.reason = reason;
        e.errorCodeValid = field32(dv, O.exc.errorCodeValid, 4) !== 0;
        e.softwareException = field32(dv, O.exc.software, 4) !== 0;
        e.vector = dv.getUint8(O.exc.type);
        e.errorCode = dv.getUint32(O.exc.errorCode, true);
        readU64(dv, O.exc.parameter, e.parameter);
        e.instructionByteCount = dv.getUint8(O.exc.byteCount);
        return e;
      }
      case EXIT_REASON.X64InterruptWindow:
        this.interruptWindow.reason = reason;
        this.interruptWindow.deliverableType = dv.getUint32(O.interruptWindow, true);
        return this.interruptWindow;
      case EXIT_REASON.UnsupportedFeature:
        this.unsupported.reason = reason;
        this.unsupported.featureCode = dv.getUint32(O.unsupported.code, true);
        readU64(dv, O.unsupported.parameter, this.unsupported.featureParameter);
        return this.unsupported;
      case EXIT_REASON.Canceled:
        this.canceled.reason = reason;
        this.canceled.cancelReason = dv.getUint32(O.cancelReason, true);
        return this.canceled;
      case EXIT_REASON.X64ApicEoi:
        this.apicEoi.reason = reason;
        this.apicEoi.vector = dv.getUint32(O.apicEoi, true);
        return this.apicEoi;
      case EXIT_REASON.X64Rdtsc: {
        const e = this.rdtsc;
        e.reason = reason;
        readU64(dv, O.rdtsc.tscAux, e.tscAux);
        readU64(dv, O.rdtsc.virtualOffset, e.virtualOffset);
        readU64(dv, O.rdtsc.tsc, e.tsc);
        readU64(dv, O.rdtsc.referenceTime, e.referenceTime);
        e.isRdtscp = field32(dv, O.rdtsc.isRdtscp, 4) !== 0;
        return e;
      }
      case EXIT_REASON.X64ApicSmiTrap:
      case EXIT_REASON.X64ApicInitSipiTrap: {
        const e = this.apicIcr;
        e.reason = reason;
        e.kind = reason === EXIT_REASON.X64ApicSmiTrap ? 'apicSmi' : 'apicInitSipi';
        readU64(dv, reason === EXIT_REASON.X64ApicSmiTrap ? O.apicSmi : O.apicInitSipi, e.icr);
        return e;
      }
      case EXIT_REASON.X64ApicWriteTrap:
        this.apicWrite.reason = reason;
        this.apicWrite.register = dv.getUint32(O.apicWrite.type, true);
        readU64(dv, O.apicWrite.value, this.apicWrite.value);
        return this.apicWrite;
      case EXIT_REASON.Hypercall: {
        const e = this.hypercall;
        e.reason = reason;
        const h = O.hypercall;
        readU64(dv, h.rax, e.rax);
        readU64(dv, h.rbx, e.rbx);
        readU64(dv, h.rcx, e.rcx);
        readU64(dv, h.rdx, e.rdx);
        readU64(dv, h.r8, e.r8);
        readU64(dv, h.rsi, e.rsi);
        readU64(dv, h.rdi, e.rdi);
        return e;
      }
      case EXIT_REASON.SynicSintDeliverable:
        this.sints.reason = reason;
        this.sints.deliverableSints = dv.getUint16(O.sints, true);
        return this.sints;
      default: {
        const e = this.simple;
        e.reason = reason;
        e.kind =
          reason === EXIT_REASON.X64Halt
            ? 'halt'
            : reason === EXIT_REASON.UnrecoverableException
              ? 'unrecoverableException'
              : reason === EXIT_REASON.InvalidVpRegisterValue
                ? 'invalidVpRegisterValue'
                : reason === EXIT_REASON.None
                  ? 'none'
                  : 'unknown';
        return e;
      }
    }
  }

  private decodeVpContext(): void {
    const dv = this.dv;
    const vp = this.vp;
    const s = dv.getUint16(O.execState, true);
    vp.executionState = s;
    vp.cpl = execBit(s, O.cpl);
    vp.cr0Pe = execBit(s, O.cr0Pe) !== 0;
    vp.cr0Am = execBit(s, O.cr0Am) !== 0;
    vp.eferLma = execBit(s, O.eferLma) !== 0;
    vp.debugActive = execBit(s, O.debugActive) !== 0;
    vp.interruptionPending = execBit(s, O.interruptionPending) !== 0;
    vp.interruptShadow = execBit(s, O.interruptShadow) !== 0;
    vp.instructionLength = field32(dv, O.instructionLength, 1);
    vp.cr8 = field32(dv, O.cr8, 1);
    readSegment(dv, O.cs, vp.cs);
    readU64(dv, O.rip, vp.rip);
    readU64(dv, O.rflags, vp.rflags);
  }
}
