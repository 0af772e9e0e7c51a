/**
 * The guest's CPUID table: a CPU profile, masked of what a guest must not see,
 * plus topology for N vCPUs, the Hyper-V interface with exact frequency MSRs,
 * the invariant-TSC bit, and (for Intel-vendor guests) leaves 0x15/0x16.
 *
 * One clock contract: `tscHz` is the guest TSC rate and `apicTimerHz` the rate at
 * which the backend really runs the local APIC timer. Every place a guest can
 * learn either (0x15 ECX, 0x16, 0x40000010, the Hyper-V MSRs) is derived from
 * these two values here, so they cannot disagree.
 */
import { bit, leafKey, setBits, SUBLEAF_INDEXED, type CpuidLeaf, type CpuidRegisters, type CpuVendor } from './cpuid-leaf.ts';
import type { CpuProfile } from './cpu-profiles.ts';
import { buildHyperVInterface, type HyperVFeatures, type SyntheticMsr } from './hyperv-leaves.ts';
import { encodeLeaf15, encodeLeaf16, type Leaf15Encoding } from './tsc-leaves.ts';
import {
  amdTopologyLeaf80000008,
  checkVcpuCount,
  extendedTopologyBeyond,
  extendedTopologyLeaves,
  topologyLeaf1,
  topologyLeaf4,
} from './topology.ts';

export interface CpuidModelOptions {
  readonly profile: CpuProfile;
  readonly vcpuCount: number;
  /** Guest TSC frequency in Hz (64-bit: never placed in a 32-bit register as Hz). */
  readonly tscHz: bigint;
  /** Rate of the backend's local APIC timer in Hz (WHP: InterruptClockFrequency). Must be < 2^32. */
  readonly apicTimerHz: bigint;
  /** Hyper-V interface features, or false for no hypervisor leaves at all. Default: enabled with defaults. */
  readonly hyperV?: HyperVFeatures | false;
  /** CPUID 0x80000007 EDX[8]. Default true: the backend's TSC runs at a constant rate. */
  readonly invariantTsc?: boolean;
  /** CPUID 6 EAX[2] ARAT: the APIC timer keeps running in idle states (true of both backends). Default true. */
  readonly arat?: boolean;
}

export interface CpuidModel {
  readonly profileName: string;
  readonly vendorString: string;
  readonly vendor: CpuVendor;
  readonly vcpuCount: number;
  readonly tscHz: bigint;
  readonly apicTimerHz: bigint;
  readonly maxBasicLeaf: number;
  readonly maxExtendedLeaf: number;
  /** Leaf 0x15 encoding (Intel-vendor guests only). */
  readonly leaf15?: Leaf15Encoding;
  /** The synthetic MSRs the backend must answer (empty without the Hyper-V interface). */
  readonly msrs: readonly SyntheticMsr[];
  /** The full table as vCPU 0 sees it, sorted by leaf then subleaf. */
  readonly leaves: readonly CpuidLeaf[];
  /** The table as vCPU `vcpu` sees it (APIC-ID fields differ). */
  leavesForVcpu(vcpu: number): CpuidLeaf[];
  /** What CPUID returns on vCPU `vcpu` for any input, with the vendor's out-of-range rules. */
  lookup(leaf: number, subleaf: number, vcpu?: number): CpuidRegisters;
}

/** Basic leaves a guest gets from the profile; every other basic leaf reads as zeros. */
const KEPT_BASIC = new Set([0x0, 0x1, 0x2, 0x4, 0x6, 0x7, 0xb, 0xd, 0x1f]);
/** Extended leaves kept; the guest's maximum extended leaf is capped at 0x80000008. */
const MAX_EXTENDED = 0x80000008;

// Leaf 1 ECX bits a guest must not see (Intel SDM vol. 2A, "Feature Information Returned in ECX"):
// DTES64, MONITOR, DS-CPL, VMX, SMX, EST, TM2, SDBG, xTPR, PDCM (no PMU), DCA; OSXSAVE mirrors the
// guest's CR4 at run time and is the backend's job.
const LEAF1_ECX_MASK = [2, 3, 4, 5, 6, 7, 8, 11, 14, 15, 18, 27].reduce((m, b) => m | bit(b), 0) >>> 0;
const LEAF1_ECX_HYPERVISOR = bit(31);
// Leaf 1 EDX: MCE, MCA (no machine-check banks), DS, ACPI (thermal MSRs), HTT (recomputed), TM, PBE.
const LEAF1_EDX_MASK = [7, 14, 21, 22, 28, 29, 31].reduce((m, b) => m | bit(b), 0) >>> 0;
// Leaf 7.0 EBX: SGX, RDT-M, RDT-A, Intel PT. ECX: WAITPKG, SGX-LC, PKS. EDX: hybrid, PCONFIG, arch LBR, AMX.
const LEAF7_EBX_MASK = [2, 12, 15, 25].reduce((m, b) => m | bit(b), 0) >>> 0;
const LEAF7_ECX_MASK = [5, 30, 31].reduce((m, b) => m | bit(b), 0) >>> 0;
const LEAF7_EDX_MASK = [15, 18, 19, 22, 24, 25].reduce((m, b) => m | bit(b), 0) >>> 0;
// 0xD: AMX tile state (components 17, 18) in XCR0, Intel PT (8) in IA32_XSS.
const XCR0_AMX_MASK = bit(17) | bit(18);
const XSS_PT_MASK = bit(8);
// 0x80000001 ECX (AMD APM vol. 3, E.4.2): SVM, IBS, SKINIT, WDT, TOPOEXT (topology comes from
// 0x80000008 instead), PerfCtrExtCore, PerfCtrExtNB, DataBkptExt, PerfCtrExtLLC, MWAITX; CmpLegacy recomputed.
const EXT1_ECX_MASK = [1, 2, 10, 12, 13, 22, 23, 24, 26, 28, 29].reduce((m, b) => m | bit(b), 0) >>> 0;
const EXT1_ECX_CMP_LEGACY = bit(1);
const INVARIANT_TSC = bit(8);
const ARAT = bit(2);

export function buildCpuidModel(options: CpuidModelOptions): CpuidModel {
  const { profile } = options;
  const vcpuCount = checkVcpuCount(options.vcpuCount);
  if (options.apicTimerHz < 1000n || options.apicTimerHz > 0xffff_ffffn) {
    throw new RangeError(`APIC timer frequency ${options.apicTimerHz} Hz is outside 1 kHz … 2^32−1 Hz`);
  }
  const intel = profile.vendorString === 'GenuineIntel';
  const amdTopology = profile.vendor === 'amd';
  const byKey = new Map<string, CpuidLeaf>();
  for (const l of profile.leaves) byKey.set(leafKey(l.leaf, l.subleaf), l);
  const get = (leaf: number, subleaf = 0) => byKey.get(leafKey(leaf, subleaf));
  const l0 = get(0);
  if (!l0) throw new RangeError(`CPU profile '${profile.name}' has no leaf 0`);

  const profileMaxBasic = l0.eax;
  // Intel-vendor guests need leaves 0x15/0x16 visible (Linux checks cpuid_level ≥ 0x15).
  const maxBasic = Math.min(Math.max(profileMaxBasic, intel ? 0x16 : 0), 0x1f);
  const profileMaxExt = get(0x80000000)?.eax ?? 0x80000000;
  const maxExt = Math.min(Math.max(profileMaxExt, 0x80000000), MAX_EXTENDED);

  const out = new Map<string, CpuidLeaf>();
  const put = (l: CpuidLeaf) => out.set(leafKey(l.leaf, l.subleaf), l);

  // Kept basic leaves, masked.
  for (const l of profile.leaves) {
    if (l.leaf <= maxBasic && l.leaf <= profileMaxBasic && KEPT_BASIC.has(l.leaf)) put(maskBasic(l));
    if (l.leaf >= 0x80000000 && l.leaf <= maxExt && l.leaf <= profileMaxExt) put(maskExtended(l, vcpuCount, amdTopology));
  }
  put({ ...l0, eax: maxBasic });
  const e0 = get(0x80000000);
  put({ leaf: 0x80000000, subleaf: 0, eax: maxExt, ebx: e0?.ebx ?? 0, ecx: e0?.ecx ?? 0, edx: e0?.edx ?? 0 });

  // Leaf 6: only ARAT survives (no turbo, HWP, thermal or energy interfaces).
  if (maxBasic >= 6) put({ leaf: 6, subleaf: 0, eax: options.arat ?? true ? ARAT : 0, ebx: 0, ecx: 0, edx: 0 });

  // Leaf 4: cache sharing per topology; the last level listed is shared by all vCPUs.
  const leaf4 = profile.leaves.filter((l) => l.leaf === 4 && profileMaxBasic >= 4).sort((a, b) => a.subleaf - b.subleaf);
  const lastReal = leaf4.filter((l) => (l.eax & 0x1f) !== 0).at(-1);
  for (const l of leaf4) put(topologyLeaf4(l, vcpuCount, l === lastReal));

  // Leaf 0xD: drop AMX and PT state components.
  for (const l of profile.leaves) {
    if (l.leaf !== 0xd || profileMaxBasic < 0xd) continue;
    if (l.subleaf === 0) put({ ...l, eax: (l.eax & ~XCR0_AMX_MASK) >>> 0 });
    else if (l.subleaf === 1) put({ ...l, ecx: (l.ecx & ~XSS_PT_MASK) >>> 0 });
    else if (l.subleaf === 8 || l.subleaf === 17 || l.subleaf === 18) out.delete(leafKey(0xd, l.subleaf));
  }

  // Topology for vCPU 0 (others are patched in leavesForVcpu).
  for (const [k, l] of out) if (l.leaf === 0xb || l.leaf === 0x1f) out.delete(k);
  if (maxBasic >= 0xb) for (const l of extendedTopologyLeaves(0xb, vcpuCount, 0)) put(l);
  if (maxBasic >= 0x1f && get(0x1f)) for (const l of extendedTopologyLeaves(0x1f, vcpuCount, 0)) put(l);
  const l1 = out.get(leafKey(1, 0));
  if (l1) put(topologyLeaf1(l1, vcpuCount, 0));

  // TSC frequency leaves (Intel vendor only: Linux reads them nowhere else).
  let leaf15: Leaf15Encoding | undefined;
  if (intel) {
    leaf15 = encodeLeaf15(options.tscHz, Number(options.apicTimerHz));
    put({ leaf: 0x15, subleaf: 0, eax: leaf15.eax, ebx: leaf15.ebx, ecx: leaf15.ecx, edx: 0 });
    put({ leaf: 0x16, subleaf: 0, ...encodeLeaf16(options.tscHz, Number(options.apicTimerHz)) });
  }

  // Invariant TSC.
  if (maxExt >= 0x80000007) {
    put({ leaf: 0x80000007, subleaf: 0, eax: 0, ebx: 0, ecx: 0, edx: options.invariantTsc ?? true ? INVARIANT_TSC : 0 });
  }

  // Hypervisor bit and the Hyper-V interface.
  let msrs: readonly SyntheticMsr[] = [];
  const l1b = out.get(leafKey(1, 0));
  if (l1b) put({ ...l1b, ecx: (l1b.ecx | LEAF1_ECX_HYPERVISOR) >>> 0 });
  if (options.hyperV !== false) {
    const hv = buildHyperVInterface({ tscHz: options.tscHz, apicTimerHz: options.apicTimerHz }, vcpuCount, options.hyperV ?? {});
    for (const l of hv.leaves) put(l);
    msrs = hv.msrs;
  }

  const leaves = [...out.values()].sort((a, b) => a.leaf - b.leaf || a.subleaf - b.subleaf);
  const perVcpu = new Map<number, CpuidLeaf[]>([[0, leaves]]);
  const leavesForVcpu = (vcpu: number): CpuidLeaf[] => {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= vcpuCount) throw new RangeError(`vCPU ${vcpu} is outside 0…${vcpuCount - 1}`);
    let t = perVcpu.get(vcpu);
    if (!t) {
      t = leaves.map((l) => {
        if (l.leaf === 1) return topologyLeaf1(l, vcpuCount, vcpu);
        if (l.leaf === 0xb || l.leaf === 0x1f) return { ...l, edx: vcpu };
        return l;
      });
      perVcpu.set(vcpu, t);
    }
    return t;
  };
  const index = new Map<number, Map<string, CpuidLeaf>>();
  const lookup = (leaf: number, subleaf: number, vcpu = 0): CpuidRegisters => {
    let m = index.get(vcpu);
    if (!m) {
      m = new Map(leavesForVcpu(vcpu).map((l) => [leafKey(l.leaf, l.subleaf), l]));
      index.set(vcpu, m);
    }
    leaf >>>= 0;
    subleaf >>>= 0;
    const inBasic = leaf <= maxBasic;
    const inExt = leaf >= 0x80000000 && leaf <= maxExt;
    const inHv = leaf >= 0x40000000 && leaf <= 0x4fffffff && options.hyperV !== false;
    if (!inBasic && !inExt && !inHv) {
      // Intel returns the highest basic leaf for an out-of-range input (SDM vol. 2A, CPUID);
      // AMD returns zeros (APM vol. 3, CPUID).
      if (intel && !(leaf >= 0x40000000 && leaf <= 0x4fffffff)) leaf = maxBasic;
      else return [0, 0, 0, 0];
    }
    const hit = m.get(leafKey(leaf, subleaf));
    if (hit) return [hit.eax, hit.ebx, hit.ecx, hit.edx];
    if ((leaf === 0xb || leaf === 0x1f) && m.has(leafKey(leaf, 0))) {
      const b = extendedTopologyBeyond(leaf, subleaf, vcpu);
      return [b.eax, b.ebx, b.ecx, b.edx];
    }
    return [0, 0, 0, 0];
  };

  return {
    profileName: profile.name,
    vendorString: profile.vendorString,
    vendor: profile.vendor,
    vcpuCount,
    tscHz: options.tscHz,
    apicTimerHz: options.apicTimerHz,
    maxBasicLeaf: maxBasic,
    maxExtendedLeaf: maxExt,
    leaf15,
    msrs,
    leaves,
    leavesForVcpu,
    lookup,
  };
}

function maskBasic(l: CpuidLeaf): CpuidLeaf {
  switch (l.leaf) {
    case 1:
      // EBX[7:0] brand index cleared; EBX[31:16] is rewritten by topology.
      return { ...l, ebx: l.ebx & 0xff00, ecx: (l.ecx & ~LEAF1_ECX_MASK) >>> 0, edx: (l.edx & ~LEAF1_EDX_MASK) >>> 0 };
    case 7:
      if (l.subleaf !== 0) return l;
      return { ...l, ebx: (l.ebx & ~LEAF7_EBX_MASK) >>> 0, ecx: (l.ecx & ~LEAF7_ECX_MASK) >>> 0, edx: (l.edx & ~LEAF7_EDX_MASK) >>> 0 };
    default:
      return l;
  }
}

function maskExtended(l: CpuidLeaf, vcpuCount: number, amdTopology: boolean): CpuidLeaf {
  switch (l.leaf) {
    case 0x80000001:
      return { ...l, ecx: setBits((l.ecx & ~EXT1_ECX_MASK) >>> 0, EXT1_ECX_CMP_LEGACY, amdTopology && vcpuCount > 1) };
    case 0x80000008:
      return amdTopology ? amdTopologyLeaf80000008(l, vcpuCount) : { ...l, ecx: 0 };
    default:
      return l;
  }
}

/** Whether a leaf number belongs to a subleaf-indexed leaf (re-exported for backends' CPUID exit handlers). */
export function isSubleafIndexed(leaf: number): boolean {
  return SUBLEAF_INDEXED.has(leaf >>> 0);
}
