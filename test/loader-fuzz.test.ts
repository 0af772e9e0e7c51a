/**
 * Fuzzing the loader: thousands of mutated and truncated copies of real (when
 * present) and synthetic kernel headers, with random memory sizes, initrds and
 * command lines. Every case must end in a consistent BootPlan or our InputError —
 * never another exception, never a hang (each test has a timeout).
 *
 * Reproduce a failure with LOADER_FUZZ_SEED=<seed printed in the output>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InputError } from '../src/errors.ts';
import { planBoot, applyBootPlan, type BootPlan } from '../src/loader/boot-plan.ts';
import { GuestRam } from '../src/memory/guest-memory.ts';
import { ramLayout, MIB, GIB } from '../src/memory/layout.ts';
import { bundledBzImage, debianKernel, syntheticBzImage, syntheticVmlinux, vmlinuxFromBzImage } from './helpers/kernels.ts';

const SEED = process.env.LOADER_FUZZ_SEED ? Number(process.env.LOADER_FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;

/** mulberry32: small, fast, good enough to drive a fuzzer deterministically. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x1000, 0x200000, 0x1000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const MEMORY_SIZES = [16 * MIB - 4096, 16 * MIB, 17 * MIB, 40 * MIB, 64 * MIB, 512 * MIB, 3 * GIB, 5 * GIB, 1025 * GIB, 16 * MIB + 1];
/** Setup-header field offsets (boot.rst) to aim the "interesting value" mutations at. */
const BZ_FIELDS = [0x1f1, 0x1f4, 0x1fe, 0x200, 0x201, 0x202, 0x206, 0x20e, 0x211, 0x22c, 0x230, 0x234, 0x235, 0x236, 0x238, 0x248, 0x24c, 0x258, 0x25c, 0x260];
/** ELF64 header and first program header fields (gABI). */
const ELF_FIELDS = [4, 5, 0x10, 0x12, 0x18, 0x1c, 0x20, 0x36, 0x38, 64, 64 + 8, 64 + 0x10, 64 + 0x18, 64 + 0x1c, 64 + 0x20, 64 + 0x28, 64 + 56, 64 + 56 + 0x18, 64 + 56 + 0x28];

const small = GuestRam.allocate(ramLayout(64 * MIB));
/** One lazily-committed buffer the initrds are views of: allocating per case made GC the bottleneck. */
const INITRD_POOL = new Uint8Array(1536 * MIB);

/** What must hold for any plan the loader hands out. */
function checkPlan(plan: BootPlan): void {
  const ram = ramLayout(plan.memoryBytes);
  const inRam = (gpa: number, size: number) => ram.some((r) => gpa >= r.gpa && gpa + size <= r.gpa + r.size);
  const spans = plan.writes.map((w) => ('data' in w ? [w.gpa, w.data.length] : [w.gpa, w.zero]) as [number, number]);
  for (const [gpa, size] of spans) assert.ok(inRam(gpa, size), `write 0x${gpa.toString(16)}+${size} outside RAM`);
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1]![0] + sorted[i - 1]![1] <= sorted[i]![0], 'overlapping writes');
  const l = plan.layout;
  assert.ok(l.kernel.addr >= 0x100000);
  assert.ok(plan.cpu.rip >= l.kernel.addr && plan.cpu.rip < l.kernelFootprint.addr + l.kernelFootprint.size, 'entry inside the kernel');
  assert.ok(l.kernelFootprint.addr + l.kernelFootprint.size <= Math.min(plan.memoryBytes, 3 * GIB));
  if (l.initrd) {
    assert.equal(l.initrd.addr % 4096, 0);
    assert.ok(l.initrd.addr + l.initrd.size - 1 <= plan.kernel.initrdAddrMax);
    assert.ok(l.initrd.addr >= l.kernelFootprint.addr + l.kernelFootprint.size);
  }
  assert.ok(l.cmdline.size - 1 <= plan.kernel.cmdlineSize);
}

interface Corpus {
  name: string;
  bytes: Uint8Array;
  fields: readonly number[];
  /** Where byte flips land: the header area. */
  hotEnd: number;
  cases: number;
}

function fuzz(corpus: Corpus, seed: number): { plans: number; refusals: number } {
  const rnd = prng(seed);
  const base = corpus.bytes;
  let plans = 0;
  let refusals = 0;
  for (let c = 0; c < corpus.cases; c++) {
    // Mutate in place and restore afterwards: copying a 14 MB kernel per case would dominate.
    const saved: [number, number][] = [];
    const poke = (at: number, v: number) => {
      if (at < base.length) {
        saved.push([at, base[at]!]);
        base[at] = v & 0xff;
      }
    };
    const mutations = rnd.int(4);
    for (let m = 0; m < mutations; m++) {
      if (rnd.next() < 0.5) {
        poke(rnd.int(corpus.hotEnd), rnd.int(256));
      } else {
        const at = rnd.pick(corpus.fields);
        const v = rnd.pick(INTERESTING_U32);
        const width = rnd.pick([1, 2, 4, 8]);
        for (let i = 0; i < width; i++) poke(at + i, i < 4 ? v >>> (8 * i) : rnd.next() < 0.8 ? 0 : 0xff);
      }
    }
    const r = rnd.next();
    const length = r < 0.15 ? rnd.int(corpus.hotEnd + 64) : r < 0.3 ? rnd.int(base.length + 1) : base.length;
    const kernel = base.subarray(0, length);
    const memoryBytes = rnd.pick(MEMORY_SIZES);
    const ri = rnd.next();
    const initrd = ri < 0.5 ? null : INITRD_POOL.subarray(0, ri < 0.8 ? rnd.int(2 * MIB) : rnd.pick([0, 40 * MIB, 600 * MIB, 1536 * MIB]));
    const cmdline = rnd.next() < 0.1 ? 'y'.repeat(rnd.int(5000)) : 'quiet';
    try {
      const plan = planBoot(kernel, { memoryBytes, initrd, cmdline, kernelName: corpus.name });
      checkPlan(plan);
      if (plan.memoryBytes === small.size) applyBootPlan(plan, small);
      plans++;
    } catch (err) {
      if (!(err instanceof InputError)) {
        throw new Error(`case ${c} (seed ${seed}, ${corpus.name}): ${err instanceof Error ? err.stack : String(err)}`);
      }
      assert.ok(err.message.length > 0 && !err.message.includes('\n'), 'one-line message');
      refusals++;
    } finally {
      for (let i = saved.length - 1; i >= 0; i--) base[saved[i]![0]] = saved[i]![1];
    }
  }
  return { plans, refusals };
}

function corpora(): Corpus[] {
  const out: Corpus[] = [];
  const bundled = bundledBzImage();
  out.push(bundled
    ? { name: 'guest/bzImage', bytes: bundled, fields: BZ_FIELDS, hotEnd: 0x300, cases: 5000 }
    : { name: 'synthetic bzImage', bytes: syntheticBzImage(), fields: BZ_FIELDS, hotEnd: 0x300, cases: 5000 });
  const deb = debianKernel();
  if (deb) out.push({ name: 'debian vmlinuz', bytes: new Uint8Array(readFileSync(deb.path)), fields: BZ_FIELDS, hotEnd: 0x300, cases: 3000 });
  out.push({ name: 'synthetic vmlinux', bytes: syntheticVmlinux(), fields: ELF_FIELDS, hotEnd: 64 + 2 * 56, cases: 5000 });
  if (bundled) {
    // The real ELF: fewer cases, each scans ~20+ MB for the version banner.
    out.push({ name: 'guest vmlinux', bytes: vmlinuxFromBzImage(bundled), fields: ELF_FIELDS, hotEnd: 64 + 4 * 56, cases: 150 });
  }
  return out;
}

test(`loader fuzz (seed ${SEED}; rerun with LOADER_FUZZ_SEED=${SEED})`, { timeout: 120_000 }, (t) => {
  t.diagnostic(`LOADER_FUZZ_SEED=${SEED}`);
  for (const [i, corpus] of corpora().entries()) {
    const { plans, refusals } = fuzz(corpus, (SEED + i * 0x9e3779b9) >>> 0);
    t.diagnostic(`${corpus.name}: ${corpus.cases} cases, ${plans} plans, ${refusals} InputErrors`);
    assert.equal(plans + refusals, corpus.cases);
    assert.ok(plans > 0, `${corpus.name}: some mutated cases must still boot (the fuzzer is not just breaking the magic)`);
  }
});
