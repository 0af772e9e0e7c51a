/**
 * What an executor handler returns: null when the instruction retired (RIP advanced or branched),
 * an X86Fault for a guest exception (state unchanged except where the SDM says a fault may leave
 * partial progress, e.g. rep string iterations already done), or RETRY.
 */
import type { X86Fault } from '../cpu.ts';

/**
 * The instruction did not retire and RIP still points at it; execute it again. Used when a `rep`
 * string instruction stopped after a bounded chunk with RCX ≠ 0 (so interrupts can be taken
 * between iterations, SDM Vol. 1 §7.3.9.1 / Vol. 3 §6.6) and when a locked compare-and-write
 * found memory changed by another agent. Not an architectural exception: vector is -1.
 */
export const RETRY: X86Fault = Object.freeze({ vector: -1 });

export type ExecResult = X86Fault | null;

/** At most this many `rep` iterations per call (OpenVMM uses 1024 as well). */
export const MAX_REP_ITERATIONS = 1024;

/**
 * The executor does not implement this instruction (or this form of it). Not a guest fault:
 * vector is -2. Exit emulation reports it (and injects #UD, as OpenVMM does); the software CPU
 * treats it as a fatal emulator gap.
 */
export const UNSUPPORTED: X86Fault = Object.freeze({ vector: -2 });
