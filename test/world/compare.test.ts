/** The merge comparison (src/world/compare.ts): its statistics, and one tiny run on the bundled model with the seeded LoRAs. */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BUNDLED_WORLD_MODEL } from '../../src/config.ts';
import { compareMerges, METHODS, pairedDifference, wilson } from '../../src/world/compare.ts';

describe('statistics', () => {
  it('gives the Wilson score interval', () => {
    const r = wilson(5, 10);
    expect(r.rate).toBe(0.5);
    expect(r.low).toBeCloseTo(0.2366, 3);
    expect(r.high).toBeCloseTo(0.7634, 3);
    expect(wilson(0, 20).low).toBe(0);
    expect(wilson(0, 20).high).toBeCloseTo(0.1611, 3);
    expect(Number.isNaN(wilson(0, 0).rate)).toBe(true);
  });

  it('gives a paired bootstrap interval that contains the mean difference and excludes 0 only for a clear one', () => {
    const a = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? 0 : 1));
    const b = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? 0 : i % 2));
    const d = pairedDifference(a, b, 3);
    expect(d.rate).toBeCloseTo(0.75 - 0.5, 6);
    expect(d.low).toBeGreaterThan(0.1);
    expect(d.high).toBeLessThan(0.4);
    const same = pairedDifference(a, a, 3);
    expect([same.rate, same.low, same.high]).toEqual([0, 0, 0]);
    // Deterministic for a seed.
    expect(pairedDifference(a, b, 3)).toEqual(d);
  });
});

describe('compareMerges', () => {
  it('runs one pair end to end: every method judged on the same prompts, sweep, retention, zip time and memory', async () => {
    const r = await compareMerges({ model: BUNDLED_WORLD_MODEL, seeds: join(BUNDLED_WORLD_MODEL, 'loras'), pairs: 1, samples: 1, steps: 2, zipSteps: 2, sweepPairs: 1, sweep: [0, 1] });
    expect(r.pairs).toHaveLength(1);
    const p = r.pairs[0]!;
    expect([p.subject, p.style]).toEqual(['corgi', 'watercolor']);
    expect(p.zipSteps).toBe(2);
    expect(p.zipSeconds).toBeGreaterThan(0);
    expect(p.peakRssGiB).toBeGreaterThan(0);
    for (const m of METHODS) {
      // 4 prompts x 1 sample; the context is judged on the 3 re-contextualisation prompts.
      expect(p.scores[m]).toMatchObject({ n: 4, nContext: 3 });
      expect(r.methods[m].subject.n).toBe(4);
      expect(r.methods[m].context.n).toBe(3);
    }
    expect(r.difference.style.n).toBe(4);
    expect(r.sweep.map((s) => s.styleWeight)).toEqual([0, 1]);
    expect(r.sweep[0]!.subject.n).toBe(3);
    expect(r.retention.subjectPrompt.ziplora.n).toBe(1);
    expect(r.settings.prompts[1]).toBe('a <subject> on the beach, <style>');
  }, 180_000);
});
