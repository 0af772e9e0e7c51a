/** `krun-whp probe-tsc` end to end through the built CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { runCli } from './helpers/cli.ts';
import { thunkUnsupportedReason } from '../src/host/native-thunk.ts';

const skipReason = thunkUnsupportedReason();
const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : undefined;

interface Leaf { vendor: string; leaf: number; subleaf: number; eax: number; ebx: number; ecx: number; edx: number }
interface Report {
  host: { vendor: string; maxBasicLeaf: number; family: number; model: number; leaf15: unknown; hypervisor: unknown };
  estimates: { method: string; hz: number | null; spreadPpm: number | null; detail: string }[];
  chosen: { hz: number; method: string } | null;
  warnings: string[];
  guest: { tscHz: number; apicTimerHz: number; leaves: Leaf[]; msrs: { vendor: string; msr: number; value: number }[]; linux: { vendor: string; path: string; tscKhz: number }[] } | null;
}

function probe(args: string[]): { status: number | null; report: Report; stderr: string } {
  const r = runCli(['--json', 'probe-tsc', ...args]);
  assert.doesNotThrow(() => JSON.parse(r.stdout), `stdout is one JSON document: ${r.stdout.slice(0, 200)} ${r.stderr}`);
  return { status: r.status, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

test('probe-tsc --json finds the host vendor, estimates, a chosen frequency, and the guest leaves', (t) => {
  if (skipReason) return t.skip(skipReason);
  const { status, report } = probe([]);
  assert.equal(status, 0);
  const vendorId = cpuinfo && /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1];
  if (vendorId) assert.equal(report.host.vendor, vendorId, 'matches /proc/cpuinfo vendor_id');
  else assert.match(report.host.vendor, /^[\x20-\x7e]{12}$/);
  const methods = report.estimates.map((e) => e.method);
  assert.deepEqual(methods, ['cpuid-0x15', 'whp-capability', 'hypervisor-0x40000010', 'kernel-sysfs', 'kernel-log', 'kernel-cpuinfo', 'cpuid-0x15+0x16', 'calibrated']);
  for (const e of report.estimates) assert.ok(e.hz === null ? e.detail.startsWith('unavailable') : e.hz > 0 && e.spreadPpm !== null, JSON.stringify(e));
  const calibrated = report.estimates.find((e) => e.method === 'calibrated')!;
  assert.ok(calibrated.hz && calibrated.hz > 1e8, 'calibration works on any x86-64 host');
  assert.ok(report.chosen && report.chosen.hz > 0 && methods.includes(report.chosen.method));
  // The kernel's own figure, where exposed: the calibrated estimate agrees to 0.5%.
  const kernel = report.estimates.find((e) => e.method.startsWith('kernel-') && e.hz !== null);
  if (kernel) assert.ok(Math.abs(calibrated.hz! - kernel.hz!) / kernel.hz! <= 0.005, `${calibrated.hz} vs ${kernel.method} ${kernel.hz}`);
  if (process.platform !== 'win32') assert.equal(report.estimates.find((e) => e.method === 'whp-capability')!.detail, 'unavailable: not Windows');
  assert.ok(report.guest);
  assert.equal(report.guest.tscHz, report.chosen.hz, 'the guest view uses the chosen frequency');
  assert.deepEqual([...new Set(report.guest.leaves.map((l) => l.vendor))].sort(), ['amd', 'intel']);
  // Leaf 0x15 appears for the Intel view only.
  assert.ok(report.guest.leaves.some((l) => l.vendor === 'intel' && l.leaf === 0x15));
  assert.ok(!report.guest.leaves.some((l) => l.vendor === 'amd' && l.leaf === 0x15));
});

test('--tsc-khz 4400000 --cpu-vendor intel: leaf 0x15 decodes by Linux arithmetic to 4,400,000 kHz, with a truncation warning', (t) => {
  if (skipReason) return t.skip(skipReason);
  const { status, report, stderr } = probe(['--tsc-khz', '4400000', '--cpu-vendor', 'intel', '--duration-ms', '20']);
  assert.equal(status, 0);
  const l15 = report.guest!.leaves.find((l) => l.leaf === 0x15)!;
  assert.ok(report.guest!.leaves.every((l) => l.vendor === 'intel'));
  const crystalKhz = Math.floor(l15.ecx / 1000);
  const product = BigInt(crystalKhz) * BigInt(l15.ebx);
  assert.ok(product < 2n ** 32n, 'no 32-bit overflow');
  assert.equal(Math.floor(Number(product) / l15.eax), 4_400_000);
  assert.equal(l15.ecx, report.guest!.apicTimerHz, 'ECX is the APIC timer rate');
  const l0 = report.guest!.leaves.find((l) => l.leaf === 0)!;
  assert.ok(l0.eax >= 0x15, 'max basic leaf exposes 0x15');
  assert.match(stderr, /warning: .*2\^32 Hz.*105\.032704 MHz/);
  assert.ok(report.warnings.some((w) => w.includes('105.032704')));
});

test('--tsc-khz 4400000 --cpu-vendor amd: the Hyper-V frequency MSR equals 4,400,000,000 Hz and Linux takes that path', (t) => {
  if (skipReason) return t.skip(skipReason);
  const { status, report } = probe(['--tsc-khz', '4400000', '--cpu-vendor', 'amd', '--duration-ms', '20']);
  assert.equal(status, 0);
  const msr = (n: number) => report.guest!.msrs.find((m) => m.msr === n)?.value;
  assert.equal(msr(0x40000022), 4_400_000_000);
  assert.equal(msr(0x40000023), report.guest!.apicTimerHz);
  assert.deepEqual(report.guest!.linux.map((l) => [l.vendor, l.path, l.tscKhz]), [['amd', 'hyperv-frequency-msrs', 4_400_000]]);
  const timing = report.guest!.leaves.find((l) => l.leaf === 0x40000010)!;
  assert.equal(timing.eax, 4_400_000);
});

test('bad option values are usage errors (exit 2)', () => {
  for (const args of [['--duration-ms', 'soon'], ['--duration-ms', '5'], ['--tsc-khz', '0'], ['--tsc-khz', '99999999999'], ['--cpu-vendor', 'via']]) {
    const r = runCli(['probe-tsc', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^krun-whp: error: --(duration-ms|tsc-khz|cpu-vendor) expects/);
  }
});

test('human output names the chosen method and the Linux path per vendor', (t) => {
  if (skipReason) return t.skip(skipReason);
  const r = runCli(['probe-tsc', '--duration-ms', '20', '--tsc-khz', '2391234']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /chosen: [\d.]+ MHz from [a-z0-9+-]+/);
  assert.match(r.stdout, /GenuineIntel guest .*\n\s+Linux path: hyperv-frequency-msrs → tsc_khz 2391234/);
  assert.match(r.stdout, /leaf 0x15: exact/);
  assert.match(r.stdout, /0x40000022\s+2391234000\s+HV_X64_MSR_TSC_FREQUENCY/);
  assert.doesNotMatch(r.stderr, /warning/, 'no truncation warning below 2^32 Hz');
});

test('on a terminal: the spinner leaves the terminal as it found it, and a pty of width 0 gets no spinner (no endless redraw)', (t) => {
  if (skipReason) return t.skip(skipReason);
  if (spawnSync('script', ['--version']).status !== 0) return t.skip('script(1) not installed (apt-get install bsdutils)');
  const bin = new URL('../bin/krun-whp', import.meta.url).pathname;
  // Width 0 is what script(1), docker exec -t and CI runners give a pty nobody sized; ora's line
  // arithmetic divided by it and redrew forever. stty -g before and after shows raw mode undone.
  for (const cols of [0, 80]) {
    const inner = `stty cols ${cols} rows 24; before=$(stty -g); ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} probe-tsc --duration-ms 200 >/dev/null; rc=$?; after=$(stty -g); [ "$before" = "$after" ] && echo TERMINAL-SAME; echo RC=$rc`;
    const r = spawnSync('script', ['-qfec', inner, '/dev/null'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    assert.notEqual(r.signal, 'SIGTERM', `cols ${cols}: did not finish in 60 s`);
    assert.match(r.stdout, /RC=0/, `cols ${cols}: ${r.stdout.slice(-300)}`);
    assert.match(r.stdout, /TERMINAL-SAME/, `cols ${cols}: terminal settings changed`);
    assert.ok(r.stdout.length < 64 * 1024, `cols ${cols}: ${r.stdout.length} bytes of terminal output`);
  }
});
