/**
 * Cold start: `node bin/krun-whp --version` against `node -e 0` (Node's own start-up
 * floor), interleaved so both see the same machine load; median of 15 runs each.
 * Goal: ≤ 1.3× the reference. Also CPU time (GNU time, when installed; 10 ms
 * resolution), which a loaded machine distorts much less than wall time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchResult } from './harness.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'krun-whp');
const RUNS = 15;

const GNU_TIME = '/usr/bin/time';

/** CPU time (user + sys) of one run, via GNU time: far less sensitive to machine load than wall time. */
function cpuMs(args: string[]): number {
  const r = spawnSync(GNU_TIME, ['-f', '%U %S', process.execPath, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const last = String(r.stderr).trim().split('\n').pop() ?? '';
  const [u, s] = last.split(' ').map(Number);
  return ((u ?? NaN) + (s ?? NaN)) * 1000;
}

function wallMs(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${String(r.stderr)}`);
  return ms;
}

export async function run(): Promise<BenchResult[]> {
  if (!existsSync(join(ROOT, 'dist', 'krun-whp.cjs'))) {
    console.log('  startup bench skipped: dist/krun-whp.cjs missing (npm run build)');
    return [];
  }
  // One of each first so disk caches are warm for both.
  wallMs(['-e', '0']);
  wallMs([BIN, '--version']);
  const ours: number[] = [];
  const ref: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    ref.push(wallMs(['-e', '0']));
    ours.push(wallMs([BIN, '--version']));
  }
  const value = median(ours);
  const reference = median(ref);
  const cpu: BenchResult[] = [];
  if (existsSync(GNU_TIME)) {
    const oursCpu: number[] = [];
    const refCpu: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      refCpu.push(cpuMs(['-e', '0']));
      oursCpu.push(cpuMs([BIN, '--version']));
    }
    const v = median(oursCpu);
    const r = median(refCpu);
    cpu.push({
      name: 'cold start CPU time (user+sys): --version',
      unit: 'ms',
      value: v,
      reference: { name: 'node -e 0', value: r },
      goal: '≤ 1.3× reference',
      pass: v <= 1.3 * r,
    });
  }
  return [
    {
      name: 'cold start: krun-whp --version',
      unit: 'ms',
      value,
      reference: { name: 'node -e 0', value: reference },
      goal: '≤ 1.3× reference',
      pass: value <= 1.3 * reference,
    },
    ...cpu,
  ];
}
