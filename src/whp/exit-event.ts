/**
 * Encodes a guest exception for injection through a WHP register (no allocation):
 *
 *  - WHvRegisterPendingEvent (0x80000002) holds a WHV_X64_PENDING_EXCEPTION_EVENT: EventPending,
 *    EventType = WHvX64PendingEventException (0), DeliverErrorCode, Vector, ErrorCode and a
 *    64-bit ExceptionParameter, which for #PF is the faulting linear address (Hyper-V TLFS,
 *    HV_X64_PENDING_EXCEPTION_EVENT; OpenVMM's WHP backend passes the GVA there). This is what
 *    OpenVMM's WHP backend writes for emulation faults.
 *  - WHvRegisterPendingInterruption (0x80000000) holds a WHV_X64_PENDING_INTERRUPTION_REGISTER:
 *    InterruptionPending, InterruptionType = WHvX64PendingException (3), DeliverErrorCode,
 *    InterruptionVector, ErrorCode. It has no parameter, so CR2 must be set as a register.
 *    Older QEMU WHPX and crosvm inject through this one; builds whose hypervisor does not know
 *    PendingEvent reject that name (WHV_E_INVALID_VP_REGISTER_NAME) and we fall back here.
 *
 * Either way the caller writes CR2 first (same WHvSetVirtualProcessorRegisters call, earlier
 * slot) for a #PF, so the guest's handler reads the right address whichever register the
 * hypervisor honours.
 *
 * Every bit position and offset comes from the declaration data (whp-decls.ts, checked against
 * winhvplatformdefs.h by the conformance test), none is written by hand here.
 */
import { whpRegistry as reg } from './whp-decls.ts';
import type { LaidOutBitfield } from './c-decl.ts';

export type EventRegisterKind = 'PendingEvent' | 'PendingInterruption';

const bf = (type: string, name: string): LaidOutBitfield => reg.bitfieldOf(type, name);

const EVT = 'WHV_X64_PENDING_EXCEPTION_EVENT';
const EV = {
  pending: bf(EVT, 'EventPending'),
  type: bf(EVT, 'EventType'),
  deliverErrorCode: bf(EVT, 'DeliverErrorCode'),
  vector: bf(EVT, 'Vector'),
  errorCode: reg.offsetOf(EVT, 'ErrorCode'),
  parameter: reg.offsetOf(EVT, 'ExceptionParameter'),
  typeException: reg.constant('WHvX64PendingEventException'),
};

const INT = 'WHV_X64_PENDING_INTERRUPTION_REGISTER';
const PI = {
  pending: bf(INT, 'InterruptionPending'),
  type: bf(INT, 'InterruptionType'),
  deliverErrorCode: bf(INT, 'DeliverErrorCode'),
  vector: bf(INT, 'InterruptionVector'),
  errorCode: reg.offsetOf(INT, 'ErrorCode'),
  typeException: reg.constant('WHvX64PendingException'),
};

/** Puts `value` into a ≤32-bit storage unit's bit-field (units here are UINT32). */
function setBits(dv: DataView, at: number, b: LaidOutBitfield, value: number): void {
  const unitAt = at + b.unitOffset;
  const mask = (b.width >= 32 ? 0xffffffff : (1 << b.width) - 1) << b.bitOffset;
  const old = dv.getUint32(unitAt, true);
  dv.setUint32(unitAt, ((old & ~mask) | ((value << b.bitOffset) & mask)) >>> 0, true);
}

/**
 * Writes the 16-byte WHV_REGISTER_VALUE at `at` for an exception with `vector`,
 * `errorCode` (< 0: none) and `parameter` (the #PF address as lo/hi halves; 0 otherwise).
 */
export function encodeException(dv: DataView, at: number, kind: EventRegisterKind, vector: number, errorCode: number, paramLo: number, paramHi: number): void {
  for (let i = 0; i < 16; i += 4) dv.setUint32(at + i, 0, true);
  const hasCode = errorCode >= 0 ? 1 : 0;
  if (kind === 'PendingEvent') {
    setBits(dv, at, EV.pending, 1);
    setBits(dv, at, EV.type, EV.typeException);
    setBits(dv, at, EV.deliverErrorCode, hasCode);
    setBits(dv, at, EV.vector, vector);
    dv.setUint32(at + EV.errorCode, hasCode ? errorCode >>> 0 : 0, true);
    dv.setUint32(at + EV.parameter, paramLo >>> 0, true);
    dv.setUint32(at + EV.parameter + 4, paramHi >>> 0, true);
  } else {
    setBits(dv, at, PI.pending, 1);
    setBits(dv, at, PI.type, PI.typeException);
    setBits(dv, at, PI.deliverErrorCode, hasCode);
    setBits(dv, at, PI.vector, vector);
    dv.setUint32(at + PI.errorCode, hasCode ? errorCode >>> 0 : 0, true);
  }
}

/** What an encoded register says (for tests and logs). */
export interface DecodedException {
  pending: boolean;
  /** EventType (PendingEvent) or InterruptionType (PendingInterruption). */
  type: number;
  vector: number;
  /** undefined when DeliverErrorCode is 0. */
  errorCode: number | undefined;
  /** ExceptionParameter (PendingEvent only; 0n otherwise). */
  parameter: bigint;
}

export function decodeException(bytes: Uint8Array, kind: EventRegisterKind): DecodedException {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const get = (b: LaidOutBitfield) => (dv.getUint32(b.unitOffset, true) >>> b.bitOffset) & (b.width >= 32 ? 0xffffffff : (1 << b.width) - 1);
  const f = kind === 'PendingEvent' ? EV : PI;
  const hasCode = get(f.deliverErrorCode) !== 0;
  return {
    pending: get(f.pending) !== 0,
    type: get(f.type),
    vector: get(f.vector),
    errorCode: hasCode ? dv.getUint32(f.errorCode, true) : undefined,
    parameter: kind === 'PendingEvent' ? dv.getBigUint64(EV.parameter, true) : 0n,
  };
}
