/**
 * Host TSC frequency estimates from every method, and the rule that picks one.
 *
 * Selection rule (first available estimate in this order wins, except that a
 * declared value more than 1% away from a tight calibration — spread below
 * 1000 ppm — is passed over as implausible, e.g. firmware that misreports):
 *   1. cpuid-0x15             hardware-declared: crystal Hz × EBX / EAX (ECX ≠ 0)
 *   2. whp-capability         WHvCapabilityCodeProcessorClockFrequency
 *   3. hypervisor-0x40000010  the host's own hypervisor timing leaf (TSC kHz)
 *   4. kernel-sysfs           /sys/…/tsc_freq_khz
 *   5. kernel-log             tsc: Refined/Detected lines in the kernel log
 *   6. kernel-cpuinfo         /proc/cpuinfo cpu MHz with tsc_known_freq/constant_tsc
 *   7. cpuid-0x15+0x16        0x16 base MHz through the 0x15 ratio (MHz resolution)
 *   8. calibrated             RDTSC against the OS monotonic clock
 * spreadPpm is the measured spread for `calibrated` and the value's resolution
 * (half a unit of its last digit) for declared values.
 */
import type { HostCpuInfo } from './host-cpu.ts';

export const TSC_METHODS = [
  'cpuid-0x15',
  'whp-capability',
  'hypervisor-0x40000010',
  'kernel-sysfs',
  'kernel-log',
  'kernel-cpuinfo',
  'cpuid-0x15+0x16',
  'calibrated',
] as const;
export type TscMethod = (typeof TSC_METHODS)[number];

export interface TscEstimate {
  readonly method: TscMethod;
  /** Estimated TSC frequency in Hz, or null when the method gave nothing here. */
  readonly hz: number | null;
  readonly spreadPpm: number | null;
  /** Where the value came from, or "unavailable: why". */
  readonly detail: string;
}

export interface ChosenTsc {
  readonly hz: number;
  readonly method: TscMethod;
  /** Why this one: the rule, and anything passed over. */
  readonly reason: string;
}

const resolutionPpm = (hz: number, unitHz: number) => (unitHz / 2 / hz) * 1e6;

/** Estimates from the host's CPUID leaves 0x15/0x16 and the hypervisor timing leaf. */
export function cpuidEstimates(cpu: HostCpuInfo): TscEstimate[] {
  const out: TscEstimate[] = [];
  const l15 = cpu.leaf15;
  if (!l15) {
    const why = `unavailable: maximum basic leaf 0x${cpu.maxBasicLeaf.toString(16)} < 0x15`;
    out.push({ method: 'cpuid-0x15', hz: null, spreadPpm: null, detail: why }, { method: 'cpuid-0x15+0x16', hz: null, spreadPpm: null, detail: why });
  } else {
    const ratioOk = l15.eax !== 0 && l15.ebx !== 0;
    if (ratioOk && l15.ecx !== 0) {
      const hz = Number((BigInt(l15.ecx) * BigInt(l15.ebx)) / BigInt(l15.eax));
      out.push({ method: 'cpuid-0x15', hz, spreadPpm: 0, detail: `crystal ${l15.ecx} Hz × ${l15.ebx} / ${l15.eax}` });
    } else {
      out.push({ method: 'cpuid-0x15', hz: null, spreadPpm: null, detail: ratioOk ? 'unavailable: leaf 0x15 ECX (crystal Hz) is 0' : 'unavailable: leaf 0x15 EAX or EBX is 0' });
    }
    const base = cpu.leaf16?.eax ?? 0;
    if (ratioOk && base !== 0) {
      // Linux's fallback: crystal_khz = base_mhz·1000·EAX/EBX, tsc_khz = crystal_khz·EBX/EAX.
      const crystalKhz = Math.floor((base * 1000 * l15.eax) / l15.ebx);
      const khz = Math.floor((crystalKhz * l15.ebx) / l15.eax);
      out.push({ method: 'cpuid-0x15+0x16', hz: khz * 1000, spreadPpm: resolutionPpm(khz * 1000, 1e6), detail: `0x16 base ${base} MHz through the 0x15 ratio ${l15.ebx}/${l15.eax}` });
    } else {
      out.push({ method: 'cpuid-0x15+0x16', hz: null, spreadPpm: null, detail: !cpu.leaf16 ? `unavailable: maximum basic leaf 0x${cpu.maxBasicLeaf.toString(16)} < 0x16` : 'unavailable: leaf 0x16 base MHz or the 0x15 ratio is 0' });
    }
  }
  if (cpu.hypervisorTiming) {
    const hz = cpu.hypervisorTiming.tscKhz * 1000;
    out.push({ method: 'hypervisor-0x40000010', hz, spreadPpm: resolutionPpm(hz, 1000), detail: `${cpu.hypervisor?.signature} timing leaf: ${cpu.hypervisorTiming.tscKhz} kHz` });
  } else {
    out.push({
      method: 'hypervisor-0x40000010',
      hz: null,
      spreadPpm: null,
      detail: cpu.hypervisor
        ? `unavailable: hypervisor ${JSON.stringify(cpu.hypervisor.signature)} has no timing leaf (max leaf 0x${cpu.hypervisor.maxLeaf.toString(16)})`
        : 'unavailable: no hypervisor',
    });
  }
  return out;
}

export function kernelEstimate(method: 'kernel-sysfs' | 'kernel-log' | 'kernel-cpuinfo', khz: number | undefined, detail: string): TscEstimate {
  return khz ? { method, hz: khz * 1000, spreadPpm: resolutionPpm(khz * 1000, 1000), detail } : { method, hz: null, spreadPpm: null, detail };
}

export function chooseTscEstimate(estimates: readonly TscEstimate[]): ChosenTsc | undefined {
  const calibrated = estimates.find((e) => e.method === 'calibrated' && e.hz !== null);
  const tight = calibrated && calibrated.spreadPpm !== null && calibrated.spreadPpm < 1000 ? calibrated.hz! : undefined;
  const passed: string[] = [];
  for (const method of TSC_METHODS) {
    const e = estimates.find((x) => x.method === method && x.hz !== null && x.hz > 0);
    if (!e) continue;
    if (tight !== undefined && method !== 'calibrated' && Math.abs(e.hz! - tight) / tight > 0.01) {
      passed.push(`${method} (${(e.hz! / 1e6).toFixed(3)} MHz is more than 1% from the calibrated ${(tight / 1e6).toFixed(3)} MHz)`);
      continue;
    }
    const reason = `first available in the order ${TSC_METHODS.join(' > ')}` + (passed.length ? `; passed over: ${passed.join('; ')}` : '');
    return { hz: e.hz!, method, reason };
  }
  return undefined;
}
