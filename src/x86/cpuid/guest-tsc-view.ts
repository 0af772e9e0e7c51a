/**
 * What a guest would see about time for a given CPU profile and clock pair: the
 * CPUID table, the MSR values the backend must answer, and the path a Linux
 * 6.1 guest takes through them. `probe-tsc` prints it; backends build the same
 * model with buildCpuidModel.
 */
import { buildCpuidModel, type CpuidModel } from './cpuid-model.ts';
import type { CpuProfile } from './cpu-profiles.ts';
import type { HyperVFeatures } from './hyperv-leaves.ts';
import { linuxTscOutcome, type LinuxTscOutcome } from './linux-tsc-path.ts';

/** The leaves through which a guest learns about time (human output shows these; JSON shows all). */
export const TIMING_LEAVES: readonly number[] = [0x0, 0x1, 0x15, 0x16, 0x40000000, 0x40000003, 0x40000010, 0x80000007];

export interface GuestTscView {
  readonly model: CpuidModel;
  readonly linux: LinuxTscOutcome;
}

export function guestTscView(profile: CpuProfile, tscHz: bigint, apicTimerHz: bigint, options: { vcpuCount?: number; hyperV?: HyperVFeatures | false; hz?: number } = {}): GuestTscView {
  const model = buildCpuidModel({ profile, vcpuCount: options.vcpuCount ?? 1, tscHz, apicTimerHz, hyperV: options.hyperV });
  const msrs = new Map(model.msrs.map((m) => [m.msr, m.value]));
  const linux = linuxTscOutcome(model.lookup, (msr) => msrs.get(msr), options.hz ?? 250);
  return { model, linux };
}
