/**
 * The OS monotonic clock the TSC is calibrated against, in nanoseconds.
 *  - Linux: process.hrtime.bigint() is libuv's uv_hrtime(), i.e.
 *    clock_gettime(CLOCK_MONOTONIC) — no FFI call needed.
 *  - Windows: QueryPerformanceCounter/QueryPerformanceFrequency from kernel32
 *    through koffi, read directly so the reference is the documented
 *    high-resolution counter rather than whatever a runtime layers on top.
 */
import { loadKoffi, type Koffi } from '../native/koffi.ts';
import { HostError } from '../errors.ts';

export interface MonotonicClock {
  /** e.g. 'clock_gettime(CLOCK_MONOTONIC)' or 'QueryPerformanceCounter (10000000 Hz)'. */
  readonly name: string;
  /** Current time in nanoseconds from an arbitrary origin. */
  nowNs(): bigint;
}

export const hrtimeClock: MonotonicClock = {
  name: 'clock_gettime(CLOCK_MONOTONIC) via process.hrtime.bigint',
  nowNs: () => process.hrtime.bigint(),
};

export function queryPerformanceCounterClock(koffi: Koffi = loadKoffi()): MonotonicClock {
  const k32 = koffi.load('kernel32.dll');
  const QueryPerformanceCounter = k32.func('__stdcall', 'QueryPerformanceCounter', 'int', ['_Out_ int64_t *']);
  const QueryPerformanceFrequency = k32.func('__stdcall', 'QueryPerformanceFrequency', 'int', ['_Out_ int64_t *']);
  const cell = new BigInt64Array(1);
  if (!QueryPerformanceFrequency(cell) || cell[0]! <= 0n) throw new HostError('QueryPerformanceFrequency failed');
  const freq = cell[0]!;
  return {
    name: `QueryPerformanceCounter (${freq} Hz)`,
    nowNs() {
      QueryPerformanceCounter(cell);
      const ticks = cell[0]!;
      // Split to keep full precision without overflowing: ticks / freq seconds.
      return (ticks / freq) * 1_000_000_000n + ((ticks % freq) * 1_000_000_000n) / freq;
    },
  };
}

/** The clock for this platform. */
export function defaultMonotonicClock(): MonotonicClock {
  return process.platform === 'win32' ? queryPerformanceCounterClock() : hrtimeClock;
}
