/**
 * Wall time of `krun-whp probe-tsc` with default options (50 ms of calibration
 * included), beside `krun-whp --version` measured in the same run, alternating
 * the two so machine load affects both alike. Goal: probe-tsc under 300 ms.
 */
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchResult } from './harness.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'krun-whp');

function wallMs(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`krun-whp ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function run(): Promise<BenchResult[]> {
  if (process.arch !== 'x64') return [];
  wallMs(['--version']); // warm the file cache
  wallMs(['probe-tsc']);
  const probe: number[] = [];
  const version: number[] = [];
  for (let i = 0; i < 9; i++) {
    version.push(wallMs(['--version']));
    probe.push(wallMs(['probe-tsc']));
  }
  const value = median(probe);
  return [
    {
      name: 'probe-tsc wall time (default, 50 ms calibration)',
      unit: 'ms',
      value,
      reference: { name: 'krun-whp --version', value: median(version) },
      goal: '< 300 ms',
      pass: value < 300,
    },
  ];
}
