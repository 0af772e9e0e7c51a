/**
 * CPUID 0x15/0x16 encoding, checked the way Linux 6.1 decodes it
 * (arch/x86/kernel/tsc.c native_calibrate_tsc(), 32-bit unsigned arithmetic),
 * against a brute-force oracle written here independently of the
 * implementation's search (the oracle walks numerators, the implementation
 * walks denominators).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeLeaf15, encodeLeaf16, chooseCrystalForExactTsc, naiveHzInEbx } from '../src/x86/cpuid/tsc-leaves.ts';

const U32 = 2 ** 32;

/** Linux: crystal_khz = ecx / 1000; tsc_khz = crystal_khz * ebx / eax, all `unsigned int`. */
function linuxDecode(eax: number, ebx: number, ecx: number): { tscKhz: number; wrapped: boolean } {
  const crystalKhz = Math.floor(ecx / 1000);
  const full = BigInt(crystalKhz) * BigInt(ebx);
  const product = Number(full & 0xffff_ffffn);
  return { tscKhz: Math.floor(product / eax), wrapped: full >= BigInt(U32) };
}

/**
 * Oracle: over every numerator b with c·b < 2^32, the denominators that decode
 * closest to T are a = ⌊c·b/T⌋ (decodes to ≥ T) and a + 1 (decodes to ≤ T).
 * Returns the smallest |decoded − T| reachable (0 ⇔ an exact pair exists).
 */
function oracleBestError(targetKhz: number, crystalKhz: number): number {
  let best = Infinity;
  const maxB = Math.floor((U32 - 1) / crystalKhz);
  for (let b = 1; b <= maxB; b++) {
    const p = crystalKhz * b;
    const a = Math.floor(p / targetKhz);
    if (a >= 1) {
      const d = Math.floor(p / a) - targetKhz;
      if (d < best) best = d;
      if (best === 0) return 0;
    }
    const e = targetKhz - Math.floor(p / (a + 1));
    if (e < best) best = e;
  }
  return best;
}

/** Deterministic pseudo-random sequence (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / U32;
  };
}

const CRYSTALS_HZ = [24_000_000, 25_000_000, 38_400_000, 100_000_000, 200_000_000];
const SPECIAL_HZ = [
  1_000_000n, // lower end of the range
  4_400_000_000n, // Ryzen 9 9900X base clock: the truncation case
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 32n + 1n,
  4_391_234_567n, // odd frequency from the issue
  10_000_000_001n,
  12_345_678_901n,
  19_999_999_999n,
  20_000_000_000n,
];
function frequencies(): bigint[] {
  const r = rng(0x15);
  const out = [...SPECIAL_HZ];
  // Log-uniform from 1 MHz to 20 GHz, with arbitrary low digits.
  for (let i = 0; i < 48; i++) out.push(BigInt(Math.floor(1e6 * Math.pow(2e4, r()))));
  return out;
}

test('leaf 0x15 decodes, by Linux arithmetic, to the configured kHz whenever an exact pair exists, else to the nearest value; nothing overflows', () => {
  let exactCount = 0;
  let nearestCount = 0;
  for (const hz of frequencies()) {
    const target = Number(hz / 1000n);
    for (const crystal of CRYSTALS_HZ) {
      const enc = encodeLeaf15(hz, crystal);
      const ctx = `${hz} Hz, crystal ${crystal} Hz → EAX=${enc.eax} EBX=${enc.ebx} ECX=${enc.ecx}`;
      assert.equal(enc.ecx, crystal, ctx);
      for (const r of [enc.eax, enc.ebx, enc.ecx]) assert.ok(Number.isInteger(r) && r >= 1 && r < U32, ctx);
      const decoded = linuxDecode(enc.eax, enc.ebx, enc.ecx);
      assert.equal(decoded.wrapped, false, `crystal_khz × EBX wraps: ${ctx}`);
      assert.equal(decoded.tscKhz, enc.decodedKhz, ctx);
      const best = oracleBestError(target, Math.floor(crystal / 1000));
      assert.equal(Math.abs(decoded.tscKhz - target), best, `not the nearest: ${ctx}`);
      assert.equal(enc.exact, best === 0, ctx);
      if (best === 0) exactCount++;
      else nearestCount++;
      assert.ok(Math.abs(enc.errorPpm - ((decoded.tscKhz - target) / target) * 1e6) < 1e-9, ctx);
    }
  }
  // The sweep must exercise both outcomes, or it proves less than it claims.
  assert.ok(exactCount > 100, `exact cases: ${exactCount}`);
  assert.ok(nearestCount > 0, `nearest-only cases: ${nearestCount}`);
});

test("the issue's example: 4,391,234 kHz with a 100 MHz crystal is EBX = 24547, EAX = 559", () => {
  const enc = encodeLeaf15(4_391_234_567n, 100_000_000);
  assert.deepEqual([enc.eax, enc.ebx, enc.ecx], [559, 24547, 100_000_000]);
  assert.equal(linuxDecode(enc.eax, enc.ebx, enc.ecx).tscKhz, 4_391_234);
});

test('the naive encoding (Hz in EBX) would have failed at 4.4 GHz; ours decodes exactly', () => {
  const hz = 4_400_000_000n;
  const naive = naiveHzInEbx(hz);
  assert.equal(naive.truncated, true);
  assert.equal(naive.ebx, 105_032_704); // 4.4e9 − 2^32: the ~105 MHz guest TSC
  // With a 1 Hz crystal and EAX = 1, the SDM formula gives the truncated value; Linux's
  // crystal_khz = 1/1000 = 0 does not even accept it as a known frequency.
  assert.equal(linuxDecode(1, naive.ebx, 1).tscKhz, 0);
  assert.notEqual(Number(naive.seenHz), 4_400_000_000);
  for (const crystal of CRYSTALS_HZ) {
    const enc = encodeLeaf15(hz, crystal);
    assert.equal(linuxDecode(enc.eax, enc.ebx, enc.ecx).tscKhz, 4_400_000);
  }
  // Below 2^32 Hz the naive encoding happens to fit: the bug only shows on fast hosts.
  assert.equal(naiveHzInEbx(2n ** 32n - 1n).truncated, false);
  assert.equal(naiveHzInEbx(2n ** 32n).truncated, true);
});

test('a software backend can always pick an APIC timer rate that makes the TSC exact', () => {
  for (const hz of frequencies()) {
    const { crystalHz, encoding } = chooseCrystalForExactTsc(hz);
    assert.equal(encoding.exact, true, `${hz} Hz`);
    assert.equal(crystalHz % 1000, 0, 'whole kHz, so lapic_timer_period = crystal_khz·1000/HZ is exact too');
    assert.ok(crystalHz >= 50_000_000 && crystalHz <= 150_000_000, `${crystalHz} stays near the preferred 100 MHz`);
    assert.equal(linuxDecode(encoding.eax, encoding.ebx, encoding.ecx).tscKhz, Number(hz / 1000n));
  }
});

test('leaf 0x16 carries base MHz consistent with 0x15, in 16-bit fields', () => {
  assert.deepEqual(encodeLeaf16(4_400_000_000n, 100_000_000), { eax: 4400, ebx: 4400, ecx: 100, edx: 0 });
  assert.deepEqual(encodeLeaf16(4_391_234_567n, 25_000_000), { eax: 4391, ebx: 4391, ecx: 25, edx: 0 });
  // Linux keeps cpu_khz from 0x16 only within 10% of tsc_khz; rounding to MHz is inside that from
  // 5 MHz up (below, MHz resolution cannot be, and Linux simply uses tsc_khz for cpu_khz).
  for (const hz of frequencies().filter((f) => f >= 5_000_000n)) {
    const base = encodeLeaf16(hz, 100_000_000).eax * 1000;
    const tscKhz = Number(hz / 1000n);
    assert.ok(Math.abs(base - tscKhz) * 10 <= tscKhz, `${hz}`);
  }
});

test('out-of-range inputs are rejected instead of truncated', () => {
  assert.throws(() => encodeLeaf15(999n, 25_000_000), RangeError);
  assert.throws(() => encodeLeaf15(2n ** 32n * 1000n, 25_000_000), RangeError);
  assert.throws(() => encodeLeaf15(4_400_000_000n, 999), /below 1 kHz/);
  assert.throws(() => encodeLeaf15(4_400_000_000n, 2 ** 32), /32 bits/);
});
