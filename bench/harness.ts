/**
 * Benchmark contract. Each bench/<area>.bench.ts exports `run()` returning results;
 * every result is measured side by side with a reference in the same run, so the
 * figure reads as "ours vs. baseline on this machine, now", not an absolute time.
 */
export interface BenchResult {
  name: string;
  /** Unit of `value` and `reference.value`, e.g. 'ms', 'µs/op', 'M instr/s', 'MB/s'. */
  unit: string;
  value: number;
  reference?: { name: string; value: number };
  /** The goal in words, e.g. '< 20 ms' or '≤ 1.3× reference'. */
  goal?: string;
  pass?: boolean;
}

/** Median of a numeric sample. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Times `fn` `iterations` times per sample and returns the median per-call time in nanoseconds. */
export function nsPerOp(fn: () => void, iterations: number, samples = 15): number {
  for (let i = 0; i < Math.min(iterations, 10_000); i++) fn(); // warm up the JIT
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    per.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  return median(per);
}
