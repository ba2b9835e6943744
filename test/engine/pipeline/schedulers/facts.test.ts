import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import {
  createScheduler,
  DdimScheduler,
  DdpmScheduler,
  LCMScheduler,
  PNDMScheduler,
  UniPCMultistepScheduler,
  type Scheduler,
  type TimestepRequest,
} from '../../../../src/engine/pipeline/schedulers/index.ts';
import { absSum, dummyModel, dummySample, loadReference, type Fact } from './reference-harness.ts';

const { facts, cases } = loadReference();
const fact = (id: string): Fact => {
  const f = facts.find((x) => x.id === id);
  if (!f) throw new Error(`fixture has no fact ${id}`);
  return f;
};
/** The test class's get_scheduler_config(): the config of its first case. */
const baseConfig = (cls: string): Record<string, unknown> => cases.find((c) => c.scheduler_class === cls)!.config;

describe('set_timesteps facts', () => {
  it('ddim steps_offset=1, 5 steps', () => {
    const f = fact('ddim.set_timesteps.steps_offset_1.n5');
    const s = createScheduler(f.config, 'DDIMScheduler');
    s.setTimesteps(5);
    expect([...s.timesteps]).toEqual(f.value);
  });

  it('pndm steps_offset=1, 10 steps (prk then plms)', () => {
    const f = fact('pndm.set_timesteps.steps_offset_1.n10');
    const s = createScheduler(f.config, 'PNDMScheduler') as PNDMScheduler;
    s.setTimesteps(10);
    expect([...s.prkTimesteps, ...s.plmsTimesteps]).toEqual(f.value);
    expect([...s.timesteps]).toEqual(f.value);
  });

  it('unipc flow + karras sigmas', () => {
    const f = fact('unipc.flow_and_karras_sigmas');
    const s = createScheduler(f.config, 'UniPCMultistepScheduler') as UniPCMultistepScheduler;
    s.setTimesteps(5);
    const want = f.value as { sigmas: number[]; timesteps: number[] };
    expect([...s.timesteps]).toEqual(want.timesteps);
    want.sigmas.forEach((v, i) => expect(Math.abs(s.sigmas[i]! - v)).toBeLessThanOrEqual(1e-8 + 1e-5 * Math.abs(v)));
  });
});

describe('variance facts', () => {
  it.each(fact('ddim._get_variance').values!.map((v) => [v.timestep, v.prev_timestep!, v.value] as const))(
    'ddim variance(%i, %i) = %f',
    (t, prev, value) => {
      const s = createScheduler(fact('ddim._get_variance').config, 'DDIMScheduler') as DdimScheduler;
      expect(Math.abs(s.variance(t, prev) - value)).toBeLessThan(1e-5);
    },
  );

  it.each(fact('ddpm._get_variance').values!.map((v) => [v.timestep, v.value] as const))('ddpm variance(%i) = %f', (t, value) => {
    const s = createScheduler(fact('ddpm._get_variance').config, 'DDPMScheduler') as DdpmScheduler;
    expect(Math.abs(s.variance(t) - value)).toBeLessThan(1e-5);
  });
});

describe('custom timesteps (DDPM, LCM)', () => {
  const custom = [
    ['DDPMScheduler', 'ddpm.custom_timesteps.previous_timestep'],
    ['LCMScheduler', 'lcm.custom_timesteps.previous_timestep'],
  ] as const;
  it.each(custom)('%s previous timesteps', (cls, id) => {
    const f = fact(id);
    const v = f.value as { timesteps: number[]; previous: number[] };
    const s = createScheduler(f.config ?? {}, cls) as DdpmScheduler | LCMScheduler;
    s.setTimesteps({ timesteps: v.timesteps });
    expect(v.timesteps.map((t) => s.previousTimestep(t))).toEqual(v.previous);
  });

  const errors: [string, TimestepRequest][] = [
    ['not descending', { timesteps: [100, 87, 50, 51, 0] }],
    ['both a count and timesteps', { steps: 5, timesteps: [100, 87, 50, 1, 0] }],
    ['starting at num_train_timesteps', { timesteps: [1000] }],
  ];
  it.each(['DDPMScheduler', 'LCMScheduler'].flatMap((cls) => errors.map(([why, req]) => [cls, why, req] as const)))(
    '%s refuses timesteps %s',
    (cls, _why, req) => {
      const s = createScheduler({}, cls);
      expect(() => s.setTimesteps(req)).toThrow(expect.objectContaining({ code: 'scheduler.invalid-timesteps' }));
    },
  );
});

describe('PNDM facts', () => {
  it('step_plms before any prk step throws', () => {
    const s = new PNDMScheduler({});
    s.setTimesteps(10);
    const x = dummySample([4, 3, 8, 8]);
    expect(() => s.stepPlms(x, s.plmsTimesteps[0]!, x)).toThrow(expect.objectContaining({ code: 'scheduler.plms-too-early' }));
  });

  it('27 steps (a power of 3): the first prk steps run', () => {
    const s = new PNDMScheduler({});
    s.setTimesteps(27);
    let x = dummySample([4, 3, 8, 8]);
    for (const t of s.prkTimesteps.slice(0, 2)) x = s.stepPrk(dummyModel(x, t), t, x).prevSample;
    expect(x.every(Number.isFinite)).toBe(true);
  });
});

/** A scheduler-test full loop, optionally with scale_model_input and a fresh seeded rng. */
function loop(s: Scheduler, request: number | TimestepRequest, scaled: boolean, seed?: number): Float32Array {
  s.setTimesteps(request);
  const rng = seed === undefined ? undefined : createRandom(seed);
  let x = dummySample([4, 3, 8, 8]);
  if (scaled) x = x.map((v) => v * s.initNoiseSigma);
  for (const t of s.timesteps) {
    if (scaled) x = s.scaleModelInput(x, t);
    x = s.step(dummyModel(x, t), t, x, rng?.normal).prevSample;
  }
  return x;
}

const diff = (a: Float32Array, b: Float32Array): number => absSum(a.map((v, i) => v - b[i]!));
const PREDICTIONS = ['epsilon', 'sample', 'v_prediction'];

describe('custom schedules reproduce the computed ones', () => {
  const euler = PREDICTIONS.flatMap((p) =>
    ['linear', 'log_linear'].flatMap((i) => ['sigma_min', 'zero'].map((f) => [p, i, f] as const)),
  );
  it.each(euler)('euler timesteps: %s %s %s', (prediction_type, interpolation_type, final_sigmas_type) => {
    const config = { ...baseConfig('EulerDiscreteScheduler'), prediction_type, interpolation_type, final_sigmas_type };
    const first = createScheduler(config, 'EulerDiscreteScheduler');
    const a = loop(first, 10, true);
    const b = loop(createScheduler(config, 'EulerDiscreteScheduler'), { timesteps: first.timesteps }, true);
    expect(diff(a, b)).toBeLessThan(1e-5);
  });

  it.each(PREDICTIONS.flatMap((p) => ['sigma_min', 'zero'].map((f) => [p, f] as const)))(
    'euler sigmas: %s %s',
    (prediction_type, final_sigmas_type) => {
      const config = { ...baseConfig('EulerDiscreteScheduler'), prediction_type, final_sigmas_type };
      const first = createScheduler(config, 'EulerDiscreteScheduler') as Scheduler & { sigmas: Float32Array };
      const a = loop(first, 10, true);
      const b = loop(createScheduler(config, 'EulerDiscreteScheduler'), { sigmas: [...first.sigmas] }, true);
      expect(diff(a, b)).toBeLessThan(1e-5);
    },
  );

  it.each(PREDICTIONS.flatMap((p) => ['linspace', 'leading'].map((sp) => [p, sp] as const)))(
    'heun timesteps: %s %s',
    (prediction_type, timestep_spacing) => {
      const config = { ...baseConfig('HeunDiscreteScheduler'), prediction_type, timestep_spacing };
      const first = createScheduler(config, 'HeunDiscreteScheduler');
      const a = loop(first, 10, true);
      const ts = first.timesteps.filter((_, i) => i === 0 || i % 2 === 1);
      const b = loop(createScheduler(config, 'HeunDiscreteScheduler'), { timesteps: ts }, true);
      expect(diff(a, b)).toBeLessThan(1e-5);
    },
  );

  const dpm = ['dpmsolver++', 'sde-dpmsolver++'].flatMap((alg) =>
    PREDICTIONS.flatMap((p) => ['sigma_min', 'zero'].map((f) => [alg, p, f] as const)),
  );
  it.each(dpm)('dpm multistep timesteps: %s %s %s', (algorithm_type, prediction_type, final_sigmas_type) => {
    const config = { ...baseConfig('DPMSolverMultistepScheduler'), algorithm_type, prediction_type, final_sigmas_type };
    const first = createScheduler(config, 'DPMSolverMultistepScheduler');
    const a = loop(first, 10, false, 0);
    const b = loop(createScheduler(config, 'DPMSolverMultistepScheduler'), { timesteps: first.timesteps }, false, 0);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(diff(a, b)).toBeLessThan(1e-5);
  });
});

describe('switching schedulers keeps only explicit keys', () => {
  it('PNDM defaults to leading spacing; Euler built from it uses its own linspace', () => {
    const pndm = createScheduler({}, 'PNDMScheduler') as PNDMScheduler;
    expect(pndm.options.timestepSpacing).toBe('leading');
    const euler = createScheduler(pndm.config, 'EulerDiscreteScheduler') as Scheduler & { options: { timestepSpacing: string } };
    expect(euler.options.timestepSpacing).toBe('linspace');
  });

  it('an explicit timestep_spacing is carried through further switches', () => {
    const pndm = createScheduler({ timestep_spacing: 'trailing' }, 'PNDMScheduler');
    let s: Scheduler = createScheduler(pndm.config, 'EulerDiscreteScheduler');
    for (const next of ['LMSDiscreteScheduler', 'DDIMScheduler', 'EulerDiscreteScheduler']) {
      expect((s as Scheduler & { options: { timestepSpacing: string } }).options.timestepSpacing).toBe('trailing');
      s = createScheduler(s.config, next);
    }
  });

  it('UniPC maps DEIS/DPM solver types to bh2; DPM-Solver maps UniPC ones to midpoint', () => {
    const unipc = createScheduler({ solver_type: 'logrho' }, 'UniPCMultistepScheduler') as UniPCMultistepScheduler;
    expect(unipc.options.solverType).toBe('bh2');
    const dpm = createScheduler({ solver_type: 'bh2' }, 'DPMSolverMultistepScheduler') as Scheduler & {
      options: { solverType: string };
    };
    expect(dpm.options.solverType).toBe('midpoint');
  });
});
