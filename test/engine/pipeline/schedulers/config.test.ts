import { describe, expect, it } from 'vitest';
import { parseSchedulerConfig, resolveOptions, toDiffusersConfig } from '../../../../src/engine/pipeline/schedulers/config.ts';

describe('parseSchedulerConfig', () => {
  it('camel-cases known keys, drops unknown ones and nulls of non-nullable keys', () => {
    const c = parseSchedulerConfig({
      _class_name: 'EulerDiscreteScheduler',
      _diffusers_version: '0.19.0',
      steps_offset: 1,
      trained_betas: null,
      sigma_min: null,
      use_karras_sigmas: null,
      some_future_option: 3,
    });
    expect(c).toEqual({ className: 'EulerDiscreteScheduler', stepsOffset: 1, trainedBetas: null, sigmaMin: null });
  });

  it('is idempotent and round-trips to snake_case', () => {
    const raw = { num_train_timesteps: 1000, beta_schedule: 'scaled_linear', disable_corrector: [1, 2], lambda_min_clipped: '-Infinity' };
    const once = parseSchedulerConfig(raw);
    expect(parseSchedulerConfig(once)).toEqual(once);
    expect(once.lambdaMinClipped).toBe(-Infinity);
    expect(toDiffusersConfig(once)).toEqual({ ...raw, lambda_min_clipped: -Infinity });
  });

  it.each([
    [{ steps_offset: 1.5 }, 'steps_offset'],
    [{ use_karras_sigmas: 'yes' }, 'use_karras_sigmas'],
    [{ trained_betas: [0.1, 'x'] }, 'trained_betas'],
    [{ disable_corrector: [0.5] }, 'disable_corrector'],
  ])('refuses %j', (raw, key) => {
    expect(() => parseSchedulerConfig(raw, 'scheduler_config.json')).toThrow(
      expect.objectContaining({ code: 'scheduler.invalid-config', details: expect.objectContaining({ key }) }),
    );
  });

  it('resolves options from defaults and the set keys only', () => {
    const defaults = { stepsOffset: 0, timestepSpacing: 'linspace' };
    expect(resolveOptions(parseSchedulerConfig({ steps_offset: 1, beta_end: 0.012 }), defaults)).toEqual({
      stepsOffset: 1,
      timestepSpacing: 'linspace',
    });
  });
});
