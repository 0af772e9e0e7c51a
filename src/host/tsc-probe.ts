/**
 * Runs every host TSC-frequency method and picks one (tsc-estimates.ts has the
 * rule). Used by `krun-whp probe-tsc`, and by the WHP backend to choose the
 * frequency it gives guests.
 */
import { HostError } from '../errors.ts';
import { loadKoffi } from '../native/koffi.ts';
import { captureCpuProfile, type CpuProfile } from '../x86/cpuid/cpu-profiles.ts';
import { readHostCpuInfo, type HostCpuInfo } from './host-cpu.ts';
import { readKernelTsc, type KernelTscReading } from './kernel-tsc.ts';
import { defaultMonotonicClock, type MonotonicClock } from './monotonic-clock.ts';
import { createHostThunks, thunkUnsupportedReason, type HostThunks } from './native-thunk.ts';
import { calibrateTsc, type TscCalibration } from './tsc-calibration.ts';
import { chooseTscEstimate, cpuidEstimates, kernelEstimate, TSC_METHODS, type ChosenTsc, type TscEstimate } from './tsc-estimates.ts';
import { whpClockSource, type WhpClockReading, type WhpClockSource } from './whp-clock.ts';

export interface ProbeTscOptions {
  /** Total calibration time. Default 50 ms (5 windows of 10 ms: tens of ppm). */
  readonly durationMs?: number;
  readonly whp?: WhpClockSource;
  /** Kernel-reported readings (Linux); default reads sysfs, /dev/kmsg and /proc/cpuinfo. */
  readonly kernel?: () => KernelTscReading[];
  readonly clock?: MonotonicClock;
  readonly thunks?: HostThunks;
  /** Called around the calibration (for a spinner). */
  readonly onCalibration?: (phase: 'start' | 'end') => void;
}

export interface HostTscProbe {
  readonly cpu: HostCpuInfo;
  /** The host's CPUID as a profile (what a WHP partition's CPU offers). */
  readonly profile: CpuProfile;
  /** One entry per method in TSC_METHODS order. */
  readonly estimates: readonly TscEstimate[];
  readonly calibration?: TscCalibration;
  readonly whp: WhpClockReading;
  readonly chosen?: ChosenTsc;
}

export async function probeHostTsc(options: ProbeTscOptions = {}): Promise<HostTscProbe> {
  const unsupported = thunkUnsupportedReason();
  if (unsupported && !options.thunks) throw new HostError(unsupported, { hint: 'probe-tsc needs an x86-64 Linux or Windows host' });
  let thunks = options.thunks;
  if (!thunks) {
    try {
      thunks = createHostThunks(loadKoffi());
    } catch (err) {
      if (err instanceof HostError) throw err;
      throw new HostError(`cannot run the CPUID/RDTSC thunk: ${(err as Error).message}`, { hint: 'koffi must load for this platform (npm install koffi)', cause: err });
    }
  }
  try {
    // Calibration mostly sleeps between its time points, so the other methods run
    // while it waits: a late timer only lengthens a window, which is measured anyway.
    options.onCalibration?.('start');
    const clock = options.clock ?? defaultMonotonicClock();
    const rdtsc = thunks.rdtsc.bind(thunks);
    const calibrating = calibrateTsc(rdtsc, clock, { durationMs: options.durationMs ?? 50 }).finally(() => options.onCalibration?.('end'));
    calibrating.catch(() => {}); // awaited below; avoid an unhandled rejection while the other methods run

    const read = thunks.cpuid.bind(thunks);
    const cpu = readHostCpuInfo(read);
    const profile = captureCpuProfile(read, 'host');
    const estimates: TscEstimate[] = [...cpuidEstimates(cpu)];

    const whp = await (options.whp ?? whpClockSource)();
    estimates.push(
      whp.available && whp.processorClockHz
        ? { method: 'whp-capability', hz: Number(whp.processorClockHz), spreadPpm: 0, detail: whp.detail }
        : { method: 'whp-capability', hz: null, spreadPpm: null, detail: whp.detail },
    );

    if (options.kernel || process.platform === 'linux') {
      for (const r of (options.kernel ?? readKernelTsc)()) estimates.push(kernelEstimate(r.method, r.khz, r.detail));
    } else {
      for (const method of ['kernel-sysfs', 'kernel-log', 'kernel-cpuinfo'] as const) {
        estimates.push({ method, hz: null, spreadPpm: null, detail: 'unavailable: not Linux' });
      }
    }

    const calibration: TscCalibration = await calibrating;
    const kept = calibration.windows.filter((w) => !w.rejected).length;
    estimates.push(
      Number.isFinite(calibration.hz) && calibration.hz > 0
        ? {
            method: 'calibrated',
            hz: Math.round(calibration.hz),
            spreadPpm: calibration.spreadPpm,
            detail: `RDTSC vs ${calibration.clock}: ${kept}/${calibration.windows.length} windows kept over ${calibration.elapsedMs.toFixed(0)} ms`,
          }
        : { method: 'calibrated', hz: null, spreadPpm: null, detail: 'unavailable: the TSC did not advance against the monotonic clock' },
    );

    const ordered = TSC_METHODS.map((m) => estimates.find((e) => e.method === m)!).filter(Boolean);
    return { cpu, profile, estimates: ordered, calibration, whp, chosen: chooseTscEstimate(ordered) };
  } finally {
    if (!options.thunks) thunks.dispose();
  }
}
