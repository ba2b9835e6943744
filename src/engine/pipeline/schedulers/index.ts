/**
 * Schedulers built from a diffusers `scheduler_config.json`, by the class the config
 * names or by a name the caller picks (a diffusers class name or a short alias).
 * Switching keeps only the keys the config set explicitly, so the new scheduler
 * uses its own defaults for the rest (diffusers' `from_config`).
 *
 * @example
 *   const config = await loadSchedulerConfig('models/sd15/scheduler/scheduler_config.json');
 *   const pndm = createScheduler(config);                     // PNDMScheduler, as shipped
 *   const dpm = createScheduler(config, 'dpm++2m-karras');    // DPM-Solver++ 2M with Karras sigmas
 *   dpm.setTimesteps(25);
 */
import { ZipbankError } from '../../../errors/index.ts';
import { parseSchedulerConfig, type SchedulerConfig } from './config.ts';
import { DdimScheduler } from './ddim.ts';
import { DdpmScheduler } from './ddpm.ts';
import { DPMSolverMultistepScheduler } from './dpm-multistep.ts';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral.ts';
import { EulerDiscreteScheduler } from './euler.ts';
import { HeunDiscreteScheduler } from './heun.ts';
import { LCMScheduler } from './lcm.ts';
import { LMSDiscreteScheduler } from './lms.ts';
import { PNDMScheduler } from './pndm.ts';
import { UniPCMultistepScheduler } from './unipc.ts';
import { SCHEDULER_CLASSES, type Scheduler, type SchedulerClass } from './types.ts';

export * from './types.ts';
export { parseSchedulerConfig, loadSchedulerConfig, toDiffusersConfig, type SchedulerConfig } from './config.ts';
export {
  DdimScheduler,
  DdpmScheduler,
  DPMSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  HeunDiscreteScheduler,
  LCMScheduler,
  LMSDiscreteScheduler,
  PNDMScheduler,
  UniPCMultistepScheduler,
};

const CONSTRUCTORS: Record<SchedulerClass, new (config: SchedulerConfig) => Scheduler> = {
  DDIMScheduler: DdimScheduler,
  DDPMScheduler: DdpmScheduler,
  EulerDiscreteScheduler: EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler: EulerAncestralDiscreteScheduler,
  LMSDiscreteScheduler: LMSDiscreteScheduler,
  HeunDiscreteScheduler: HeunDiscreteScheduler,
  PNDMScheduler: PNDMScheduler,
  DPMSolverMultistepScheduler: DPMSolverMultistepScheduler,
  UniPCMultistepScheduler: UniPCMultistepScheduler,
  LCMScheduler: LCMScheduler,
};

/** Short names: the class they build and the config keys they force. */
export const SCHEDULER_ALIASES: Readonly<Record<string, { cls: SchedulerClass; set?: SchedulerConfig }>> = {
  ddim: { cls: 'DDIMScheduler' },
  ddpm: { cls: 'DDPMScheduler' },
  euler: { cls: 'EulerDiscreteScheduler' },
  'euler-karras': { cls: 'EulerDiscreteScheduler', set: { useKarrasSigmas: true } },
  'euler-a': { cls: 'EulerAncestralDiscreteScheduler' },
  'euler-ancestral': { cls: 'EulerAncestralDiscreteScheduler' },
  lms: { cls: 'LMSDiscreteScheduler' },
  'lms-karras': { cls: 'LMSDiscreteScheduler', set: { useKarrasSigmas: true } },
  heun: { cls: 'HeunDiscreteScheduler' },
  pndm: { cls: 'PNDMScheduler' },
  plms: { cls: 'PNDMScheduler', set: { skipPrkSteps: true } },
  'dpm++2m': { cls: 'DPMSolverMultistepScheduler' },
  'dpm++2m-karras': { cls: 'DPMSolverMultistepScheduler', set: { useKarrasSigmas: true } },
  'dpm++2m-sde': { cls: 'DPMSolverMultistepScheduler', set: { algorithmType: 'sde-dpmsolver++' } },
  'dpm++2m-sde-karras': {
    cls: 'DPMSolverMultistepScheduler',
    set: { algorithmType: 'sde-dpmsolver++', useKarrasSigmas: true },
  },
  unipc: { cls: 'UniPCMultistepScheduler' },
  lcm: { cls: 'LCMScheduler' },
};

/** Every name `createScheduler` accepts. */
export const SCHEDULER_NAMES: readonly string[] = [...SCHEDULER_CLASSES, ...Object.keys(SCHEDULER_ALIASES)];

function lookup(name: string | undefined): { cls: SchedulerClass; set?: SchedulerConfig } {
  if (name !== undefined) {
    const exact = SCHEDULER_CLASSES.find((c) => c.toLowerCase() === name.toLowerCase());
    if (exact) return { cls: exact };
    const alias = SCHEDULER_ALIASES[name.toLowerCase()];
    if (alias) return alias;
  }
  throw new ZipbankError('scheduler.unknown', { name, known: SCHEDULER_NAMES });
}

/**
 * A scheduler from a config (parsed, a raw `scheduler_config.json` object, or its
 * text). `name` overrides the config's `_class_name`.
 */
export function createScheduler(config: unknown, name?: string): Scheduler {
  const parsed = parseSchedulerConfig(config);
  const { cls, set } = lookup(name ?? parsed.className);
  const merged: SchedulerConfig = { ...parsed, ...set, className: cls };
  return new CONSTRUCTORS[cls](merged);
}
