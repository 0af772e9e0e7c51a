/** The guest CPUID model: masking, topology, hypervisor leaves, and the TSC path a Linux guest takes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCpuidModel } from '../src/x86/cpuid/cpuid-model.ts';
import { captureCpuProfile, softCpuProfile, type CpuProfile } from '../src/x86/cpuid/cpu-profiles.ts';
import { linuxTscOutcome } from '../src/x86/cpuid/linux-tsc-path.ts';
import { apicIdForVcpu } from '../src/x86/cpuid/topology.ts';
import { registersFromSignature, vendorStringFromRegisters, encodeSignature, type CpuidRegisters } from '../src/x86/cpuid/cpuid-leaf.ts';
import {
  HV_ACCESS_FREQUENCY_MSRS,
  HV_ACCESS_TSC_INVARIANT,
  HV_FEATURE_FREQUENCY_MSRS_AVAILABLE,
  HV_MSR_HYPERCALL_AVAILABLE,
  HV_MSR_REFERENCE_TSC_AVAILABLE,
  HV_MSR_VP_INDEX_AVAILABLE,
  HV_X64_MSR_APIC_FREQUENCY,
  HV_X64_MSR_TSC_FREQUENCY,
} from '../src/x86/cpuid/hyperv-leaves.ts';

const b = (n: number) => 2 ** n;

/** A host-like Intel profile with everything a guest must not see switched on. */
function busyIntelHost(): CpuProfile {
  const [ebx, ecx, edx] = registersFromSignature('GenuineIntel');
  const table = new Map<string, CpuidRegisters>([
    ['0:0', [0x20, ebx, ecx, edx]],
    // ECX: SSE3, MONITOR(3), VMX(5), SMX(6), EST(7), PDCM(15), x2APIC(21), TSC-deadline(24), AVX(28), OSXSAVE(27)
    ['1:0', [encodeSignature(6, 0x97, 2), 0x01_10_08_00 | 0x05, (b(0) | b(3) | b(5) | b(6) | b(7) | b(15) | b(21) | b(24) | b(27) | b(28)) >>> 0, (0x178bfbff | b(22) | b(29) | b(31)) >>> 0]],
    ['4:0', [0x1c004121, 0, 0, 0]],
    ['4:1', [0x1c00c143, 0, 0, 0]],
    ['4:2', [0x3c07c163, 0, 0, 0]],
    ['4:3', [0, 0, 0, 0]],
    ['5:0', [64, 64, 3, 0x11142120]],
    ['6:0', [0xf7, 2, 9, 0]],
    ['7:0', [0, (b(2) | b(5) | b(25)) >>> 0, b(5), (b(24) | b(26)) >>> 0]],
    ['a:0', [0x07300805, 0, 0, 0x603]],
    ['b:0', [1, 2, 0x100, 7]],
    ['d:0', [(0x7 | b(17) | b(18)) >>> 0, 0x340, 0x2b00, 0]],
    ['d:1', [0xf, 0, b(8), 0]],
    ['d:2', [0x100, 0x240, 0, 0]],
    ['d:17', [0x40, 0xac0, 0, 0]],
    ['d:18', [0x2000, 0xb00, 6, 0]],
    ['15:0', [2, 188, 0, 0]], // a real crystal-less 0x15: must be replaced
    ['16:0', [3600, 5000, 100, 0]],
    ['80000000:0', [0x80000008, 0, 0, 0]],
    ['80000001:0', [0, 0, b(0) | b(5), (b(11) | b(20) | b(29)) >>> 0]],
    ['80000007:0', [0, 0, 0, 0x100]],
    ['80000008:0', [0x3027, 0, 0, 0]],
  ]);
  return captureCpuProfile((leaf, sub) => table.get(`${leaf.toString(16)}:${sub}`) ?? [0, 0, 0, 0], 'busy-intel');
}

/** A host-like AMD profile with SVM, TOPOEXT, perf counters and SEV. */
function busyAmdHost(): CpuProfile {
  const [ebx, ecx, edx] = registersFromSignature('AuthenticAMD');
  const table = new Map<string, CpuidRegisters>([
    ['0:0', [0x10, ebx, ecx, edx]],
    ['1:0', [0x00a00f11, 0x01020800, (0xfffa3203 & ~b(31)) >>> 0, 0x178bfbff]],
    ['5:0', [64, 64, 3, 0x11]],
    ['7:0', [0, 0x219c91a9, 0, 0]],
    ['a:0', [0, 0, 0, 0]],
    ['80000000:0', [0x80000022, ebx, ecx, edx]],
    ['80000001:0', [0x00a00f11, 0, (b(0) | b(1) | b(2) | b(10) | b(22) | b(23) | b(29)) >>> 0, 0x2fd3fbff]],
    ['80000007:0', [0, 0x3b, 0, 0x7f9]],
    ['80000008:0', [0x3030, 0x1007, 0x400f, 0]],
    ['8000000a:0', [1, 0x8000, 0, 0x1ebfbcff]],
    ['8000001e:0', [2, 0x101, 0, 0]],
    ['8000001f:0', [0x1, 0, 0, 0]],
  ]);
  return captureCpuProfile((leaf, sub) => table.get(`${leaf.toString(16)}:${sub}`) ?? [0, 0, 0, 0], 'busy-amd');
}

const TSC = 4_400_000_000n;
const APIC = 200_000_000n;

test('feature masking: VMX/SMX/MONITOR/PDCM, MONITOR leaf, PMU leaf, AMX, SVM and SEV are hidden; hypervisor bit set', () => {
  const intel = buildCpuidModel({ profile: busyIntelHost(), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC });
  const [, , ecx1, edx1] = intel.lookup(1, 0);
  for (const bitNo of [3, 5, 6, 7, 15, 27]) assert.equal((ecx1 >>> bitNo) & 1, 0, `leaf 1 ECX bit ${bitNo}`);
  for (const bitNo of [0, 21, 24, 28]) assert.equal((ecx1 >>> bitNo) & 1, 1, `leaf 1 ECX bit ${bitNo} kept`);
  assert.equal(ecx1 >>> 31, 1, 'hypervisor bit');
  for (const bitNo of [22, 29, 31]) assert.equal((edx1 >>> bitNo) & 1, 0, `leaf 1 EDX bit ${bitNo}`);
  assert.deepEqual(intel.lookup(5, 0), [0, 0, 0, 0], 'MONITOR/MWAIT leaf');
  assert.deepEqual(intel.lookup(0xa, 0), [0, 0, 0, 0], 'architectural PMU leaf');
  assert.deepEqual(intel.lookup(6, 0), [4, 0, 0, 0], 'leaf 6 keeps only ARAT');
  const l7 = intel.lookup(7, 0);
  assert.equal((l7[1] >>> 2) & 1, 0, 'SGX');
  assert.equal((l7[1] >>> 25) & 1, 0, 'Intel PT');
  assert.equal((l7[1] >>> 5) & 1, 1, 'AVX2 kept');
  assert.equal((l7[2] >>> 5) & 1, 0, 'WAITPKG');
  assert.equal((l7[3] >>> 24) & 1, 0, 'AMX-TILE');
  assert.equal((l7[3] >>> 26) & 1, 1, 'IBRS kept');
  assert.equal(intel.lookup(0xd, 0)[0], 0x7, 'XCR0 without AMX components');
  assert.deepEqual(intel.lookup(0xd, 17), [0, 0, 0, 0]);
  assert.equal((intel.lookup(0xd, 1)[2] >>> 8) & 1, 0, 'IA32_XSS without PT');

  const amd = buildCpuidModel({ profile: busyAmdHost(), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC });
  const e1 = amd.lookup(0x80000001, 0);
  for (const bitNo of [2, 10, 22, 23, 29]) assert.equal((e1[2] >>> bitNo) & 1, 0, `0x80000001 ECX bit ${bitNo}`);
  assert.equal(e1[2] & 1, 1, 'LAHF/SAHF kept');
  assert.equal(amd.lookup(1, 0)[2] >>> 31, 1, 'hypervisor bit');
  assert.equal(amd.maxExtendedLeaf, 0x80000008);
  for (const leaf of [0x8000000a, 0x8000001e, 0x8000001f]) assert.deepEqual(amd.lookup(leaf, 0), [0, 0, 0, 0], leaf.toString(16));
  assert.deepEqual(amd.lookup(0x80000007, 0), [0, 0, 0, 0x100], 'only invariant TSC in 0x80000007');
  assert.deepEqual(amd.lookup(0x15, 0), [0, 0, 0, 0], 'no Intel TSC leaves for an AMD guest');
  assert.equal(amd.maxBasicLeaf, 0x10);
});

test('topology: N vCPUs, APIC ID i for vCPU i in leaf 1, 0xB and the AMD core count', () => {
  const n = 6;
  const m = buildCpuidModel({ profile: busyIntelHost(), vcpuCount: n, tscHz: TSC, apicTimerHz: APIC });
  for (let i = 0; i < n; i++) {
    assert.equal(apicIdForVcpu(i), i);
    const [, ebx, , edx] = m.lookup(1, 0, i);
    assert.equal(ebx >>> 24, apicIdForVcpu(i), 'initial APIC ID');
    assert.equal((ebx >>> 16) & 0xff, 8, 'addressable IDs: next power of two');
    assert.equal((ebx >>> 8) & 0xff, 8, 'CLFLUSH size kept');
    assert.equal((edx >>> 28) & 1, 1, 'HTT');
    assert.deepEqual(m.lookup(0xb, 0, i), [0, 1, 0x100, i], 'SMT level');
    assert.deepEqual(m.lookup(0xb, 1, i), [3, n, 0x201, i], 'core level');
    assert.deepEqual(m.lookup(0xb, 2, i), [0, 0, 2, i], 'end');
    assert.deepEqual(m.lookup(0xb, 5, i), [0, 0, 5, i], 'beyond the end');
  }
  assert.equal(m.lookup(4, 0)[0] >>> 26, 7, 'leaf 4 cores per package − 1');
  assert.equal((m.lookup(4, 0)[0] >>> 14) & 0xfff, 0, 'L1 private');
  assert.equal((m.lookup(4, 2)[0] >>> 14) & 0xfff, 7, 'last level shared');
  assert.throws(() => m.lookup(1, 0, n), RangeError);

  const amd = buildCpuidModel({ profile: busyAmdHost(), vcpuCount: 3, tscHz: TSC, apicTimerHz: APIC });
  assert.equal(amd.lookup(0x80000008, 0)[2] & 0xff, 2, 'NC = cores − 1');
  assert.equal((amd.lookup(0x80000008, 0)[2] >>> 12) & 0xf, 2, 'ApicIdCoreIdSize');
  assert.equal((amd.lookup(0x80000001, 0)[2] >>> 1) & 1, 1, 'CmpLegacy');
  assert.equal(amd.lookup(1, 0, 2)[1] >>> 24, 2);
  const single = buildCpuidModel({ profile: busyAmdHost(), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC });
  assert.equal((single.lookup(1, 0)[3] >>> 28) & 1, 0, 'no HTT for one vCPU');
  assert.equal((single.lookup(0x80000001, 0)[2] >>> 1) & 1, 0, 'no CmpLegacy for one vCPU');
  assert.throws(() => buildCpuidModel({ profile: busyAmdHost(), vcpuCount: 256, tscHz: TSC, apicTimerHz: APIC }), /1…255/);
});

test('Hyper-V leaves: signature, mandatory hypercall/VP-index bits, frequency MSRs, timing leaf, optional features', () => {
  const m = buildCpuidModel({ profile: softCpuProfile('amd'), vcpuCount: 2, tscHz: TSC, apicTimerHz: APIC, hyperV: { referenceTscPage: true } });
  const [max, s1, s2, s3] = m.lookup(0x40000000, 0);
  assert.equal(max, 0x40000010);
  assert.equal(vendorStringFromRegisters(s1, s3, s2), 'Microsoft Hv', 'EBX, ECX, EDX spell the signature');
  assert.equal(m.lookup(0x40000001, 0)[0], 0x31237648, 'Hv#1');
  const [features, , , misc] = m.lookup(0x40000003, 0);
  for (const bitMask of [HV_MSR_HYPERCALL_AVAILABLE, HV_MSR_VP_INDEX_AVAILABLE, HV_ACCESS_FREQUENCY_MSRS, HV_ACCESS_TSC_INVARIANT, HV_MSR_REFERENCE_TSC_AVAILABLE]) {
    assert.ok(features & bitMask, bitMask.toString(16));
  }
  assert.ok(misc & HV_FEATURE_FREQUENCY_MSRS_AVAILABLE);
  assert.deepEqual(m.lookup(0x40000010, 0), [4_400_000, 200_000, 0, 0], 'TSC kHz, APIC kHz');
  const msrs = new Map(m.msrs.map((x) => [x.msr, x.value]));
  assert.equal(msrs.get(HV_X64_MSR_TSC_FREQUENCY), 4_400_000_000n);
  assert.equal(msrs.get(HV_X64_MSR_APIC_FREQUENCY), 200_000_000n);
  assert.deepEqual(m.lookup(0x80000007, 0), [0, 0, 0, 0x100], 'invariant TSC');
  const noRef = buildCpuidModel({ profile: softCpuProfile('amd'), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC });
  assert.equal(noRef.lookup(0x40000003, 0)[0] & HV_MSR_REFERENCE_TSC_AVAILABLE, 0, 'reference TSC page only when the backend provides it');
  const none = buildCpuidModel({ profile: softCpuProfile('amd'), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC, hyperV: false });
  assert.deepEqual(none.lookup(0x40000000, 0), [0, 0, 0, 0]);
  assert.equal(none.msrs.length, 0);
});

test('a Linux guest takes 0x15 on Intel and the Hyper-V MSRs on AMD, getting the exact frequency both ways', () => {
  for (const hz of [4_400_000_000n, 4_391_234_567n, 2n ** 32n + 1n, 12_345_678_901n]) {
    const intel = buildCpuidModel({ profile: softCpuProfile('intel'), vcpuCount: 1, tscHz: hz, apicTimerHz: APIC, hyperV: false });
    const viaLeaf = linuxTscOutcome(intel.lookup, () => undefined);
    assert.equal(viaLeaf.path, 'cpuid-0x15');
    assert.equal(viaLeaf.knownFreq, true);
    assert.equal(viaLeaf.lapicTimerHz, 200_000_000, 'LAPIC period matches the real APIC timer');
    assert.equal(viaLeaf.tscKhz, intel.leaf15!.decodedKhz);
    if (intel.leaf15!.exact) assert.equal(viaLeaf.tscKhz, Number(hz / 1000n));

    const amd = buildCpuidModel({ profile: softCpuProfile('amd'), vcpuCount: 1, tscHz: hz, apicTimerHz: APIC });
    const msrs = new Map(amd.msrs.map((x) => [x.msr, x.value]));
    const viaMsr = linuxTscOutcome(amd.lookup, (msr) => msrs.get(msr));
    assert.equal(viaMsr.path, 'hyperv-frequency-msrs');
    assert.equal(viaMsr.tscKhz, Number(hz / 1000n));
    assert.equal(viaMsr.lapicTimerHz, 200_000_000);
    assert.equal(viaMsr.tscMarkedUnstable, false);

    const amdBare = buildCpuidModel({ profile: softCpuProfile('amd'), vcpuCount: 1, tscHz: hz, apicTimerHz: APIC, hyperV: false });
    assert.equal(linuxTscOutcome(amdBare.lookup, () => undefined).path, 'legacy-timer-calibration');
  }
  const unstable = buildCpuidModel({ profile: softCpuProfile('amd'), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC, hyperV: { tscInvariant: false } });
  const msrs = new Map(unstable.msrs.map((x) => [x.msr, x.value]));
  assert.equal(linuxTscOutcome(unstable.lookup, (msr) => msrs.get(msr)).tscMarkedUnstable, true);
});

test('Intel out-of-range leaves return the highest basic leaf; AMD returns zeros', () => {
  const intel = buildCpuidModel({ profile: softCpuProfile('intel'), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC });
  assert.equal(intel.maxBasicLeaf, 0x16);
  assert.deepEqual(intel.lookup(0x17, 0), intel.lookup(0x16, 0));
  assert.deepEqual(intel.lookup(0x80000009, 0), intel.lookup(0x16, 0));
  const amd = buildCpuidModel({ profile: softCpuProfile('amd'), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC });
  assert.deepEqual(amd.lookup(0x17, 0), [0, 0, 0, 0]);
});

test('the soft profile advertises the x86-64 baseline and nothing beyond it', () => {
  for (const vendor of ['intel', 'amd'] as const) {
    const m = buildCpuidModel({ profile: softCpuProfile(vendor), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC });
    const [, , ecx, edx] = m.lookup(1, 0);
    for (const bitNo of [0, 4, 5, 6, 8, 9, 13, 15, 23, 24, 25, 26]) assert.equal((edx >>> bitNo) & 1, 1, `${vendor} EDX bit ${bitNo}`);
    assert.equal(ecx, 0x80000000, `${vendor}: only the hypervisor bit in leaf 1 ECX (no SSE3+, CX16, AVX, XSAVE)`);
    const e1 = m.lookup(0x80000001, 0);
    for (const bitNo of [11, 20, 29]) assert.equal((e1[3] >>> bitNo) & 1, 1, `${vendor} SYSCALL/NX/LM`);
    assert.deepEqual(m.lookup(7, 0), [0, 0, 0, 0]);
  }
});

test('Hyper-V MSRs: every MSR a 6.1 CONFIG_HYPERV guest writes unconditionally is answered, read-write', () => {
  // arch/x86/hyperv/hv_init.c (6.1): hyperv_init() writes GUEST_OS_ID and HYPERCALL and reads
  // HYPERCALL back; hv_cpu_init() writes VP_ASSIST_PAGE on every CPU; none checks a feature bit.
  const m = buildCpuidModel({ profile: softCpuProfile('amd'), vcpuCount: 2, tscHz: TSC, apicTimerHz: APIC });
  const byMsr = new Map(m.msrs.map((x) => [x.msr, x]));
  for (const [msr, name] of [[0x40000000, 'GUEST_OS_ID'], [0x40000001, 'HYPERCALL'], [0x40000073, 'VP_ASSIST_PAGE']] as const) {
    assert.equal(byMsr.get(msr)?.access, 'read-write', `HV_X64_MSR_${name} (0x${msr.toString(16)})`);
  }
});

test('Hyper-V without the frequency MSRs: Linux takes CPUID 0x15 and still marks the TSC unstable without HV_ACCESS_TSC_INVARIANT', () => {
  for (const tscInvariant of [false, true]) {
    const intel = buildCpuidModel({ profile: softCpuProfile('intel'), vcpuCount: 1, tscHz: TSC, apicTimerHz: APIC, hyperV: { tscInvariant } });
    // A hypervisor that offers Hyper-V but not HV_ACCESS_FREQUENCY_MSRS (EAX bit 11 of 0x40000003).
    const lookup = (leaf: number, sub: number) => {
      const r = intel.lookup(leaf, sub);
      return leaf === 0x40000003 ? ([r[0] & ~HV_ACCESS_FREQUENCY_MSRS, r[1], r[2], r[3]] as typeof r) : r;
    };
    const outcome = linuxTscOutcome(lookup, () => undefined);
    assert.equal(outcome.path, 'cpuid-0x15');
    // ms_hyperv_init_platform(): mark_tsc_unstable("running on Hyper-V") without HV_ACCESS_TSC_INVARIANT.
    assert.equal(outcome.tscMarkedUnstable, !tscInvariant);
  }
});
