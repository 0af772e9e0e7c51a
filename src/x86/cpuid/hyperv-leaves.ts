/**
 * The Hyper-V hypervisor interface as a guest discovers it: CPUID leaves
 * 0x40000000 and up, and the synthetic frequency MSRs.
 *
 * Facts from Linux 6.1 (arch/x86/include/asm/hyperv-tlfs.h,
 * include/asm-generic/hyperv-tlfs.h, arch/x86/kernel/cpu/mshyperv.c):
 *  - ms_hyperv_platform() needs the hypervisor bit (CPUID.1:ECX[31]), the
 *    "Microsoft Hv" signature at 0x40000000 with EAX in [0x40000005, 0x4000ffff],
 *    and HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE in 0x40000003 EAX;
 *  - ms_hyperv_init_platform() takes the TSC frequency from
 *    HV_X64_MSR_TSC_FREQUENCY (64-bit Hz, tsc_khz = value / 1000) and the LAPIC
 *    timer period from HV_X64_MSR_APIC_FREQUENCY / HZ, and sets
 *    X86_FEATURE_TSC_KNOWN_FREQ, when 0x40000003 EAX has HV_ACCESS_FREQUENCY_MSRS
 *    (bit 11) AND 0x40000003 EDX has HV_FEATURE_FREQUENCY_MSRS_AVAILABLE (bit 8);
 *    this works for any CPU vendor, which makes it the path for AMD guests;
 *  - without HV_ACCESS_TSC_INVARIANT (EAX bit 15) it calls
 *    mark_tsc_unstable("running on Hyper-V"); with it, it writes 1 to
 *    HV_X64_MSR_TSC_INVARIANT_CONTROL and sets X86_FEATURE_TSC_RELIABLE.
 * Leaf 0x40000010 is the VMware-style timing leaf (EAX = TSC kHz, EBX = APIC bus
 * kHz) that FreeBSD, XNU and QEMU's vmware-cpuid-freq use; Linux 6.1 does not
 * read it under a Hyper-V signature, but it costs nothing and helps other guests.
 */
import { bit, hypervisorSignatureRegisters, u32, type CpuidLeaf } from './cpuid-leaf.ts';

export const HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS = 0x40000000;
export const HYPERV_CPUID_INTERFACE = 0x40000001;
export const HYPERV_CPUID_VERSION = 0x40000002;
export const HYPERV_CPUID_FEATURES = 0x40000003;
export const HYPERV_CPUID_ENLIGHTMENT_INFO = 0x40000004;
export const HYPERV_CPUID_IMPLEMENT_LIMITS = 0x40000005;
/** Linux HYPERV_CPUID_MIN: the smallest max-leaf value ms_hyperv_platform() accepts. */
export const HYPERV_CPUID_MIN = 0x40000005;
export const HYPERV_CPUID_MAX = 0x4000ffff;
/** VMware-style timing leaf: EAX = TSC kHz, EBX = APIC bus kHz. */
export const CPUID_TIMING_LEAF = 0x40000010;

export const HYPERV_SIGNATURE = 'Microsoft Hv';
/** "Hv#1" in 0x40000001 EAX: the Microsoft hypervisor interface. */
export const HYPERV_INTERFACE_HV1 = 0x31237648;

// 0x40000003 EAX: partition privilege mask, low half (include/asm-generic/hyperv-tlfs.h).
export const HV_MSR_VP_RUNTIME_AVAILABLE = bit(0);
export const HV_MSR_TIME_REF_COUNT_AVAILABLE = bit(1);
export const HV_MSR_SYNIC_AVAILABLE = bit(2);
export const HV_MSR_SYNTIMER_AVAILABLE = bit(3);
export const HV_MSR_APIC_ACCESS_AVAILABLE = bit(4);
export const HV_MSR_HYPERCALL_AVAILABLE = bit(5);
export const HV_MSR_VP_INDEX_AVAILABLE = bit(6);
export const HV_MSR_REFERENCE_TSC_AVAILABLE = bit(9);
export const HV_ACCESS_FREQUENCY_MSRS = bit(11);
export const HV_ACCESS_TSC_INVARIANT = bit(15);
// 0x40000003 EDX: miscellaneous features (arch/x86/include/asm/hyperv-tlfs.h).
export const HV_FEATURE_FREQUENCY_MSRS_AVAILABLE = bit(8);
// 0x40000004 EAX: implementation recommendations.
export const HV_X64_RELAXED_TIMING_RECOMMENDED = bit(5);

// Synthetic MSRs (arch/x86/include/asm/hyperv-tlfs.h).
export const HV_X64_MSR_GUEST_OS_ID = 0x40000000;
export const HV_X64_MSR_HYPERCALL = 0x40000001;
export const HV_X64_MSR_VP_INDEX = 0x40000002;
export const HV_X64_MSR_TIME_REF_COUNT = 0x40000020;
export const HV_X64_MSR_REFERENCE_TSC = 0x40000021;
export const HV_X64_MSR_TSC_FREQUENCY = 0x40000022;
export const HV_X64_MSR_APIC_FREQUENCY = 0x40000023;
export const HV_X64_MSR_VP_ASSIST_PAGE = 0x40000073;
export const HV_X64_MSR_TSC_INVARIANT_CONTROL = 0x40000118;

/** Which synthetic features the backend really implements (each flag is a promise to the guest). */
export interface HyperVFeatures {
  /** HV_X64_MSR_TIME_REF_COUNT (100 ns partition reference counter). Default false. */
  timeRefCount?: boolean;
  /** HV_X64_MSR_REFERENCE_TSC: the reference TSC page. Default false. */
  referenceTscPage?: boolean;
  /**
   * HV_ACCESS_TSC_INVARIANT: the backend accepts writes of 1 to
   * HV_X64_MSR_TSC_INVARIANT_CONTROL. Default true: without it Linux marks the TSC
   * unstable "running on Hyper-V" and a guest without the Hyper-V clocksources is
   * left with jiffies.
   */
  tscInvariant?: boolean;
  /** HV_X64_RELAXED_TIMING_RECOMMENDED hint (guest watchdogs should tolerate VM pauses). Default true. */
  relaxedTiming?: boolean;
}

export interface HyperVInterface {
  readonly leaves: readonly CpuidLeaf[];
  /** The values the backend must return for the synthetic MSRs this interface advertises. */
  readonly msrs: readonly SyntheticMsr[];
}

export interface SyntheticMsr {
  readonly msr: number;
  readonly name: string;
  /** The value RDMSR must return (64-bit). For write-only or guest-written MSRs, the reset value. */
  readonly value: bigint;
  /** 'read' = read-only constant, 'read-write' = guest writes and reads it back. */
  readonly access: 'read' | 'read-write';
}

/** The feature mask (0x40000003 EAX) for a feature set. */
export function hyperVFeatureMask(features: HyperVFeatures = {}): number {
  let eax = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | HV_ACCESS_FREQUENCY_MSRS;
  if (features.timeRefCount) eax |= HV_MSR_TIME_REF_COUNT_AVAILABLE;
  if (features.referenceTscPage) eax |= HV_MSR_REFERENCE_TSC_AVAILABLE;
  if (features.tscInvariant ?? true) eax |= HV_ACCESS_TSC_INVARIANT;
  return eax >>> 0;
}

/**
 * Builds leaves 0x40000000–0x40000010 and the MSR values. `tscHz` and
 * `apicTimerHz` are 64-bit: the MSRs carry them exactly; the timing leaf carries
 * them in kHz (32 bits hold up to ~4.29 THz).
 */
export function buildHyperVInterface(
  freq: { tscHz: bigint; apicTimerHz: bigint },
  vcpuCount: number,
  features: HyperVFeatures = {},
): HyperVInterface {
  const [sigEbx, sigEcx, sigEdx] = hypervisorSignatureRegisters(HYPERV_SIGNATURE);
  const leaf = (l: number, eax = 0, ebx = 0, ecx = 0, edx = 0): CpuidLeaf => ({ leaf: l, subleaf: 0, eax, ebx, ecx, edx });
  const leaves: CpuidLeaf[] = [
    leaf(HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS, CPUID_TIMING_LEAF, sigEbx, sigEcx, sigEdx),
    leaf(HYPERV_CPUID_INTERFACE, HYPERV_INTERFACE_HV1),
    // Version: EBX = major << 16 | minor. We claim interface version 10.0, build 0: no host build to report.
    leaf(HYPERV_CPUID_VERSION, 0, 0x000a0000),
    leaf(HYPERV_CPUID_FEATURES, hyperVFeatureMask(features), 0, 0, HV_FEATURE_FREQUENCY_MSRS_AVAILABLE),
    // EBX = 0xFFFFFFFF: "never notify" for spinlock retries (no long-spin hypercall implemented).
    leaf(HYPERV_CPUID_ENLIGHTMENT_INFO, features.relaxedTiming ?? true ? HV_X64_RELAXED_TIMING_RECOMMENDED : 0, 0xffff_ffff),
    leaf(HYPERV_CPUID_IMPLEMENT_LIMITS, u32(vcpuCount, 'vCPU count'), u32(vcpuCount, 'vCPU count')),
  ];
  for (let l = 0x40000006; l < CPUID_TIMING_LEAF; l++) leaves.push(leaf(l)); // hardware features, nested, isolation: none
  leaves.push(
    leaf(
      CPUID_TIMING_LEAF,
      u32(freq.tscHz / 1000n, 'TSC frequency in kHz (leaf 0x40000010 EAX)'),
      u32(freq.apicTimerHz / 1000n, 'APIC timer frequency in kHz (leaf 0x40000010 EBX)'),
    ),
  );

  // Besides the MSRs the feature bits name, a Linux guest with CONFIG_HYPERV writes these on
  // every Hyper-V it detects (arch/x86/hyperv/hv_init.c, 6.1): GUEST_OS_ID and HYPERCALL in
  // hyperv_init(), and VP_ASSIST_PAGE in hv_cpu_init() on each CPU, with no feature check. A
  // #GP on any of them is an "unchecked MSR access error" with a stack trace per CPU.
  // HYPERCALL only has to read back what was written (hv_is_hyperv_initialized() reads the
  // enable bit): with EBX of 0x40000003 = 0 (no partition-ID or extended-hypercall
  // privileges) and no hints that need one, 6.1 makes no hypercall, so no hypercall page is
  // filled in. The VP assist page is only written: nothing advertised makes Linux use it.
  const msrs: SyntheticMsr[] = [
    { msr: HV_X64_MSR_GUEST_OS_ID, name: 'HV_X64_MSR_GUEST_OS_ID', value: 0n, access: 'read-write' },
    { msr: HV_X64_MSR_HYPERCALL, name: 'HV_X64_MSR_HYPERCALL (reads back as written; no hypercall page is filled in)', value: 0n, access: 'read-write' },
    { msr: HV_X64_MSR_VP_INDEX, name: 'HV_X64_MSR_VP_INDEX (value for vCPU 0; vCPU i reads i)', value: 0n, access: 'read' },
    { msr: HV_X64_MSR_VP_ASSIST_PAGE, name: 'HV_X64_MSR_VP_ASSIST_PAGE (reads back as written; never used)', value: 0n, access: 'read-write' },
    { msr: HV_X64_MSR_TSC_FREQUENCY, name: 'HV_X64_MSR_TSC_FREQUENCY', value: freq.tscHz, access: 'read' },
    { msr: HV_X64_MSR_APIC_FREQUENCY, name: 'HV_X64_MSR_APIC_FREQUENCY', value: freq.apicTimerHz, access: 'read' },
  ];
  if (features.tscInvariant ?? true) {
    msrs.push({ msr: HV_X64_MSR_TSC_INVARIANT_CONTROL, name: 'HV_X64_MSR_TSC_INVARIANT_CONTROL', value: 0n, access: 'read-write' });
  }
  return { leaves, msrs };
}
