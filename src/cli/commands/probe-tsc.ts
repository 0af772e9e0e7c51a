/**
 * `krun-whp probe-tsc`: how this host's TSC frequency is known (every method,
 * with its spread, and the one chosen by a stated rule), and exactly what a guest
 * would be told about it — the CPUID leaves and Hyper-V MSR values per vendor
 * profile, and the path a Linux guest takes through them.
 *
 * Exit codes: 0 when a frequency was determined (or given with --tsc-khz),
 * 1 when no method worked or the host is not x86-64, 2 for bad option values.
 */
import type { Command } from 'commander';
import type { RegisterCommand } from './index.ts';
import type { ProbeTscFlags } from './probe-tsc-run.ts';

// Registration only: the implementation (host CPUID thunk, calibration, CPUID model)
// is imported when the command runs, so other commands and --help don't load it.
export const register: RegisterCommand = (program: Command, getContext) => {
  program
    .command('probe-tsc')
    .description("measure the host TSC frequency every way available, and show the CPUID leaves and MSRs a guest would get for it")
    .option('--duration-ms <n>', 'calibration time against the OS monotonic clock (10-10000)', '50')
    .option('--tsc-khz <n>', 'show the guest view for this TSC frequency instead of the chosen host frequency')
    .option('--cpu-vendor <vendor>', 'show only this guest vendor profile: intel or amd')
    .action(async (flags: ProbeTscFlags) => {
      const ctx = await getContext();
      const { probeTsc } = await import('./probe-tsc-run.ts');
      await probeTsc(ctx, flags);
    });
};

