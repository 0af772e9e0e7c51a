/**
 * The real host: CPUID through the koffi thunk, RDTSC calibration, and the
 * kernel's own TSC frequency. Cross-checked against /proc/cpuinfo where the
 * kernel publishes it (Linux); skipped with a reason elsewhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createHostThunks, thunkUnsupportedReason, CPUID_THUNK_SYSV, CPUID_THUNK_WIN64 } from '../src/host/native-thunk.ts';
import { readHostCpuInfo } from '../src/host/host-cpu.ts';
import { readKernelTsc } from '../src/host/kernel-tsc.ts';
import { calibrateTsc } from '../src/host/tsc-calibration.ts';
import { hrtimeClock } from '../src/host/monotonic-clock.ts';
import { captureCpuProfile } from '../src/x86/cpuid/cpu-profiles.ts';

const skipReason = thunkUnsupportedReason();
const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : undefined;
const field = (name: string) => cpuinfo && new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(cpuinfo)?.[1]?.trim();

test('the CPUID thunk reads the same vendor and maximum basic leaf the kernel reports', (t) => {
  if (skipReason) return t.skip(skipReason);
  const thunks = createHostThunks();
  try {
    const cpu = readHostCpuInfo((l, s) => thunks.cpuid(l, s));
    assert.match(cpu.vendor, /^[\x20-\x7e]{12}$/);
    const vendorId = field('vendor_id');
    if (vendorId) assert.equal(cpu.vendor, vendorId);
    const level = field('cpuid level');
    if (level) assert.equal(cpu.maxBasicLeaf, Number(level));
    assert.ok(cpu.maxExtendedLeaf >= 0x80000001, 'every x86-64 CPU has extended leaves (LM lives there)');
    assert.equal(cpu.leaf15 === undefined, cpu.maxBasicLeaf < 0x15, 'leaf 0x15 read only when the max leaf covers it');
    const flags = new Set((field('flags') ?? '').split(/\s+/));
    if (flags.size > 1) {
      assert.equal(cpu.hypervisorPresent, flags.has('hypervisor'));
      // constant_tsc + nonstop_tsc are how Linux shows CPUID 0x80000007 EDX[8].
      if (!cpu.hypervisorPresent || flags.has('nonstop_tsc')) assert.equal(cpu.invariantTsc, flags.has('nonstop_tsc'));
    }
    const profile = captureCpuProfile((l, s) => thunks.cpuid(l, s));
    assert.equal(profile.vendorString, cpu.vendor);
    assert.ok(profile.leaves.some((l) => l.leaf === 0x80000001));
    assert.ok(profile.leaves.every((l) => l.leaf < 0x40000000 || l.leaf >= 0x80000000), 'hypervisor leaves are not part of a profile');
  } finally {
    thunks.dispose();
  }
});

test('RDTSC calibrated against the monotonic clock agrees with the kernel TSC frequency to 0.5%', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const kernel = readKernelTsc().find((r) => r.khz !== undefined && r.method !== 'kernel-cpuinfo') ?? readKernelTsc().find((r) => r.khz !== undefined);
  if (!kernel) return t.skip('this kernel exposes no TSC frequency (no tsc_freq_khz, no tsc: line in /dev/kmsg, no usable cpu MHz)');
  const thunks = createHostThunks();
  try {
    const cal = await calibrateTsc(() => thunks.rdtsc(), hrtimeClock, { durationMs: 100 });
    const kernelHz = kernel.khz! * 1000;
    const errPct = (Math.abs(cal.hz - kernelHz) / kernelHz) * 100;
    assert.ok(errPct <= 0.5, `calibrated ${cal.hz} Hz vs kernel ${kernelHz} Hz (${kernel.detail}): ${errPct.toFixed(4)}%`);
    assert.ok(cal.windows.filter((w) => !w.rejected).length >= 3, 'most windows kept');
  } finally {
    thunks.dispose();
  }
});

test('the Win64 CPUID body returns what the SysV one does (run on Linux behind an argument shim)', (t) => {
  if (skipReason) return t.skip(skipReason);
  if (process.platform === 'win32') return t.skip('this host runs the Win64 thunk natively (covered by the test above)');
  // SysV (EDI, ESI, RDX) → Win64 (ECX, EDX, R8), then fall through into the Win64 body.
  const shim = Uint8Array.of(0x49, 0x89, 0xd0 /* mov r8, rdx */, 0x89, 0xf2 /* mov edx, esi */, 0x89, 0xf9 /* mov ecx, edi */);
  const win = createHostThunks(undefined, Uint8Array.from([...shim, ...CPUID_THUNK_WIN64]));
  const sysv = createHostThunks();
  try {
    // Leaves whose output does not depend on which CPU runs the thread (no APIC IDs).
    for (const [leaf, sub] of [[0, 0], [0x80000000, 0], [0x80000001, 0], [7, 0], [0xd, 1], [0x80000002, 0]] as const) {
      assert.deepEqual(win.cpuid(leaf, sub), sysv.cpuid(leaf, sub), `leaf ${leaf.toString(16)}.${sub}`);
    }
    assert.ok(win.rdtsc() > 0n);
  } finally {
    win.dispose();
    sysv.dispose();
  }
});

test('thunks refuse non-x86-64 hosts with a clear reason; both calling conventions save RBX', () => {
  assert.match(thunkUnsupportedReason('arm64', 'linux')!, /arm64, not x86-64/);
  assert.match(thunkUnsupportedReason('x64', 'darwin')!, /Linux or Windows/);
  assert.equal(thunkUnsupportedReason('x64', 'win32'), undefined);
  for (const code of [CPUID_THUNK_SYSV, CPUID_THUNK_WIN64]) {
    assert.equal(code[0], 0x53, 'push rbx first');
    assert.deepEqual([...code.slice(-2)], [0x5b, 0xc3], 'pop rbx; ret');
    assert.ok(code.some((b, i) => b === 0x0f && code[i + 1] === 0xa2), 'cpuid');
  }
  // SysV takes the leaf from EDI (mov eax, edi = 89 f8); Win64 from ECX (mov eax, ecx = 89 c8).
  assert.deepEqual([...CPUID_THUNK_SYSV.slice(1, 3)], [0x89, 0xf8]);
  assert.deepEqual([...CPUID_THUNK_WIN64.slice(1, 3)], [0x89, 0xc8]);
});

test('probeHostTsc with an injected WHP source: the capability outranks kernel and calibration, unless calibration contradicts it', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { probeHostTsc } = await import('../src/host/tsc-probe.ts');
  const first = await probeHostTsc({ durationMs: 30, kernel: () => [] });
  const calibrated = first.estimates.find((e) => e.method === 'calibrated')!.hz!;
  const declared = BigInt(Math.round(calibrated / 1000) * 1000);
  const whp = (hz: bigint) => async () => ({ available: true, processorClockHz: hz, interruptClockHz: 200_000_000n, detail: 'test double' });
  const probe = await probeHostTsc({ durationMs: 30, kernel: () => [], whp: whp(declared) });
  const expected = probe.estimates.find((e) => e.method === 'cpuid-0x15')!.hz !== null ? 'cpuid-0x15' : 'whp-capability';
  assert.equal(probe.chosen!.method, expected);
  assert.equal(probe.estimates.find((e) => e.method === 'whp-capability')!.hz, Number(declared));
  assert.deepEqual(
    probe.estimates.filter((e) => e.method.startsWith('kernel-')).map((e) => e.method),
    [],
    'the injected kernel source reported nothing',
  );
  const wrong = await probeHostTsc({ durationMs: 30, kernel: () => [], whp: whp((declared * 105n) / 100n) });
  assert.notEqual(wrong.chosen!.method, 'whp-capability');
  assert.match(wrong.chosen!.reason, /passed over: whp-capability/);
});
