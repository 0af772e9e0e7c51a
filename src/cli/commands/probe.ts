/**
 * `krun-whp probe [--json]`: which backends can run on this host, and why
 * (not); on Windows, the WHP capabilities. Exit 0 when some backend is usable,
 * 1 when none is (an outcome, not an error: process.exitCode, no error line).
 *
 * JSON schema (README): { host: {platform, arch, release}, backends: [{name,
 * available, reason}], whp?: WhpCapabilities } — `whp` only on Windows when
 * the DLL loaded.
 */
import { arch, release } from 'node:os';
import type { Command } from 'commander';
import { probeBackends } from '../../vmm/backend.ts';
import type { BackendProbe, HostInfo } from '../../vmm/backend.ts';
import type { WhpCapabilities } from '../../whp/capabilities.ts';
import type { CliContext } from '../context.ts';
import { keyValues, table } from '../format.ts';
import type { RegisterCommand } from './index.ts';

export function hostInfo(): HostInfo {
  return { platform: process.platform, arch: arch(), release: release() };
}

export interface ProbeReport {
  host: HostInfo;
  backends: { name: string; available: boolean; reason: string }[];
  whp?: WhpCapabilities;
}

export function buildReport(host: HostInfo, probes: readonly BackendProbe[]): ProbeReport {
  const report: ProbeReport = { host, backends: probes.map(({ name, available, reason }) => ({ name, available, reason })) };
  const whp = probes.find((p) => p.name === 'whp')?.details?.['capabilities'];
  if (whp) report.whp = whp as WhpCapabilities;
  return report;
}

export const register: RegisterCommand = (program: Command, getContext) => {
  program
    .command('probe')
    .description('report which backends can run VMs on this host (and the WHP capabilities on Windows); exit 1 if none can')
    .action(async () => {
      const ctx = await getContext();
      const host = hostInfo();
      const report = buildReport(host, await probeBackends(host));
      if (ctx.options.json) ctx.printJson(report);
      else printHuman(ctx, report);
      if (!report.backends.some((b) => b.available)) process.exitCode = 1;
    });
};

function list(xs: readonly string[] | null): string {
  if (xs === null) return 'not reported by this Windows build';
  return xs.length ? xs.join(', ') : 'none';
}

function hz(v: number | null): string {
  return v === null ? 'not reported' : `${(v / 1e6).toFixed(3)} MHz`;
}

function printHuman(ctx: CliContext, r: ProbeReport): void {
  const c = ctx.chalk;
  ctx.print(c.bold('Host'));
  for (const l of keyValues(c, [
    ['platform', r.host.platform],
    ['arch', r.host.arch],
    [r.host.platform === 'win32' ? 'Windows build' : 'OS release', r.host.release],
  ]))
    ctx.print(l);
  ctx.print();
  ctx.print(c.bold('Backends'));
  for (const l of table(
    c,
    ['name', 'available', 'reason'],
    r.backends.map((b) => [b.name, b.available ? c.green('yes') : c.red('no'), b.reason]),
  ))
    ctx.print(l);
  if (r.whp) {
    const w = r.whp;
    ctx.print();
    ctx.print(c.bold('Windows Hypervisor Platform'));
    for (const l of keyValues(c, [
      ['hypervisor present', w.hypervisorPresent ? 'yes' : 'no'],
      ['features', list(w.features)],
      ['extended VM exits', list(w.extendedVmExits)],
      ['processor vendor', w.processorVendor ?? 'not reported'],
      ['processor features', list(w.processorFeatures)],
      ['XSAVE features', list(w.processorXsaveFeatures)],
      ['synthetic (Hyper-V) features', list(w.syntheticProcessorFeatures)],
      ['processor clock', hz(w.processorClockFrequencyHz)],
      ['interrupt clock', hz(w.interruptClockFrequencyHz)],
      ['local APIC emulation', w.localApicEmulationModes.length ? w.localApicEmulationModes.join(', ') : 'none (the VMM must emulate the APIC)'],
    ]))
      ctx.print(l);
  }
  ctx.print();
  const usable = r.backends.filter((b) => b.available).map((b) => b.name);
  if (usable.length) ctx.print(`usable backend${usable.length > 1 ? 's' : ''}: ${usable.join(', ')}`);
  else ctx.print(c.red(`no backend is usable on this host: ${r.backends.map((b) => `${b.name}: ${b.reason}`).join('; ')}`));
}
