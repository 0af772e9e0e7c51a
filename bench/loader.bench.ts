/**
 * Loader speed: parse + lay out + place the bundled guest kernel (or, until it is
 * built, Debian's cloud kernel from scripts/fetch-debian-kernel.sh) into guest RAM,
 * beside a plain copy of the same file into the same RAM — the floor any loader pays.
 * Goal: parse-and-place < 20 ms.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planBoot, applyBootPlan } from '../src/loader/boot-plan.ts';
import { GuestRam } from '../src/memory/guest-memory.ts';
import { ramLayout, MIB } from '../src/memory/layout.ts';
import { median, type BenchResult } from './harness.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function findKernel(): { name: string; bytes: Uint8Array } | null {
  const bundled = join(ROOT, 'guest', 'bzImage');
  if (existsSync(bundled)) return { name: 'guest/bzImage', bytes: new Uint8Array(readFileSync(bundled)) };
  const cache = join(ROOT, '.cache', 'kernels');
  const deb = existsSync(cache) ? readdirSync(cache).filter((f) => f.startsWith('vmlinuz-')).sort().pop() : undefined;
  return deb ? { name: deb, bytes: new Uint8Array(readFileSync(join(cache, deb))) } : null;
}

function msMedian(fn: () => void, samples = 15): number {
  fn(); // warm-up: JIT, and RAM pages touched once (a fresh VM pays first-touch faults in both cases)
  const xs: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(xs);
}

export async function run(): Promise<BenchResult[]> {
  const kernel = findKernel();
  if (!kernel) {
    console.log('  loader bench skipped: no guest/bzImage and no .cache/kernels/vmlinuz-* (scripts/fetch-debian-kernel.sh)');
    return [];
  }
  const memoryBytes = 512 * MIB;
  const mem = GuestRam.allocate(ramLayout(memoryBytes));
  const initrd = new Uint8Array(4 * MIB).fill(0x42);

  const placeMs = msMedian(() => applyBootPlan(planBoot(kernel.bytes, { memoryBytes, initrd }), mem));
  const copyMs = msMedian(() => {
    mem.write(0x1000000, kernel.bytes);
    mem.write(memoryBytes - initrd.length, initrd);
  });
  const planMs = msMedian(() => planBoot(kernel.bytes, { memoryBytes, initrd }), 31);

  return [
    {
      name: `parse + place ${kernel.name} + 4 MiB initrd`,
      unit: 'ms',
      value: placeMs,
      reference: { name: 'plain copy of the same bytes', value: copyMs },
      goal: '< 20 ms',
      pass: placeMs < 20,
    },
    {
      name: `parse + plan only (${kernel.name})`,
      unit: 'ms',
      value: planMs,
      reference: { name: 'plain copy of the same bytes', value: copyMs },
    },
  ];
}
