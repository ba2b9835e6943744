/** Small helpers for benchmarks: percentiles and a seeded PRNG. */
import { createRandom } from '../../src/engine/pipeline/random.ts';
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samples: number[]): { n: number; p50: number; p95: number; p99: number; max: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / (s.length || 1),
  };
}

/** A seeded PRNG in [0, 1): the engine's own generator. */
export function rng(seed: number): () => number {
  const r = createRandom(seed);
  return () => r.uniform();
}
