/**
 * What the host CPU says about itself and its TSC, read through any CpuidReader
 * (the native thunk in practice, a table in tests). Leaves 0x15/0x16 and the
 * hypervisor timing leaf are read only after checking the maximum leaf that
 * covers them: out-of-range inputs return another leaf's data on Intel.
 */
import { brandString } from '../x86/cpuid/cpu-profiles.ts';
import {
  decodeSignature,
  hypervisorSignatureFromRegisters,
  vendorStringFromRegisters,
  type CpuidReader,
} from '../x86/cpuid/cpuid-leaf.ts';

export interface RawLeaf {
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export interface HostCpuInfo {
  readonly vendor: string;
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
  readonly brand?: string;
  readonly maxBasicLeaf: number;
  readonly maxExtendedLeaf: number;
  /** Leaf 0x15 registers, or undefined when the maximum basic leaf is below 0x15. */
  readonly leaf15?: RawLeaf;
  /** Leaf 0x16 registers, or undefined when the maximum basic leaf is below 0x16. */
  readonly leaf16?: RawLeaf;
  /** CPUID 0x80000007 EDX[8]. */
  readonly invariantTsc: boolean;
  /** CPUID 1 ECX[31]: running under a hypervisor. */
  readonly hypervisorPresent: boolean;
  /** The hypervisor's 0x40000000 signature (trailing NULs removed) and maximum leaf, when present. */
  readonly hypervisor?: { readonly signature: string; readonly maxLeaf: number };
  /** The hypervisor timing leaf 0x40000010 (EAX TSC kHz, EBX APIC kHz) when the hypervisor defines it. */
  readonly hypervisorTiming?: { readonly tscKhz: number; readonly apicKhz: number };
}

const raw = (r: readonly number[]): RawLeaf => ({ eax: r[0]! >>> 0, ebx: r[1]! >>> 0, ecx: r[2]! >>> 0, edx: r[3]! >>> 0 });

/** Hypervisors known to define 0x40000010 as the timing leaf (VMware's convention, adopted by KVM VMMs and ACRN). */
const TIMING_LEAF_SIGNATURES = new Set(['VMwareVMware', 'KVMKVMKVM', 'ACRNACRNACRN']);

export function readHostCpuInfo(read: CpuidReader): HostCpuInfo {
  const l0 = read(0, 0);
  const maxBasicLeaf = l0[0] >>> 0;
  const vendor = vendorStringFromRegisters(l0[1], l0[2], l0[3]);
  const l1 = maxBasicLeaf >= 1 ? read(1, 0) : ([0, 0, 0, 0] as const);
  const { family, model, stepping } = decodeSignature(l1[0]);
  const e0 = read(0x80000000, 0)[0] >>> 0;
  const maxExtendedLeaf = e0 >= 0x80000000 && e0 <= 0x8000ffff ? e0 : 0;
  const ext = (leaf: number) => (maxExtendedLeaf >= leaf ? read(leaf, 0) : undefined);
  const hypervisorPresent = ((l1[2] >>> 31) & 1) === 1;

  let hypervisor: HostCpuInfo['hypervisor'];
  let hypervisorTiming: HostCpuInfo['hypervisorTiming'];
  if (hypervisorPresent) {
    const h = read(0x40000000, 0);
    // Trailing NULs pad short signatures ("KVMKVMKVM\0\0\0").
    const signature = hypervisorSignatureFromRegisters(h[1], h[2], h[3]).replace(/\0+$/, '');
    // Some hypervisors (old KVM) report 0 as the max leaf; treat that as 0x40000001 (Linux does the same for KVM).
    const maxLeaf = h[0] >>> 0 || 0x40000001;
    hypervisor = { signature, maxLeaf };
    if (maxLeaf >= 0x40000010 && TIMING_LEAF_SIGNATURES.has(signature)) {
      const t = read(0x40000010, 0);
      if (t[0] !== 0) hypervisorTiming = { tscKhz: t[0] >>> 0, apicKhz: t[1] >>> 0 };
    }
  }

  const brandLeaves = new Map<number, RawLeaf>();
  for (const leaf of [0x80000002, 0x80000003, 0x80000004]) {
    const r = ext(leaf);
    if (r) brandLeaves.set(leaf, raw(r));
  }
  const brand = brandString((leaf) => {
    const r = brandLeaves.get(leaf);
    return r ? { leaf, subleaf: 0, ...r } : undefined;
  });

  return {
    vendor,
    family,
    model,
    stepping,
    brand,
    maxBasicLeaf,
    maxExtendedLeaf,
    leaf15: maxBasicLeaf >= 0x15 ? raw(read(0x15, 0)) : undefined,
    leaf16: maxBasicLeaf >= 0x16 ? raw(read(0x16, 0)) : undefined,
    invariantTsc: (((ext(0x80000007)?.[3] ?? 0) >>> 8) & 1) === 1,
    hypervisorPresent,
    hypervisor,
    hypervisorTiming,
  };
}
