/**
 * Measures the TSC rate against the OS monotonic clock.
 *
 * N+1 time points are taken `durationMs / N` apart (sleeping in between, so the
 * event loop and a spinner stay live). Each point reads clock, TSC, clock up to
 * 7 times and keeps the read with the tightest clock bracket, placing the TSC
 * read at the bracket's midpoint: a preemption between the reads shows up as a
 * wide bracket and is discarded. Consecutive points give N window estimates;
 * windows further than max(5 × MAD, 100 ppm, twice the window's own read
 * uncertainty) from the median are rejected as
 * outliers (a descheduled read that slipped through, a VM pause). The result is
 * ΣΔtsc / ΣΔt over the kept windows, and the spread is half the range of the
 * kept windows' estimates, in ppm of the result.
 */
import type { MonotonicClock } from './monotonic-clock.ts';

export interface TscWindow {
  readonly hz: number;
  readonly durationNs: number;
  /** Read uncertainty of the two endpoints relative to the window, in ppm. */
  readonly uncertaintyPpm: number;
  readonly rejected: boolean;
}

export interface TscCalibration {
  readonly hz: number;
  /** Half the range of the kept windows' estimates, ppm of `hz` (0 with one window). */
  readonly spreadPpm: number;
  readonly windows: readonly TscWindow[];
  readonly clock: string;
  readonly elapsedMs: number;
}

export interface CalibrationOptions {
  /** Total measuring time. Default 50 ms. */
  readonly durationMs?: number;
  /** Number of windows. Default 5 (at least 1). */
  readonly windows?: number;
  /** Sleep used between points; injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const TRIES = 7;

interface Point {
  readonly ns: bigint;
  readonly halfBracketNs: bigint;
  readonly tsc: bigint;
}

function takePoint(rdtsc: () => bigint, clock: MonotonicClock): Point {
  let best: Point | undefined;
  for (let i = 0; i < TRIES; i++) {
    const c0 = clock.nowNs();
    const tsc = rdtsc();
    const c1 = clock.nowNs();
    const half = (c1 - c0) / 2n;
    if (!best || half < best.halfBracketNs) best = { ns: c0 + half, halfBracketNs: half, tsc };
  }
  return best!;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function calibrateTsc(rdtsc: () => bigint, clock: MonotonicClock, options: CalibrationOptions = {}): Promise<TscCalibration> {
  const durationMs = options.durationMs ?? 50;
  const n = Math.max(1, Math.floor(options.windows ?? 5));
  const sleep = options.sleep ?? defaultSleep;
  const started = clock.nowNs();
  const points: Point[] = [takePoint(rdtsc, clock)];
  for (let i = 0; i < n; i++) {
    await sleep(durationMs / n);
    points.push(takePoint(rdtsc, clock));
  }
  const raw = [];
  for (let i = 0; i < n; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    const dt = Number(b.ns - a.ns);
    const dtsc = Number(b.tsc - a.tsc);
    raw.push({ dt, dtsc, hz: dt > 0 ? (dtsc * 1e9) / dt : NaN, uncertaintyPpm: dt > 0 ? (Number(a.halfBracketNs + b.halfBracketNs) / dt) * 1e6 : Infinity });
  }
  const valid = raw.filter((w) => Number.isFinite(w.hz) && w.hz > 0);
  const med = median(valid.map((w) => w.hz));
  const mad = median(valid.map((w) => Math.abs(w.hz - med)));
  const windows: TscWindow[] = raw.map((w) => {
    const limit = Math.max(5 * mad, med * 100e-6, med * 2 * w.uncertaintyPpm * 1e-6);
    return {
      hz: w.hz,
      durationNs: w.dt,
      uncertaintyPpm: w.uncertaintyPpm,
      rejected: !(Number.isFinite(w.hz) && w.hz > 0 && Math.abs(w.hz - med) <= limit),
    };
  });
  const kept = raw.filter((_, i) => !windows[i]!.rejected);
  const sumT = kept.reduce((s, w) => s + w.dt, 0);
  const sumTsc = kept.reduce((s, w) => s + w.dtsc, 0);
  const hz = sumT > 0 ? (sumTsc * 1e9) / sumT : NaN;
  const hzs = kept.map((w) => w.hz);
  const spreadPpm = hzs.length > 1 ? ((Math.max(...hzs) - Math.min(...hzs)) / 2 / hz) * 1e6 : 0;
  return { hz, spreadPpm, windows, clock: clock.name, elapsedMs: Number(clock.nowNs() - started) / 1e6 };
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
