/**
 * One CPUID result as a guest sees it, and the register helpers every CPUID
 * module shares. Register values are unsigned 32-bit integers held in JS numbers
 * (0 … 2^32−1); `u32()` is the single place that normalises them.
 */

/** What the CPUID instruction returns for one (leaf, subleaf) input. */
export interface CpuidLeaf {
  readonly leaf: number;
  readonly subleaf: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

/** The four output registers in instruction order: EAX, EBX, ECX, EDX. */
export type CpuidRegisters = readonly [eax: number, ebx: number, ecx: number, edx: number];

/** Reads CPUID(leaf, subleaf) from some CPU (the host through a thunk, or a table). */
export type CpuidReader = (leaf: number, subleaf: number) => CpuidRegisters;

/**
 * Guest CPU vendor family as Linux classifies it. Only 'intel' reaches the CPUID
 * 0x15/0x16 frequency code (arch/x86/kernel/tsc.c checks X86_VENDOR_INTEL); 'amd'
 * covers AuthenticAMD and HygonGenuine; anything else is 'other'.
 */
export type CpuVendor = 'intel' | 'amd' | 'other';

export const VENDOR_INTEL = 'GenuineIntel';
export const VENDOR_AMD = 'AuthenticAMD';

/** Normalises to an unsigned 32-bit value; throws if it does not fit (a value must never be silently truncated). */
export function u32(value: number | bigint, what = 'register value'): number {
  const v = typeof value === 'bigint' ? value : BigInt(value);
  if (v < 0n || v > 0xffff_ffffn) throw new RangeError(`${what} ${v} does not fit in 32 bits`);
  return Number(v);
}

/** Sets or clears bits in a 32-bit value, keeping it unsigned. */
export function setBits(value: number, mask: number, on: boolean): number {
  return (on ? value | mask : value & ~mask) >>> 0;
}

export function bit(n: number): number {
  return (2 ** n) >>> 0;
}

/** Vendor string from leaf 0 (EBX, EDX, ECX spell it in that order, little-endian). */
export function vendorStringFromRegisters(ebx: number, ecx: number, edx: number): string {
  return String.fromCharCode(...[ebx, edx, ecx].flatMap((r) => [r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24]));
}

/** Inverse of vendorStringFromRegisters for a 12-character signature: [ebx, ecx, edx]. */
export function registersFromSignature(signature: string): [ebx: number, ecx: number, edx: number] {
  if (signature.length !== 12) throw new RangeError(`CPUID signature must be 12 characters, got '${signature}'`);
  const word = (i: number) =>
    (signature.charCodeAt(i) | (signature.charCodeAt(i + 1) << 8) | (signature.charCodeAt(i + 2) << 16) | (signature.charCodeAt(i + 3) << 24)) >>> 0;
  return [word(0), word(8), word(4)];
}

export function cpuVendorOf(vendorString: string): CpuVendor {
  if (vendorString === VENDOR_INTEL) return 'intel';
  if (vendorString === VENDOR_AMD || vendorString === 'HygonGenuine') return 'amd';
  return 'other';
}

/** Display family/model/stepping from leaf 1 EAX (Intel SDM vol. 2A, CPUID "Version Information"). */
export function decodeSignature(eax: number): { family: number; model: number; stepping: number } {
  const baseFamily = (eax >>> 8) & 0xf;
  const baseModel = (eax >>> 4) & 0xf;
  const family = baseFamily === 0xf ? baseFamily + ((eax >>> 20) & 0xff) : baseFamily;
  const model = baseFamily === 0x6 || baseFamily === 0xf ? (((eax >>> 16) & 0xf) << 4) | baseModel : baseModel;
  return { family, model, stepping: eax & 0xf };
}

/** Inverse of decodeSignature (family ≥ 0xF uses the extended family field). */
export function encodeSignature(family: number, model: number, stepping: number): number {
  const baseFamily = family >= 0xf ? 0xf : family;
  const extFamily = family >= 0xf ? family - 0xf : 0;
  return ((extFamily << 20) | ((model >> 4) << 16) | (baseFamily << 8) | ((model & 0xf) << 4) | (stepping & 0xf)) >>> 0;
}

/** Leaves whose output depends on the ECX input (Intel SDM vol. 2A, CPUID; AMD APM vol. 3, appendix E). */
export const SUBLEAF_INDEXED = new Set<number>([0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1f, 0x20, 0x8000001d, 0x80000020]);

export function leafKey(leaf: number, subleaf: number): string {
  return `${leaf >>> 0}:${SUBLEAF_INDEXED.has(leaf >>> 0) ? subleaf >>> 0 : 0}`;
}

/**
 * Hypervisor leaves (0x40000000, …) store their 12-character signature in
 * EBX, ECX, EDX order — unlike leaf 0's EBX, EDX, ECX (Linux compares
 * `cpuid(base, &eax, &sig[0], &sig[1], &sig[2])` with memcmp).
 */
export function hypervisorSignatureRegisters(signature: string): [ebx: number, ecx: number, edx: number] {
  const [ebx, ecx, edx] = registersFromSignature(signature); // leaf-0 order: chars 0-3, 8-11, 4-7
  return [ebx, edx, ecx];
}

export function hypervisorSignatureFromRegisters(ebx: number, ecx: number, edx: number): string {
  return vendorStringFromRegisters(ebx, edx, ecx);
}
