import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  loadSchedulerConfig,
  SCHEDULER_CLASSES,
  SCHEDULER_NAMES,
  type Scheduler,
} from '../../../../src/engine/pipeline/schedulers/index.ts';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { FIXTURES } from './reference-harness.ts';

const path = (rel: string): string => fileURLToPath(new URL(rel, FIXTURES));

const SHIPPED = [
  ['schedulers/sd15_pndm_scheduler_config.json', 'PNDMScheduler'],
  ['models/sd15/scheduler/scheduler_config.json', 'PNDMScheduler'],
  ['models/sdxl-base-1.0/scheduler/scheduler_config.json', 'EulerDiscreteScheduler'],
] as const;

describe('shipped scheduler configs', () => {
  it.each(SHIPPED)('%s builds a %s', async (file, cls) => {
    const config = await loadSchedulerConfig(path(file));
    const s = createScheduler(config);
    expect(s.name).toBe(cls);
    s.setTimesteps(50);
    expect(s.timesteps.slice(0, 4)).toEqual(cls === 'PNDMScheduler' ? [981, 961, 961, 941] : [981, 961, 941, 921]);
    expect(s.timesteps.at(-1)).toBe(1);
  });

  it.each(SHIPPED)('%s builds every scheduler and runs 3 steps', async (file) => {
    const config = await loadSchedulerConfig(path(file));
    for (const name of SCHEDULER_NAMES) {
      const s = createScheduler(config, name);
      s.setTimesteps(name === 'lcm' || name === 'LCMScheduler' ? 4 : 8);
      const rng = createRandom(1);
      let x: Float32Array = rng.normals(16).map((v) => v * s.initNoiseSigma);
      for (const t of s.timesteps.slice(0, 3)) {
        const eps = rng.normals(16);
        x = s.step(eps, t, s.scaleModelInput(x, t), rng.normal).prevSample;
      }
      expect(x.every(Number.isFinite), name).toBe(true);
    }
  });

  it('SD 1.5 PNDM with skip_prk_steps has 51 timesteps, 961 twice', async () => {
    const s = createScheduler(await loadSchedulerConfig(path('schedulers/sd15_pndm_scheduler_config.json')));
    s.setTimesteps(50);
    expect(s.timesteps).toHaveLength(51);
    expect(s.timesteps.filter((t) => t === 961)).toHaveLength(2);
  });

  it('SDXL Euler (leading spacing) starts from sqrt(sigma^2 + 1) of its first sigma', async () => {
    const s = createScheduler(await loadSchedulerConfig(path('models/sdxl-base-1.0/scheduler/scheduler_config.json'))) as Scheduler & {
      sigmas: Float32Array;
    };
    expect(s.sigmas[0]).toBeCloseTo(14.6146, 3);
    expect(s.initNoiseSigma).toBeCloseTo(14.6488, 3);
    s.setTimesteps(30);
    expect(s.initNoiseSigma).toBe(Math.fround(Math.sqrt(Math.fround(s.sigmas[0]! ** 2) + 1)));
  });
});

describe('createScheduler', () => {
  it.each(SCHEDULER_CLASSES.map((c) => [c]))('builds %s by class name with defaults', (cls) => {
    expect(createScheduler({}, cls).name).toBe(cls);
  });

  it('aliases set their flags on top of the config', () => {
    const s = createScheduler({ _class_name: 'PNDMScheduler' }, 'dpm++2m-karras') as Scheduler & {
      options: { useKarrasSigmas: boolean };
    };
    expect(s.name).toBe('DPMSolverMultistepScheduler');
    expect(s.options.useKarrasSigmas).toBe(true);
    expect(createScheduler({}, 'Euler-A').name).toBe('EulerAncestralDiscreteScheduler');
  });

  it('reads JSON text, including bare -Infinity', () => {
    const s = createScheduler('{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity}') as Scheduler & {
      options: { lambdaMinClipped: number };
    };
    expect(s.options.lambdaMinClipped).toBe(-Infinity);
  });

  const refusals: [string, unknown, string | undefined, string][] = [
    ['an unknown class', { _class_name: 'KarrasVeScheduler' }, undefined, 'scheduler.unknown'],
    ['no class at all', {}, undefined, 'scheduler.unknown'],
    ['a wrong type', { num_train_timesteps: '1000' }, 'ddim', 'scheduler.invalid-config'],
    ['a non-object', [1, 2], 'ddim', 'scheduler.invalid-config'],
    ['broken JSON', '{"_class_name": ', 'ddim', 'scheduler.bad-json'],
    ['an unknown beta schedule', { beta_schedule: 'cubic' }, 'ddim', 'scheduler.unsupported-option'],
    ['an unknown spacing', { timestep_spacing: 'even' }, 'euler', 'scheduler.unsupported-option'],
    ['an unknown prediction type', { prediction_type: 'x0' }, 'unipc', 'scheduler.unsupported-option'],
    ['beta sigmas (needs scipy)', { use_beta_sigmas: true }, 'euler', 'scheduler.unsupported-option'],
    ['two sigma schedules', { use_karras_sigmas: true, use_exponential_sigmas: true }, 'lms', 'scheduler.unsupported-option'],
    ['the deprecated dpmsolver', { algorithm_type: 'dpmsolver' }, 'dpm++2m', 'scheduler.unsupported-option'],
    ['learned variance', { variance_type: 'learned_range' }, 'dpm++2m', 'scheduler.unsupported-option'],
  ];
  it.each(refusals)('refuses %s', (_why, config, name, code) => {
    expect(() => createScheduler(config, name)).toThrow(expect.objectContaining({ code }));
  });
});

describe('stepping errors', () => {
  it('refuses to step before setTimesteps', () => {
    const s = createScheduler({}, 'euler');
    const x = new Float32Array(4);
    expect(() => s.step(x, 999, x)).toThrow(expect.objectContaining({ code: 'scheduler.not-ready' }));
  });

  it('refuses mismatched sizes and unknown timesteps', () => {
    const s = createScheduler({}, 'euler');
    s.setTimesteps(10);
    const t = s.timesteps[0]!;
    expect(() => s.step(new Float32Array(3), t, new Float32Array(4))).toThrow(
      expect.objectContaining({ code: 'scheduler.size-mismatch' }),
    );
    expect(() => s.step(new Float32Array(4), 123.5, new Float32Array(4))).toThrow(
      expect.objectContaining({ code: 'scheduler.unknown-timestep' }),
    );
  });

  it.each([['euler-a'], ['dpm++2m-sde'], ['ddpm']])('%s needs noise', (name) => {
    const s = createScheduler({}, name);
    s.setTimesteps(10);
    const x = new Float32Array(4).fill(0.5);
    expect(() => s.step(x, s.timesteps[0]!, x)).toThrow(expect.objectContaining({ code: 'scheduler.needs-noise' }));
  });

  it.each([[0], [1.5], [2000]])('refuses %s steps', (n) => {
    expect(() => createScheduler({}, 'ddim').setTimesteps(n)).toThrow(expect.objectContaining({ code: 'scheduler.invalid-steps' }));
  });
});
