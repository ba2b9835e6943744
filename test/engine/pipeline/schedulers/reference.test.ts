import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../../src/engine/pipeline/schedulers/index.ts';
import { absSum, loadReference, runCase, type RefCase } from './reference-harness.ts';

const { cases } = loadReference();

/** Constructor defaults we do not model; each must hold the reference default in every case. */
const NOT_MODELLED = new Set(['solver_p']);

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function normalise(v: unknown): unknown {
  if (v === '-Infinity') return -Infinity;
  if (v === 'Infinity') return Infinity;
  return v;
}

describe('diffusers reference full loops', () => {
  it('has all 44 cases', () => {
    expect(cases).toHaveLength(44);
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', (_id, c: RefCase) => {
    const out = runCase(c);
    const sum = absSum(out);
    const mean = sum / out.length;
    const { result_sum: s, result_mean: m } = c.expected;
    if (s) expect(Math.abs(sum - s.value), `sum ${sum} vs ${s.value}`).toBeLessThan(s.tol);
    expect(Math.abs(mean - m.value), `mean ${mean} vs ${m.value}`).toBeLessThan(m.tol);
  });
});

describe('constructor defaults match the reference', () => {
  it.each(cases.map((c) => [c.id, c] as const))('%s', (_id, c: RefCase) => {
    const scheduler = createScheduler(c.config, c.scheduler_class) as unknown as { options: Record<string, unknown> };
    for (const [key, value] of Object.entries(c.config_effective)) {
      if (NOT_MODELLED.has(key)) continue;
      expect(scheduler.options, key).toHaveProperty([camel(key)]);
      expect(scheduler.options[camel(key)], key).toEqual(normalise(value));
    }
  });
});

describe('schedules match the reference re-implementation', () => {
  const withTables = cases.filter((c) => c.derived_by_reimplementation?.sigmas);
  it.each(withTables.map((c) => [c.id, c] as const))('%s', (_id, c: RefCase) => {
    const scheduler = createScheduler(c.config, c.scheduler_class) as ReturnType<typeof createScheduler> & {
      sigmas: Float32Array;
    };
    scheduler.setTimesteps(c.num_inference_steps);
    const d = c.derived_by_reimplementation!;
    expect([...scheduler.timesteps]).toEqual(d.timesteps);
    expect([...scheduler.sigmas]).toEqual(d.sigmas);
    if (d.init_noise_sigma !== undefined) expect(scheduler.initNoiseSigma).toBe(d.init_noise_sigma);
  });
});
