/**
 * The sampling-loop pieces without a model: progress counting per scheduler,
 * the guidance combination, and per-image seeded starts.
 */
import { describe, expect, it } from 'vitest';
import { guided, progressCounter, startLatents, unetSample } from '../../../src/engine/pipeline/denoise.ts';
import { createScheduler, parseSchedulerConfig } from '../../../src/engine/pipeline/schedulers/index.ts';
import sd15 from '../../../src/engine/models/presets/sd15/scheduler.json' with { type: 'json' };

describe('progressCounter', () => {
  it.each(['pndm', 'euler', 'euler-a', 'dpm++2m-karras', 'ddim', 'heun', 'lms', 'unipc'])('%s: exactly `steps` progress steps', (name) => {
    for (const steps of [1, 4, 25]) {
      const s = createScheduler(sd15, name);
      s.setTimesteps(steps);
      const isStep = progressCounter(s.timesteps.length, steps, s.order);
      const fired = s.timesteps.filter((_, i) => isStep(i)).length;
      expect(fired).toBe(steps);
    }
  });
});

describe('guided', () => {
  const out = Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40]);

  it('combines uncond + g * (cond - uncond) per image from [uncond x n, cond x n]', () => {
    const [a, b] = guided(out, 2, 2, 2);
    expect([...a!]).toEqual([1 + 2 * 9, 2 + 2 * 18]);
    expect([...b!]).toEqual([3 + 2 * 27, 4 + 2 * 36]);
  });

  it('passes the output through without guidance', () => {
    const parts = guided(out, 4, 2, null);
    expect(parts.map((p) => [...p])).toEqual([[1, 2], [3, 4], [10, 20], [30, 40]]);
  });
});

describe('startLatents', () => {
  it('image i of a batch starts like image 0 of a batch seeded with seed + i', () => {
    const o = { schedulerConfig: parseSchedulerConfig(sd15), scheduler: 'euler', steps: 5, perImage: 16 };
    const batch = startLatents({ ...o, seeds: [7, 8] });
    const alone = startLatents({ ...o, seeds: [8] });
    expect(batch.latents[1]).toEqual(alone.latents[0]);
    expect(batch.latents[0]).not.toEqual(batch.latents[1]);
    const sigma = batch.schedulers[0]!.initNoiseSigma;
    expect(sigma).toBeGreaterThan(1);
    const sample = unetSample(batch, batch.schedulers[0]!.timesteps[0]!, true);
    expect(sample.length).toBe(4 * 16);
    expect(sample.subarray(0, 16)).toEqual(sample.subarray(32, 48));
  });
});
