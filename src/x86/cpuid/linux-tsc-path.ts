/**
 * What a Linux 6.1 guest does with a CPUID table and MSR values to learn its
 * TSC frequency: which path it takes, the tsc_khz it ends up with, whether it
 * treats the frequency as known (skipping PIT calibration and refinement), and
 * the LAPIC timer period it presets. This mirrors, step by step and in the same
 * integer widths:
 *  - arch/x86/kernel/cpu/mshyperv.c: ms_hyperv_platform(), ms_hyperv_init_platform();
 *  - arch/x86/kernel/tsc.c: native_calibrate_tsc(), cpu_khz_from_cpuid(),
 *    determine_cpu_tsc_frequencies().
 * It is used by `probe-tsc` to say which path a guest would take, and by tests.
 */
import { hypervisorSignatureFromRegisters, vendorStringFromRegisters, type CpuidRegisters } from './cpuid-leaf.ts';
import {
  HV_ACCESS_FREQUENCY_MSRS,
  HV_ACCESS_TSC_INVARIANT,
  HV_FEATURE_FREQUENCY_MSRS_AVAILABLE,
  HV_MSR_HYPERCALL_AVAILABLE,
  HV_MSR_VP_INDEX_AVAILABLE,
  HV_X64_MSR_APIC_FREQUENCY,
  HV_X64_MSR_TSC_FREQUENCY,
  HYPERV_CPUID_MAX,
  HYPERV_CPUID_MIN,
  HYPERV_SIGNATURE,
} from './hyperv-leaves.ts';

export type LinuxTscPath = 'hyperv-frequency-msrs' | 'cpuid-0x15' | 'legacy-timer-calibration';

export interface LinuxTscOutcome {
  readonly path: LinuxTscPath;
  /** tsc_khz after early calibration; undefined when Linux must calibrate against the PIT/HPET/PM timer. */
  readonly tscKhz?: number;
  /** cpu_khz after determine_cpu_tsc_frequencies(). */
  readonly cpuKhz?: number;
  /** X86_FEATURE_TSC_KNOWN_FREQ set: no PIT calibration, no refinement. */
  readonly knownFreq: boolean;
  /** lapic_timer_period preset for this HZ, if the path presets it. */
  readonly lapicTimerPeriod?: number;
  /** The timer frequency that period implies (period × HZ), in Hz. */
  readonly lapicTimerHz?: number;
  /** Whether Linux would call mark_tsc_unstable("running on Hyper-V"). */
  readonly tscMarkedUnstable: boolean;
  /** One line for humans. */
  readonly explanation: string;
}

/**
 * @param cpuid   the guest's CPUID (vCPU 0)
 * @param rdmsr   the guest's MSR values (undefined = the MSR raises #GP)
 * @param hz      the guest kernel's CONFIG_HZ (Debian: 250)
 */
export function linuxTscOutcome(cpuid: (leaf: number, subleaf: number) => CpuidRegisters, rdmsr: (msr: number) => bigint | undefined, hz = 250): LinuxTscOutcome {
  const [maxBasic, vEbx, vEcx, vEdx] = cpuid(0, 0);
  const vendor = vendorStringFromRegisters(vEbx, vEcx, vEdx);
  const hypervisorBit = ((cpuid(1, 0)[2] >>> 31) & 1) === 1;

  // ms_hyperv_platform()
  let hyperv = false;
  let hypervNote = '';
  if (hypervisorBit) {
    const [maxHv, s1, s2, s3] = cpuid(0x40000000, 0);
    const signature = hypervisorSignatureFromRegisters(s1, s2, s3);
    if (signature === HYPERV_SIGNATURE && maxHv >= HYPERV_CPUID_MIN && maxHv <= HYPERV_CPUID_MAX) {
      const features = cpuid(0x40000003, 0)[0];
      if (!(features & HV_MSR_HYPERCALL_AVAILABLE)) hypervNote = 'Hyper-V signature present but HYPERCALL MSR not available';
      else if (!(features & HV_MSR_VP_INDEX_AVAILABLE)) hypervNote = 'Hyper-V signature present but VP_INDEX MSR not available';
      else hyperv = true;
    }
  }

  if (hyperv) {
    const [features, , , misc] = cpuid(0x40000003, 0);
    const unstable = !(features & HV_ACCESS_TSC_INVARIANT);
    if (features & HV_ACCESS_FREQUENCY_MSRS && misc & HV_FEATURE_FREQUENCY_MSRS_AVAILABLE) {
      const tscHz = rdmsr(HV_X64_MSR_TSC_FREQUENCY);
      const apicHz = rdmsr(HV_X64_MSR_APIC_FREQUENCY);
      if (tscHz === undefined || apicHz === undefined) {
        return {
          path: 'hyperv-frequency-msrs',
          knownFreq: false,
          tscMarkedUnstable: unstable,
          explanation: 'Hyper-V frequency MSRs advertised but the backend does not answer them: the guest takes #GP',
        };
      }
      const tscKhz = Number(tscHz / 1000n); // hv_get_tsc_khz(): freq / 1000 in unsigned long
      const period = Number((apicHz / BigInt(hz)) & 0xffff_ffffn); // lapic_timer_period is a u32
      return {
        path: 'hyperv-frequency-msrs',
        tscKhz,
        cpuKhz: tscKhz, // calibrate_cpu = hv_get_tsc_khz as well
        knownFreq: true,
        lapicTimerPeriod: period,
        lapicTimerHz: period * hz,
        tscMarkedUnstable: unstable,
        explanation:
          `Hyper-V detected; tsc_khz = HV_X64_MSR_TSC_FREQUENCY / 1000 = ${tscKhz}, LAPIC period from HV_X64_MSR_APIC_FREQUENCY` +
          (unstable ? '; TSC marked unstable (no HV_ACCESS_TSC_INVARIANT)' : ''),
      };
    }
    hypervNote = 'Hyper-V detected without frequency MSRs';
  }

  if (vendor === 'GenuineIntel' && maxBasic >= 0x15) {
    const r = nativeCalibrateTsc(cpuid, maxBasic, hz);
    if (r.tscKhz !== 0) {
      // determine_cpu_tsc_frequencies(): cpu_khz from 0x16 unless > 10% off tsc_khz.
      let cpuKhz = maxBasic >= 0x16 ? Math.imul(cpuid(0x16, 0)[0], 1000) >>> 0 : 0;
      if (Math.abs(cpuKhz - r.tscKhz) * 10 > r.tscKhz) cpuKhz = r.tscKhz;
      return {
        path: 'cpuid-0x15',
        tscKhz: r.tscKhz,
        cpuKhz,
        knownFreq: r.knownFreq,
        lapicTimerPeriod: r.lapicTimerPeriod,
        lapicTimerHz: r.lapicTimerPeriod === undefined ? undefined : r.lapicTimerPeriod * hz,
        // ms_hyperv_init_platform() marks the TSC unstable without HV_ACCESS_TSC_INVARIANT
        // whether or not the frequency MSRs were there (arch/x86/kernel/cpu/mshyperv.c).
        tscMarkedUnstable: hyperv && !(cpuid(0x40000003, 0)[0] & HV_ACCESS_TSC_INVARIANT),
        explanation: `native_calibrate_tsc(): crystal_khz = ECX/1000 = ${r.crystalKhz}, tsc_khz = crystal_khz × EBX / EAX = ${r.tscKhz}` + (hypervNote ? ` (${hypervNote})` : ''),
      };
    }
  }

  const why =
    vendor !== 'GenuineIntel'
      ? `vendor ${vendor} is not GenuineIntel, so CPUID 0x15/0x16 are ignored`
      : maxBasic < 0x15
        ? `maximum basic leaf ${maxBasic.toString(16)} < 0x15`
        : 'CPUID 0x15 gives no frequency';
  return {
    path: 'legacy-timer-calibration',
    knownFreq: false,
    tscMarkedUnstable: hyperv && !(cpuid(0x40000003, 0)[0] & HV_ACCESS_TSC_INVARIANT),
    explanation: `no paravirtual frequency (${hypervNote || 'no Hyper-V interface'}) and ${why}: the guest calibrates against the PIT/HPET/PM timer`,
  };
}

/** native_calibrate_tsc() after the vendor and cpuid_level checks, in 32-bit unsigned arithmetic. */
export function nativeCalibrateTsc(
  cpuid: (leaf: number, subleaf: number) => CpuidRegisters,
  maxBasic: number,
  hz = 250,
): { tscKhz: number; crystalKhz: number; knownFreq: boolean; lapicTimerPeriod?: number } {
  const [eaxDenominator, ebxNumerator, ecxHz] = cpuid(0x15, 0);
  if (ebxNumerator === 0 || eaxDenominator === 0) return { tscKhz: 0, crystalKhz: 0, knownFreq: false };
  let crystalKhz = Math.floor((ecxHz >>> 0) / 1000);
  const knownFreq = crystalKhz !== 0;
  if (crystalKhz === 0 && maxBasic >= 0x16) {
    const baseMhz = cpuid(0x16, 0)[0];
    // eax_base_mhz * 1000 * eax_denominator / ebx_numerator, each step wrapping at 32 bits.
    crystalKhz = Math.floor((Math.imul(Math.imul(baseMhz, 1000) >>> 0, eaxDenominator) >>> 0) / ebxNumerator);
  }
  if (crystalKhz === 0) return { tscKhz: 0, crystalKhz: 0, knownFreq };
  const lapicTimerPeriod = Math.floor((Math.imul(crystalKhz, 1000) >>> 0) / hz);
  const tscKhz = Math.floor((Math.imul(crystalKhz, ebxNumerator) >>> 0) / eaxDenominator);
  return { tscKhz, crystalKhz, knownFreq, lapicTimerPeriod };
}
