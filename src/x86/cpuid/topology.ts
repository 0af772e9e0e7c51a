/**
 * vCPU topology as CPUID describes it, and the APIC-ID convention shared with
 * the MP table and ACPI MADT builders.
 *
 * Convention: one package, one core per vCPU, one thread per core, and vCPU i
 * has (x2)APIC ID i. The MP/ACPI builders must call `apicIdForVcpu` rather than
 * assume it, so the convention lives in exactly one place.
 */
import { bit, setBits, u32, type CpuidLeaf } from './cpuid-leaf.ts';

/** xAPIC IDs are 8 bits and 0xFF is the broadcast ID, so at most 255 vCPUs (IDs 0–254). */
export const MAX_VCPUS = 255;

/** The local APIC ID of vCPU `index` (MP table processor entries and MADT use the same value). */
export function apicIdForVcpu(index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_VCPUS) throw new RangeError(`vCPU index ${index} is outside 0…${MAX_VCPUS - 1}`);
  return index;
}

export function checkVcpuCount(vcpuCount: number): number {
  if (!Number.isInteger(vcpuCount) || vcpuCount < 1 || vcpuCount > MAX_VCPUS) {
    throw new RangeError(`vCPU count ${vcpuCount} is outside 1…${MAX_VCPUS} (8-bit xAPIC IDs, 0xFF is broadcast)`);
  }
  return vcpuCount;
}

/** Bits needed to number `n` items: ⌈log2 n⌉ (0 for n = 1). */
export function idBits(n: number): number {
  return n <= 1 ? 0 : Math.ceil(Math.log2(n));
}

/**
 * Leaf 1 EBX/EDX topology fields (Intel SDM vol. 2A, CPUID leaf 1):
 * EBX[31:24] initial APIC ID, EBX[23:16] addressable logical processor IDs per
 * package, EDX[28] HTT ("EBX[23:16] is valid", set when more than one).
 */
export function topologyLeaf1(leaf: CpuidLeaf, vcpuCount: number, vcpu: number): CpuidLeaf {
  const logical = vcpuCount > 1 ? 1 << idBits(vcpuCount) : 1;
  const ebx = ((apicIdForVcpu(vcpu) << 24) | (Math.min(logical, 0xff) << 16) | (leaf.ebx & 0xff00)) >>> 0;
  return { ...leaf, ebx, edx: setBits(leaf.edx, bit(28), vcpuCount > 1) };
}

/**
 * Leaf 0xB (and 0x1F, same layout for the two levels we have): subleaf 0 is the
 * SMT level (1 thread per core, shift 0), subleaf 1 the core level (N cores,
 * shift ⌈log2 N⌉), subleaf 2 is invalid (type 0). EDX is the x2APIC ID in every
 * subleaf; ECX[7:0] echoes the subleaf (Intel SDM vol. 2A, "Extended Topology
 * Enumeration Leaf").
 */
export function extendedTopologyLeaves(leaf: 0xb | 0x1f, vcpuCount: number, vcpu: number): CpuidLeaf[] {
  const id = apicIdForVcpu(vcpu);
  return [
    { leaf, subleaf: 0, eax: 0, ebx: 1, ecx: (1 << 8) | 0, edx: id },
    { leaf, subleaf: 1, eax: idBits(vcpuCount), ebx: u32(vcpuCount), ecx: (2 << 8) | 1, edx: id },
    { leaf, subleaf: 2, eax: 0, ebx: 0, ecx: 2, edx: id },
  ];
}

/** What an undefined subleaf of 0xB/0x1F returns: type 0 with ECX[7:0] = subleaf and EDX = x2APIC ID. */
export function extendedTopologyBeyond(leaf: number, subleaf: number, vcpu: number): CpuidLeaf {
  return { leaf, subleaf, eax: 0, ebx: 0, ecx: subleaf & 0xff, edx: apicIdForVcpu(vcpu) };
}

/**
 * Leaf 4 (Intel deterministic cache parameters): EAX[31:26] = addressable core
 * IDs per package − 1; EAX[25:14] = logical processors sharing this cache − 1
 * (one vCPU per core, so 0 for private levels; all vCPUs for the last level).
 */
export function topologyLeaf4(leaf: CpuidLeaf, vcpuCount: number, isLastLevel: boolean): CpuidLeaf {
  if ((leaf.eax & 0x1f) === 0) return leaf; // "no more caches" terminator stays as is
  const cores = (1 << idBits(vcpuCount)) - 1;
  const sharing = isLastLevel ? (1 << idBits(vcpuCount)) - 1 : 0;
  const eax = ((leaf.eax & 0x3fff) | (Math.min(sharing, 0xfff) << 14) | (Math.min(cores, 0x3f) << 26)) >>> 0;
  return { ...leaf, eax };
}

/**
 * AMD leaf 0x80000008 ECX (AMD APM vol. 3, E.4.7): [7:0] NC = cores − 1,
 * [15:12] ApicIdCoreIdSize = bits of the APIC ID that number cores.
 */
export function amdTopologyLeaf80000008(leaf: CpuidLeaf, vcpuCount: number): CpuidLeaf {
  const ecx = ((leaf.ecx & ~0xf0ff) | ((vcpuCount - 1) & 0xff) | (idBits(vcpuCount) << 12)) >>> 0;
  return { ...leaf, ecx };
}
