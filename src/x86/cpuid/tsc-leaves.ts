/**
 * CPUID leaves 0x15 (TSC/crystal ratio) and 0x16 (processor frequency) for
 * Intel-vendor guests, encoded so that Linux's own arithmetic gives back the
 * configured TSC frequency.
 *
 * Leaf 0x15 (Intel SDM vol. 2A, CPUID "Time Stamp Counter and Nominal Core
 * Crystal Clock Information Leaf"): EAX = denominator, EBX = numerator,
 * ECX = crystal frequency in Hz; TSC Hz = ECX × EBX / EAX.
 *
 * Linux 6.1 native_calibrate_tsc() (arch/x86/kernel/tsc.c) evaluates it in
 * 32-bit `unsigned int`:
 *     crystal_khz = ecx_hz / 1000;
 *     lapic_timer_period = crystal_khz * 1000 / HZ;
 *     return crystal_khz * ebx_numerator / eax_denominator;
 * and marks the frequency known (X86_FEATURE_TSC_KNOWN_FREQ) only when
 * crystal_khz ≠ 0. Three consequences shape this module:
 *  - ECX must be the rate at which the backend really runs the local APIC timer,
 *    because Linux derives the LAPIC timer period from it;
 *  - crystal_khz × EBX must stay below 2^32, or the product wraps (putting a Hz
 *    value in EBX is how a 4.4 GHz host became a ~105 MHz guest TSC);
 *  - the result is floor(crystal_khz × EBX / EAX) in kHz, so we search for the
 *    (EAX, EBX) pair that makes that floor equal the configured kHz exactly.
 */
import { u32 } from './cpuid-leaf.ts';

const U32_MAX = 0xffff_ffff;

export interface Leaf15Encoding {
  /** Denominator of the TSC/crystal ratio. */
  readonly eax: number;
  /** Numerator of the TSC/crystal ratio. */
  readonly ebx: number;
  /** Crystal (= local APIC timer) frequency in Hz. */
  readonly ecx: number;
  /** The TSC frequency being encoded, in kHz (floor of the Hz value: Linux keeps tsc_khz). */
  readonly targetKhz: number;
  /** What Linux computes from these registers, in kHz. */
  readonly decodedKhz: number;
  /** decodedKhz === targetKhz. */
  readonly exact: boolean;
  /** (decodedKhz − targetKhz) / targetKhz in parts per million; 0 when exact. */
  readonly errorPpm: number;
  /** crystal_khz as Linux computes it (ECX / 1000). */
  readonly crystalKhz: number;
  /** crystal_khz × EBX: always < 2^32 by construction (Linux multiplies in 32 bits). */
  readonly product: number;
}

/** The TSC frequency in kHz that Linux keeps for a frequency in Hz (it divides by 1000, truncating). */
export function tscKhzOf(tscHz: bigint): number {
  if (tscHz < 1000n) throw new RangeError(`TSC frequency ${tscHz} Hz is below 1 kHz`);
  const khz = tscHz / 1000n;
  if (khz > BigInt(U32_MAX)) throw new RangeError(`TSC frequency ${tscHz} Hz is too high: ${khz} kHz does not fit in 32 bits`);
  return Number(khz);
}

/**
 * Chooses EAX/EBX for leaf 0x15 given the TSC frequency and the crystal (APIC
 * timer) frequency the backend runs. Returns the exact pair with the smallest
 * denominator when one exists with crystal_khz × EBX < 2^32; otherwise the pair
 * whose decoded value is nearest (smallest denominator on ties).
 *
 * Search: for each denominator a, the numerators that can decode to the target
 * T are b = ⌈T·a/c⌉ (decodes to ≥ T; exact iff c·b < (T+1)·a) and b − 1
 * (decodes to < T). Since c·b ≥ T·a and c·b must be < 2^32, a only runs up to
 * about 2^32 / T, so the loop is at most ~4.3 million steps (for a 1 MHz TSC)
 * and ~1000 steps for a 4 GHz TSC; it stops at the first exact pair.
 */
export function encodeLeaf15(tscHz: bigint, crystalHz: number): Leaf15Encoding {
  const target = tscKhzOf(tscHz);
  const ecx = u32(crystalHz, 'crystal frequency (Hz)');
  const c = Math.floor(ecx / 1000);
  if (c === 0) throw new RangeError(`crystal frequency ${crystalHz} Hz is below 1 kHz: Linux would not treat the TSC frequency as known`);

  let best: { a: number; b: number; decoded: number; err: number } | undefined;
  const consider = (a: number, b: number) => {
    if (b < 1 || b > U32_MAX) return;
    const product = c * b;
    if (product > U32_MAX) return;
    const decoded = Math.floor(product / a);
    const err = Math.abs(decoded - target);
    if (!best || err < best.err) best = { a, b, decoded, err };
  };
  // Stop once even the smaller candidate can no longer come near the target:
  // c·(b−1) ≥ T·a − c, which exceeds 2^32 when T·a > 2^32 + c.
  for (let a = 1; a <= U32_MAX && target * a <= U32_MAX + c; a++) {
    const ta = target * a; // < 2^53: exact in a double
    let b = Math.floor(ta / c);
    if (b * c < ta) b += 1; // ⌈T·a / c⌉ without floating-point rounding doubts
    while ((b - 1) * c >= ta) b -= 1;
    consider(a, b);
    consider(a, b - 1);
    if (best && best.err === 0) break;
  }
  if (!best) throw new RangeError(`no CPUID 0x15 encoding of ${target} kHz with a ${crystalHz} Hz crystal fits in 32 bits`);
  return {
    eax: best.a,
    ebx: best.b,
    ecx,
    targetKhz: target,
    decodedKhz: best.decoded,
    exact: best.err === 0,
    errorPpm: ((best.decoded - target) / target) * 1e6,
    crystalKhz: c,
    product: c * best.b,
  };
}

/**
 * For a backend that chooses its own APIC timer rate (the software CPU): a
 * crystal frequency, whole kHz so that Linux's LAPIC period is exact too, near
 * `preferredHz`, for which leaf 0x15 encodes `tscHz` exactly. Tries the
 * preferred rate, then rates stepping away from it by 1 kHz (up to ±50%);
 * returns the nearest-value encoding at the preferred rate if none is exact.
 */
export function chooseCrystalForExactTsc(tscHz: bigint, preferredHz = 100_000_000): { crystalHz: number; encoding: Leaf15Encoding } {
  const preferredKhz = Math.max(1, Math.floor(u32(preferredHz, 'preferred crystal frequency (Hz)') / 1000));
  const limit = Math.floor(preferredKhz / 2);
  for (let step = 0; step <= limit; step++) {
    for (const khz of step === 0 ? [preferredKhz] : [preferredKhz - step, preferredKhz + step]) {
      if (khz < 1 || khz * 1000 > U32_MAX) continue;
      const encoding = encodeLeaf15(tscHz, khz * 1000);
      if (encoding.exact) return { crystalHz: khz * 1000, encoding };
    }
  }
  return { crystalHz: preferredKhz * 1000, encoding: encodeLeaf15(tscHz, preferredKhz * 1000) };
}

/**
 * Leaf 0x16 (Intel SDM: "Processor Frequency Information Leaf"): EAX[15:0] base
 * MHz, EBX[15:0] maximum MHz, ECX[15:0] bus (reference) MHz. Linux 6.1 uses EAX
 * as cpu_khz (cpu_khz_from_cpuid) and falls back to it for the crystal only when
 * 0x15 ECX is 0; determine_cpu_tsc_frequencies() discards cpu_khz when it is
 * more than 10% off tsc_khz. We report the TSC frequency as the base (and
 * maximum) frequency, rounded to MHz, and the crystal as the bus frequency.
 */
export function encodeLeaf16(tscHz: bigint, crystalHz: number): { eax: number; ebx: number; ecx: number; edx: number } {
  const mhz = Number((tscHz + 500_000n) / 1_000_000n);
  if (mhz > 0xffff) throw new RangeError(`TSC frequency ${tscHz} Hz does not fit leaf 0x16's 16-bit MHz field`);
  const busMhz = Math.min(0xffff, Math.round(crystalHz / 1e6));
  return { eax: mhz, ebx: mhz, ecx: busMhz, edx: 0 };
}

/**
 * The encoding a naive VMM would use: the TSC frequency in Hz in EBX with a
 * "1 Hz crystal" (EAX = 1, ECX = 1). Kept only so tests and `probe-tsc` can show
 * what it does: EBX truncates to the low 32 bits, and because ECX / 1000 = 0
 * Linux would not even take it as a known frequency.
 */
export function naiveHzInEbx(tscHz: bigint): { ebx: number; truncated: boolean; seenHz: bigint } {
  const ebx = Number(tscHz & 0xffff_ffffn);
  return { ebx, truncated: tscHz > 0xffff_ffffn, seenHz: BigInt(ebx) };
}
