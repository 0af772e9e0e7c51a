/**
 * CPU profiles: the raw CPUID a backend's virtual CPU can offer, before the
 * guest model (cpuid-model.ts) masks, adds topology and hypervisor leaves.
 *  - `captureCpuProfile` reads a real CPU through a CpuidReader (the host on WHP,
 *    where the partition runs the host's CPU);
 *  - `softCpuProfile` is the fixed, conservative profile for the software CPU:
 *    only what an x86-64 baseline interpreter implements.
 */
import {
  bit,
  cpuVendorOf,
  encodeSignature,
  registersFromSignature,
  vendorStringFromRegisters,
  VENDOR_AMD,
  VENDOR_INTEL,
  type CpuidLeaf,
  type CpuidReader,
  type CpuVendor,
} from './cpuid-leaf.ts';

export interface CpuProfile {
  /** For humans and JSON: 'host', 'soft-intel', … */
  readonly name: string;
  /** The 12-character vendor string of leaf 0. */
  readonly vendorString: string;
  readonly vendor: CpuVendor;
  /** Every (leaf, subleaf) the CPU defines, leaf 0 and 0x80000000 included. */
  readonly leaves: readonly CpuidLeaf[];
}

/** Hard caps on how far a capture walks, so a bogus max-leaf value cannot make it loop for long. */
const MAX_BASIC_CAPTURED = 0x3f;
const MAX_EXTENDED_CAPTURED = 0x80000040;

/**
 * Captures a CPU's basic and extended leaves with their subleaves. Subleaf
 * enumeration follows each leaf's own terminator (Intel SDM vol. 2A): leaf 4 and
 * 0x8000001D end at cache type 0, 0xB/0x1F at level type 0, leaf 7 and 0x14 list
 * their count in subleaf 0 EAX, 0xD walks the 64 state components. The
 * hypervisor range (0x40000000+) is deliberately not captured: a guest model
 * supplies its own.
 */
export function captureCpuProfile(read: CpuidReader, name = 'host'): CpuProfile {
  const leaves: CpuidLeaf[] = [];
  const add = (leaf: number, subleaf: number) => {
    const [eax, ebx, ecx, edx] = read(leaf, subleaf);
    const entry = { leaf, subleaf, eax: eax >>> 0, ebx: ebx >>> 0, ecx: ecx >>> 0, edx: edx >>> 0 };
    leaves.push(entry);
    return entry;
  };
  const l0 = add(0, 0);
  const maxBasic = Math.min(l0.eax, MAX_BASIC_CAPTURED);
  for (let leaf = 1; leaf <= maxBasic; leaf++) captureLeaf(leaf, add);
  const e0 = add(0x80000000, 0);
  const maxExt = e0.eax >= 0x80000000 ? Math.min(e0.eax, MAX_EXTENDED_CAPTURED) : 0x80000000;
  for (let leaf = 0x80000001; leaf <= maxExt; leaf++) captureLeaf(leaf, add);
  const vendorString = vendorStringFromRegisters(l0.ebx, l0.ecx, l0.edx);
  return { name, vendorString, vendor: cpuVendorOf(vendorString), leaves };
}

function captureLeaf(leaf: number, add: (leaf: number, subleaf: number) => CpuidLeaf): void {
  switch (leaf) {
    case 0x4:
    case 0x8000001d:
      for (let s = 0; s < 16; s++) if ((add(leaf, s).eax & 0x1f) === 0) break;
      return;
    case 0xb:
    case 0x1f:
      for (let s = 0; s < 8; s++) if (((add(leaf, s).ecx >>> 8) & 0xff) === 0) break;
      return;
    case 0x7:
    case 0x14: {
      const count = Math.min(add(leaf, 0).eax, 8);
      for (let s = 1; s <= count; s++) add(leaf, s);
      return;
    }
    case 0xd: {
      const s0 = add(leaf, 0);
      const s1 = add(leaf, 1);
      // Components 2…62 that either XCR0 (s0 EDX:EAX) or IA32_XSS (s1 EDX:ECX) can enable.
      const mask = (BigInt(s0.edx) << 32n) | BigInt(s0.eax) | (BigInt(s1.edx) << 32n) | BigInt(s1.ecx);
      for (let s = 2; s < 63; s++) if ((mask >> BigInt(s)) & 1n) add(leaf, s);
      return;
    }
    default:
      add(leaf, 0);
  }
}

// Feature bits used by the soft profile (Intel SDM vol. 2A, table "Feature Information Returned in EDX").
const EDX1 = { FPU: 0, PSE: 3, TSC: 4, MSR: 5, PAE: 6, CX8: 8, APIC: 9, PGE: 13, CMOV: 15, PAT: 16, CLFSH: 19, MMX: 23, FXSR: 24, SSE: 25, SSE2: 26 };
const EXT_EDX = { SYSCALL: 11, NX: 20, LM: 29 };

/**
 * The software CPU's fixed profile: the x86-64 psABI baseline (CMOV, CX8, FPU,
 * FXSR, MMX, SYSCALL, SSE, SSE2) plus what a 64-bit Linux kernel requires
 * (PAE, PGE, MSR, TSC, APIC, LM, NX; arch/x86/include/asm/required-features.h),
 * PSE, PAT and CLFLUSH. No SSE3+, no CMPXCHG16B, no AVX/XSAVE, no MTRR/MCE, no
 * PMU, no SEP (64-bit Linux uses SYSCALL): an interpreter must never advertise
 * what it does not implement, since glibc picks code paths from CPUID. The
 * software-CPU work may widen it.
 *
 * Identity: Intel family 6 model 0x0F ("Core 2" class; Linux sets
 * X86_FEATURE_CONSTANT_TSC for family 6 model ≥ 0x0E and has no TSC quirk for
 * it), AMD family 0x0F model 0x6B stepping 1 (the identity QEMU's long-standing
 * "qemu64" model uses, so Linux's K8-era paths are well trodden).
 */
export function softCpuProfile(vendor: 'intel' | 'amd'): CpuProfile {
  const vendorString = vendor === 'intel' ? VENDOR_INTEL : VENDOR_AMD;
  const [vEbx, vEcx, vEdx] = registersFromSignature(vendorString);
  const signature = vendor === 'intel' ? encodeSignature(6, 0x0f, 0xb) : encodeSignature(0x0f, 0x6b, 1);
  const edx1 = Object.values(EDX1).reduce((acc, b) => acc | bit(b), 0) >>> 0;
  const extEdx = Object.values(EXT_EDX).reduce((acc, b) => acc | bit(b), 0) >>> 0;
  const brand = brandLeaves(vendor === 'intel' ? 'krun-whp soft x86-64 (Intel profile)' : 'krun-whp soft x86-64 (AMD profile)');
  const leaf = (l: number, eax = 0, ebx = 0, ecx = 0, edx = 0, subleaf = 0): CpuidLeaf => ({ leaf: l, subleaf, eax, ebx, ecx, edx });
  const leaves: CpuidLeaf[] = [
    leaf(0, 0x7, vEbx, vEcx, vEdx),
    // EBX[15:8] = CLFLUSH line size in 8-byte units (64 bytes).
    leaf(1, signature, 8 << 8, 0, edx1),
    leaf(6),
    leaf(7),
    leaf(0x80000000, 0x80000008, vendor === 'amd' ? vEbx : 0, vendor === 'amd' ? vEcx : 0, vendor === 'amd' ? vEdx : 0),
    leaf(0x80000001, vendor === 'amd' ? signature : 0, 0, 0, extEdx),
    ...brand,
    leaf(0x80000005),
    leaf(0x80000006),
    leaf(0x80000007),
    // Physical address bits [7:0] = 40, linear address bits [15:8] = 48 (4-level paging).
    leaf(0x80000008, (48 << 8) | 40),
  ];
  return { name: `soft-${vendor}`, vendorString, vendor, leaves };
}

/** Leaves 0x80000002–4: the 48-byte NUL-padded brand string. */
function brandLeaves(text: string): CpuidLeaf[] {
  const bytes = new Uint8Array(48);
  bytes.set(new TextEncoder().encode(text.slice(0, 47)));
  const dv = new DataView(bytes.buffer);
  const out: CpuidLeaf[] = [];
  for (let i = 0; i < 3; i++) {
    const r = (j: number) => dv.getUint32(i * 16 + j * 4, true);
    out.push({ leaf: 0x80000002 + i, subleaf: 0, eax: r(0), ebx: r(1), ecx: r(2), edx: r(3) });
  }
  return out;
}

/** Decodes leaves 0x80000002–4 of a table into the brand string, or undefined. */
export function brandString(find: (leaf: number) => CpuidLeaf | undefined): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const l = find(0x80000002 + i);
    if (!l) return undefined;
    for (const r of [l.eax, l.ebx, l.ecx, l.edx]) bytes.push(r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24);
  }
  const end = bytes.indexOf(0);
  return String.fromCharCode(...(end === -1 ? bytes : bytes.slice(0, end))).trim() || undefined;
}
