/** The implementation of `krun-whp probe-tsc` (see probe-tsc.ts), loaded only when the command runs. */
import type { CliContext } from '../context.ts';
import { hex, keyValues, table } from '../format.ts';
import { parseChoice, parseInteger } from '../options.ts';
import { HostError } from '../../errors.ts';
import { probeHostTsc, type HostTscProbe } from '../../host/tsc-probe.ts';
import { thunkUnsupportedReason } from '../../host/native-thunk.ts';
import { softCpuProfile, type CpuProfile } from '../../x86/cpuid/cpu-profiles.ts';
import { chooseCrystalForExactTsc, naiveHzInEbx } from '../../x86/cpuid/tsc-leaves.ts';
import { guestTscView, TIMING_LEAVES, type GuestTscView } from '../../x86/cpuid/guest-tsc-view.ts';

const VENDORS = ['intel', 'amd'] as const;
type Vendor = (typeof VENDORS)[number];

export interface ProbeTscFlags {
  durationMs?: string;
  tscKhz?: string;
  cpuVendor?: string;
}

export async function probeTsc(ctx: CliContext, flags: ProbeTscFlags): Promise<void> {
  const durationMs = parseInteger('--duration-ms', flags.durationMs ?? '50', 10, 10_000);
  const tscKhz = flags.tscKhz === undefined ? undefined : parseInteger('--tsc-khz', flags.tscKhz, 1000, 65_535_000);
  const vendors: readonly Vendor[] = flags.cpuVendor === undefined ? VENDORS : [parseChoice('--cpu-vendor', flags.cpuVendor, VENDORS)];

  const unsupported = thunkUnsupportedReason();
  if (unsupported) throw new HostError(`probe-tsc: ${unsupported}`, { hint: 'run it on an x86-64 Linux or Windows host' });

  const spinner = await maybeSpinner(ctx, durationMs);
  let probe: HostTscProbe;
  try {
    probe = await probeHostTsc({
      durationMs,
      onCalibration: (phase) => (phase === 'start' ? spinner?.start() : spinner?.stop()),
    });
  } finally {
    spinner?.stop();
  }

  const warnings: string[] = [];
  const hostHz = probe.chosen ? BigInt(Math.round(probe.chosen.hz)) : undefined;
  if (hostHz !== undefined && hostHz >= 2n ** 32n) {
    const n = naiveHzInEbx(hostHz);
    warnings.push(
      `this host's TSC runs at ${mhz(Number(hostHz))} MHz, at or above 2^32 Hz: a VMM that puts the frequency in Hz into the 32-bit EBX of CPUID 0x15 would tell guests ${mhz(Number(n.seenHz))} MHz (the encoding below does not)`,
    );
  }
  const guestHz = tscKhz !== undefined ? BigInt(tscKhz) * 1000n : hostHz;
  if (tscKhz !== undefined && guestHz! >= 2n ** 32n && !(hostHz !== undefined && hostHz >= 2n ** 32n)) {
    warnings.push(`--tsc-khz ${tscKhz} is at or above 2^32 Hz: a naive 32-bit Hz encoding in CPUID 0x15 EBX would truncate it to ${mhz(Number(naiveHzInEbx(guestHz!).seenHz))} MHz`);
  }
  for (const w of warnings) ctx.warn(w);

  const guest = guestHz === undefined ? undefined : buildGuest(probe, guestHz, vendors);
  process.exitCode = probe.chosen || tscKhz !== undefined ? 0 : 1;

  if (ctx.options.json) {
    ctx.printJson(jsonReport(probe, guest, guestHz, tscKhz !== undefined, warnings));
    return;
  }
  printHuman(ctx, probe, guest, tscKhz !== undefined);
}

interface GuestReport {
  readonly tscHz: bigint;
  readonly apicTimerHz: bigint;
  readonly apicTimerSource: string;
  readonly views: readonly { vendor: Vendor; profile: CpuProfile; view: GuestTscView }[];
}

function buildGuest(probe: HostTscProbe, tscHz: bigint, vendors: readonly Vendor[]): GuestReport {
  // The APIC timer rate the backend would really run: WHP's InterruptClockFrequency,
  // else the software CPU's choice of a rate that makes leaf 0x15 exact.
  let apicTimerHz: bigint;
  let apicTimerSource: string;
  if (probe.whp.available && probe.whp.interruptClockHz) {
    apicTimerHz = probe.whp.interruptClockHz;
    apicTimerSource = 'WHP InterruptClockFrequency (the WHP backend)';
  } else {
    apicTimerHz = BigInt(chooseCrystalForExactTsc(tscHz).crystalHz);
    apicTimerSource = 'chosen near 100 MHz so that CPUID 0x15 is exact (the software CPU backend)';
  }
  const views = vendors.map((vendor) => {
    // A WHP partition runs the host CPU, so the host profile applies when its vendor matches;
    // otherwise show the software CPU's fixed profile for that vendor.
    const profile = probe.profile.vendor === vendor ? probe.profile : softCpuProfile(vendor);
    return { vendor, profile, view: guestTscView(profile, tscHz, apicTimerHz) };
  });
  return { tscHz, apicTimerHz, apicTimerSource, views };
}

function jsonReport(probe: HostTscProbe, guest: GuestReport | undefined, guestHz: bigint | undefined, fromOption: boolean, warnings: string[]) {
  const { cpu } = probe;
  return {
    host: {
      arch: process.arch,
      platform: process.platform,
      vendor: cpu.vendor,
      family: cpu.family,
      model: cpu.model,
      stepping: cpu.stepping,
      brand: cpu.brand ?? null,
      maxBasicLeaf: cpu.maxBasicLeaf,
      maxExtendedLeaf: cpu.maxExtendedLeaf,
      leaf15: cpu.leaf15 ?? null,
      leaf16: cpu.leaf16 ?? null,
      invariantTsc: cpu.invariantTsc,
      hypervisor: cpu.hypervisor ?? null,
    },
    estimates: probe.estimates,
    calibration: probe.calibration
      ? { clock: probe.calibration.clock, elapsedMs: probe.calibration.elapsedMs, windows: probe.calibration.windows }
      : null,
    chosen: probe.chosen ?? null,
    warnings,
    guest: guest
      ? {
          tscHz: guestHz,
          tscSource: fromOption ? '--tsc-khz' : 'chosen',
          apicTimerHz: guest.apicTimerHz,
          apicTimerSource: guest.apicTimerSource,
          linux: guest.views.map(({ vendor, profile, view }) => ({
            vendor,
            profile: profile.name,
            vendorString: view.model.vendorString,
            ...view.linux,
            leaf15: view.model.leaf15 ?? null,
          })),
          leaves: guest.views.flatMap(({ vendor, view }) => view.model.leaves.map((l) => ({ vendor, ...l }))),
          msrs: guest.views.flatMap(({ vendor, view }) => view.model.msrs.map((m) => ({ vendor, msr: m.msr, name: m.name, value: m.value, access: m.access }))),
        }
      : null,
  };
}

function printHuman(ctx: CliContext, probe: HostTscProbe, guest: GuestReport | undefined, fromOption: boolean): void {
  const { chalk, print } = ctx;
  const { cpu } = probe;
  const regs = (r: { eax: number; ebx: number; ecx: number; edx: number }) => [r.eax, r.ebx, r.ecx, r.edx].map((v) => hex(v, 8)).join(' ');
  print(chalk.bold('Host CPU'));
  for (const line of keyValues(chalk, [
    ['vendor', `${cpu.vendor}${cpu.brand ? ` (${cpu.brand})` : ''}`],
    ['family / model', `${hex(cpu.family)} / ${hex(cpu.model)}, stepping ${cpu.stepping}`],
    ['max leaves', `basic ${hex(cpu.maxBasicLeaf)}, extended ${hex(cpu.maxExtendedLeaf)}`],
    ['leaf 0x15', cpu.leaf15 ? `EAX..EDX ${regs(cpu.leaf15)}` : `not present (max basic leaf ${hex(cpu.maxBasicLeaf)})`],
    ['leaf 0x16', cpu.leaf16 ? `EAX..EDX ${regs(cpu.leaf16)}` : 'not present'],
    ['invariant TSC', cpu.invariantTsc ? 'yes (0x80000007 EDX[8])' : 'no'],
    ['hypervisor', cpu.hypervisor ? `${JSON.stringify(cpu.hypervisor.signature)}, max leaf ${hex(cpu.hypervisor.maxLeaf)}` : cpu.hypervisorPresent ? 'present, no signature' : 'none'],
  ])) print(line);

  print();
  print(chalk.bold('TSC frequency estimates'));
  const rows = probe.estimates.map((e) => [
    e.method === probe.chosen?.method ? chalk.green(`${e.method} *`) : e.method,
    e.hz === null ? chalk.dim('-') : mhz(e.hz),
    e.spreadPpm === null ? chalk.dim('-') : `±${e.spreadPpm < 10 ? e.spreadPpm.toFixed(2) : e.spreadPpm.toFixed(0)}`,
    e.hz === null ? chalk.dim(e.detail) : e.detail,
  ]);
  for (const line of table(chalk, ['METHOD', 'MHz', 'SPREAD ppm', 'SOURCE'], rows)) print(line);
  if (probe.chosen) {
    print(`  chosen: ${chalk.bold(mhz(probe.chosen.hz) + ' MHz')} from ${probe.chosen.method} (${probe.chosen.reason})`);
  } else {
    print(chalk.red('  no method determined the TSC frequency'));
  }

  if (!guest) return;
  print();
  print(chalk.bold(`Guest view for a ${mhz(Number(guest.tscHz))} MHz TSC${fromOption ? ' (--tsc-khz)' : ''}`));
  print(`  APIC timer ${mhz(Number(guest.apicTimerHz))} MHz: ${guest.apicTimerSource}`);
  for (const { vendor, profile, view } of guest.views) {
    print();
    const l = view.linux;
    print(`  ${chalk.bold(view.model.vendorString)} guest (${vendor}, profile ${profile.name}, ${view.model.leaves.length} leaves; --json lists all)`);
    print(`    Linux path: ${chalk.cyan(l.path)}${l.tscKhz !== undefined ? ` → tsc_khz ${l.tscKhz}` : ''}${l.knownFreq ? ', TSC_KNOWN_FREQ' : ''}`);
    print(`    ${chalk.dim(l.explanation)}`);
    if (view.model.leaf15) {
      const e = view.model.leaf15;
      print(`    leaf 0x15: ${e.exact ? chalk.green('exact') : chalk.yellow(`nearest, ${e.errorPpm.toFixed(3)} ppm`)} (crystal_khz ${e.crystalKhz} × EBX ${e.ebx} = ${e.product} < 2^32, / EAX ${e.eax} = ${e.decodedKhz} kHz)`);
    }
    const shown = view.model.leaves.filter((x) => TIMING_LEAVES.includes(x.leaf));
    for (const line of table(chalk, ['LEAF', 'SUB', 'EAX', 'EBX', 'ECX', 'EDX'], shown.map((x) => [hex(x.leaf, 8), String(x.subleaf), hex(x.eax, 8), hex(x.ebx, 8), hex(x.ecx, 8), hex(x.edx, 8)]), 4)) print(line);
    if (view.model.msrs.length) {
      for (const line of table(chalk, ['MSR', 'VALUE', 'NAME'], view.model.msrs.map((m) => [hex(m.msr, 8), m.value.toString(), m.name]), 4)) print(line);
    }
  }
}

function mhz(hz: number): string {
  return (hz / 1e6).toFixed(6).replace(/\.?0+$/, (m) => (m.startsWith('.') ? '' : m));
}

async function maybeSpinner(ctx: CliContext, durationMs: number): Promise<{ start(): void; stop(): void } | undefined> {
  // A terminal that reports no width (columns 0: a pty nobody sized, as script(1) or a CI
  // runner give) makes ora's line arithmetic divide by zero and redraw forever: no spinner.
  if (ctx.options.json || !process.stderr.isTTY || !(process.stderr.columns > 0)) return undefined;
  const { default: ora } = await import('ora');
  // discardStdin false: ora would otherwise put stdin in raw mode for the spinner's life,
  // swallowing Ctrl-C and leaving the terminal raw if a signal ends the process.
  const s = ora({ text: `calibrating the TSC against the monotonic clock (${durationMs} ms)`, stream: process.stderr, discardStdin: false });
  return { start: () => void s.start(), stop: () => void s.stop() };
}
