/** Calibration statistics, kernel-report parsing, and the estimate-selection rule, on fixed inputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateTsc } from '../src/host/tsc-calibration.ts';
import { parseCpuinfoTsc, parseKernelLogTsc } from '../src/host/kernel-tsc.ts';
import { chooseTscEstimate, cpuidEstimates, kernelEstimate, type TscEstimate } from '../src/host/tsc-estimates.ts';
import { readHostCpuInfo } from '../src/host/host-cpu.ts';
import { hypervisorSignatureRegisters, registersFromSignature, type CpuidRegisters } from '../src/x86/cpuid/cpuid-leaf.ts';

/** A simulated clock and TSC: time advances only through sleep() and a fixed cost per read. */
function simulated(tscHz: number, jumpAtWindow?: number) {
  let ns = 1_000_000n;
  let window = 0;
  let tscOffset = 0n;
  return {
    clock: { name: 'simulated', nowNs: () => (ns += 50n) },
    rdtsc: () => (BigInt(Math.round((Number(ns) * tscHz) / 1e9)) + tscOffset),
    sleep: async (ms: number) => {
      ns += BigInt(Math.round(ms * 1e6));
      window++;
      if (window === jumpAtWindow) tscOffset += BigInt(Math.round(tscHz * 0.002)); // a 2 ms TSC jump (VM pause)
    },
  };
}

test('calibration recovers the simulated TSC rate, and rejects a window with a TSC jump', async () => {
  const clean = simulated(4_400_000_000);
  const a = await calibrateTsc(clean.rdtsc, clean.clock, { durationMs: 100, windows: 5, sleep: clean.sleep });
  assert.ok(Math.abs(a.hz - 4.4e9) / 4.4e9 < 1e-6, String(a.hz));
  assert.equal(a.windows.length, 5);
  assert.ok(a.windows.every((w) => !w.rejected));
  assert.ok(a.spreadPpm < 1);

  const jumpy = simulated(2_445_406_000, 3);
  const b = await calibrateTsc(jumpy.rdtsc, jumpy.clock, { durationMs: 100, windows: 5, sleep: jumpy.sleep });
  assert.equal(b.windows.filter((w) => w.rejected).length, 1, 'the window with the jump is an outlier');
  assert.ok(Math.abs(b.hz - 2_445_406_000) / 2_445_406_000 < 1e-6, `result ignores the outlier: ${b.hz}`);
});

test('kernel log parsing prefers the refined value, then the TSC line, then the processor line', () => {
  const kmsg = ['6,18,23,-;tsc: Detected 2445.406 MHz processor', '6,19,24,-;tsc: Detected 2445.400 MHz TSC', '6,300,1200000,-;tsc: Refined TSC clocksource calibration: 2445.391 MHz'];
  assert.equal(parseKernelLogTsc(kmsg.join('\n')).khz, 2_445_391);
  assert.equal(parseKernelLogTsc(kmsg.slice(0, 2).join('\n')).khz, 2_445_400);
  assert.equal(parseKernelLogTsc('[    0.000023] tsc: Detected 4391.234 MHz processor\n').khz, 4_391_234);
  assert.equal(parseKernelLogTsc('6,1,1,-;clocksource: tsc: mask: 0xffffffffffffffff\n').khz, undefined);
});

test('/proc/cpuinfo cpu MHz counts only where it is cpu_khz (no aperfmperf, no cpufreq) and the TSC is constant or known', () => {
  assert.equal(parseCpuinfoTsc('processor\t: 0\ncpu MHz\t\t: 2445.406\nflags\t\t: fpu tsc constant_tsc tsc_known_freq\n').khz, 2_445_406);
  assert.equal(parseCpuinfoTsc('cpu MHz\t\t: 3000.000\nflags\t\t: fpu tsc constant_tsc\n').khz, 3_000_000);
  const current = parseCpuinfoTsc('cpu MHz\t\t: 1197.553\nflags\t\t: fpu tsc constant_tsc aperfmperf\n');
  assert.equal(current.khz, undefined);
  assert.match(current.detail, /APERF\/MPERF-sampled core clock/);
  // show_cpuinfo() prints the sampled clock with APERF/MPERF even when tsc_known_freq is set.
  assert.equal(parseCpuinfoTsc('cpu MHz\t\t: 3612.345\nflags\t\t: fpu tsc constant_tsc aperfmperf tsc_known_freq\n').khz, undefined);
  const cpufreq = parseCpuinfoTsc('cpu MHz\t\t: 2200.000\nflags\t\t: fpu tsc constant_tsc tsc_known_freq\n', true);
  assert.equal(cpufreq.khz, undefined);
  assert.match(cpufreq.detail, /cpufreq/);
  assert.equal(parseCpuinfoTsc('cpu MHz\t\t: 2200.000\nflags\t\t: fpu tsc\n').khz, undefined, 'neither constant_tsc nor tsc_known_freq');
});

/** An Intel host with CPUID 0x15 (24 MHz crystal × 188/2 = 2.256 GHz) and 0x16. */
function intelHost(leaf15: CpuidRegisters, leaf16?: CpuidRegisters, hypervisor?: { sig: string; max: number; timing?: CpuidRegisters }) {
  const [b, c, d] = registersFromSignature('GenuineIntel');
  return readHostCpuInfo((leaf, _sub) => {
    if (leaf === 0) return [leaf16 ? 0x16 : 0x15, b, c, d];
    if (leaf === 1) return [0x906ea, 0, hypervisor ? 0x80000000 : 0, 0];
    if (leaf === 0x15) return leaf15;
    if (leaf === 0x16 && leaf16) return leaf16;
    if (leaf === 0x80000000) return [0x80000008, 0, 0, 0];
    if (leaf === 0x80000007) return [0, 0, 0, 0x100];
    if (hypervisor && leaf === 0x40000000) return [hypervisor.max, ...hypervisorSignatureRegisters(hypervisor.sig)];
    if (hypervisor?.timing && leaf === 0x40000010) return hypervisor.timing;
    return [0, 0, 0, 0];
  });
}

test('CPUID estimates: 0x15 with a crystal, the 0x16 fallback, and the hypervisor timing leaf', () => {
  const withCrystal = cpuidEstimates(intelHost([2, 188, 24_000_000, 0], [2300, 4500, 100, 0]));
  assert.equal(withCrystal.find((e) => e.method === 'cpuid-0x15')!.hz, 2_256_000_000);
  // Linux's fallback: crystal_khz = 2300·1000·2/188 = 24468, tsc_khz = 24468·188/2 = 2,299,992.
  assert.equal(withCrystal.find((e) => e.method === 'cpuid-0x15+0x16')!.hz, 2_299_992_000);
  const noCrystal = cpuidEstimates(intelHost([2, 300, 0, 0], [3600, 5000, 100, 0]));
  assert.equal(noCrystal.find((e) => e.method === 'cpuid-0x15')!.hz, null);
  assert.match(noCrystal.find((e) => e.method === 'cpuid-0x15')!.detail, /ECX .* is 0/);
  assert.equal(noCrystal.find((e) => e.method === 'cpuid-0x15+0x16')!.hz, 3_600_000_000);
  const vmware = cpuidEstimates(intelHost([0, 0, 0, 0], undefined, { sig: 'VMwareVMware', max: 0x40000010, timing: [2_893_202, 66_000, 0, 0] }));
  assert.equal(vmware.find((e) => e.method === 'hypervisor-0x40000010')!.hz, 2_893_202_000);
  const kvm = cpuidEstimates(intelHost([0, 0, 0, 0], undefined, { sig: 'KVMKVMKVM\0\0\0', max: 0x40000001 }));
  assert.match(kvm.find((e) => e.method === 'hypervisor-0x40000010')!.detail, /"KVMKVMKVM" has no timing leaf/);
});

test('selection follows the stated order and passes over a declared value that calibration contradicts', () => {
  const est = (method: TscEstimate['method'], hz: number | null, spreadPpm: number | null = 0): TscEstimate => ({ method, hz, spreadPpm, detail: '' });
  assert.equal(chooseTscEstimate([est('calibrated', 2_445_404_000, 3), kernelEstimate('kernel-log', 2_445_406, 'x')])!.method, 'kernel-log');
  assert.equal(chooseTscEstimate([est('calibrated', 2_256_100_000, 3), est('cpuid-0x15', 2_256_000_000), est('whp-capability', 2_256_000_000)])!.method, 'cpuid-0x15');
  const skip = chooseTscEstimate([est('calibrated', 2_000_000_000, 3), est('cpuid-0x15', 2_256_000_000), kernelEstimate('kernel-log', 2_000_001, 'x')])!;
  assert.equal(skip.method, 'kernel-log');
  assert.match(skip.reason, /passed over: cpuid-0x15/);
  // A noisy calibration does not get to veto declared values.
  assert.equal(chooseTscEstimate([est('calibrated', 2_000_000_000, 5000), est('cpuid-0x15', 2_256_000_000)])!.method, 'cpuid-0x15');
  assert.equal(chooseTscEstimate([est('calibrated', 2_000_000_000, 3)])!.method, 'calibrated');
  assert.equal(chooseTscEstimate([est('calibrated', null, null), est('cpuid-0x15', null, null)]), undefined);
});
