/**
 * Parses a diffusers `scheduler_config.json` into camelCase keys, checking each
 * known key's type. Only the keys present are kept, so a scheduler built from the
 * result falls back to its own defaults for the rest, as diffusers' `from_config`
 * does. Unknown keys (options of other schedulers) are ignored, as in diffusers.
 *
 * @example
 *   const config = await loadSchedulerConfig('models/sd15/scheduler/scheduler_config.json');
 *   config.className;      // 'PNDMScheduler'
 *   config.stepsOffset;    // 1
 */
import { readFile } from 'node:fs/promises';
import { ZipbankError } from '../../../errors/index.ts';

export interface SchedulerConfig {
  className?: string;
  numTrainTimesteps?: number;
  betaStart?: number;
  betaEnd?: number;
  betaSchedule?: string;
  trainedBetas?: number[] | null;
  predictionType?: string;
  timestepSpacing?: string;
  stepsOffset?: number;
  rescaleBetasZeroSnr?: boolean;
  clipSample?: boolean;
  clipSampleRange?: number;
  setAlphaToOne?: boolean;
  thresholding?: boolean;
  dynamicThresholdingRatio?: number;
  sampleMaxValue?: number;
  varianceType?: string | null;
  skipPrkSteps?: boolean;
  interpolationType?: string;
  timestepType?: string;
  useKarrasSigmas?: boolean;
  useExponentialSigmas?: boolean;
  useBetaSigmas?: boolean;
  useLuLambdas?: boolean;
  useFlowSigmas?: boolean;
  flowShift?: number;
  sigmaMin?: number | null;
  sigmaMax?: number | null;
  finalSigmasType?: string;
  solverOrder?: number;
  algorithmType?: string;
  solverType?: string;
  lowerOrderFinal?: boolean;
  eulerAtFinal?: boolean;
  lambdaMinClipped?: number;
  predictX0?: boolean;
  disableCorrector?: number[];
  originalInferenceSteps?: number;
  timestepScaling?: number;
  useDynamicShifting?: boolean;
  timeShiftType?: string;
  shiftTerminal?: number | null;
}

type Kind = 'int' | 'number' | 'bool' | 'string' | 'numbers' | 'ints';
interface KeySpec {
  key: keyof SchedulerConfig;
  kind: Kind;
  /** null is kept (diffusers' None); otherwise null means "not set". */
  nullable?: boolean;
}

const KEYS: Record<string, KeySpec> = {
  _class_name: { key: 'className', kind: 'string' },
  num_train_timesteps: { key: 'numTrainTimesteps', kind: 'int' },
  beta_start: { key: 'betaStart', kind: 'number' },
  beta_end: { key: 'betaEnd', kind: 'number' },
  beta_schedule: { key: 'betaSchedule', kind: 'string' },
  trained_betas: { key: 'trainedBetas', kind: 'numbers', nullable: true },
  prediction_type: { key: 'predictionType', kind: 'string' },
  timestep_spacing: { key: 'timestepSpacing', kind: 'string' },
  steps_offset: { key: 'stepsOffset', kind: 'int' },
  rescale_betas_zero_snr: { key: 'rescaleBetasZeroSnr', kind: 'bool' },
  clip_sample: { key: 'clipSample', kind: 'bool' },
  clip_sample_range: { key: 'clipSampleRange', kind: 'number' },
  set_alpha_to_one: { key: 'setAlphaToOne', kind: 'bool' },
  thresholding: { key: 'thresholding', kind: 'bool' },
  dynamic_thresholding_ratio: { key: 'dynamicThresholdingRatio', kind: 'number' },
  sample_max_value: { key: 'sampleMaxValue', kind: 'number' },
  variance_type: { key: 'varianceType', kind: 'string', nullable: true },
  skip_prk_steps: { key: 'skipPrkSteps', kind: 'bool' },
  interpolation_type: { key: 'interpolationType', kind: 'string' },
  timestep_type: { key: 'timestepType', kind: 'string' },
  use_karras_sigmas: { key: 'useKarrasSigmas', kind: 'bool' },
  use_exponential_sigmas: { key: 'useExponentialSigmas', kind: 'bool' },
  use_beta_sigmas: { key: 'useBetaSigmas', kind: 'bool' },
  use_lu_lambdas: { key: 'useLuLambdas', kind: 'bool' },
  use_flow_sigmas: { key: 'useFlowSigmas', kind: 'bool' },
  flow_shift: { key: 'flowShift', kind: 'number' },
  sigma_min: { key: 'sigmaMin', kind: 'number', nullable: true },
  sigma_max: { key: 'sigmaMax', kind: 'number', nullable: true },
  final_sigmas_type: { key: 'finalSigmasType', kind: 'string' },
  solver_order: { key: 'solverOrder', kind: 'int' },
  algorithm_type: { key: 'algorithmType', kind: 'string' },
  solver_type: { key: 'solverType', kind: 'string' },
  lower_order_final: { key: 'lowerOrderFinal', kind: 'bool' },
  euler_at_final: { key: 'eulerAtFinal', kind: 'bool' },
  lambda_min_clipped: { key: 'lambdaMinClipped', kind: 'number' },
  predict_x0: { key: 'predictX0', kind: 'bool' },
  disable_corrector: { key: 'disableCorrector', kind: 'ints' },
  original_inference_steps: { key: 'originalInferenceSteps', kind: 'int' },
  timestep_scaling: { key: 'timestepScaling', kind: 'number' },
  use_dynamic_shifting: { key: 'useDynamicShifting', kind: 'bool' },
  time_shift_type: { key: 'timeShiftType', kind: 'string' },
  shift_terminal: { key: 'shiftTerminal', kind: 'number', nullable: true },
};

const BY_CAMEL = new Map<string, KeySpec>(Object.values(KEYS).map((s) => [s.key, s]));

const EXPECTED: Record<Kind, string> = {
  int: 'an integer',
  number: 'a number',
  bool: 'true or false',
  string: 'a string',
  numbers: 'a list of numbers',
  ints: 'a list of integers',
};

/** JSON has no infinities; Python's json writes them bare, and our fixtures as strings. */
function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v === 'Infinity' || v === 'inf') return Infinity;
  if (v === '-Infinity' || v === '-inf') return -Infinity;
  return undefined;
}

function convert(kind: Kind, v: unknown): unknown {
  switch (kind) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
    case 'number':
      return toNumber(v);
    case 'bool':
      return typeof v === 'boolean' ? v : undefined;
    case 'string':
      return typeof v === 'string' ? v : undefined;
    case 'numbers':
    case 'ints': {
      if (!Array.isArray(v)) return undefined;
      const out = v.map(toNumber);
      const ok = out.every((x) => x !== undefined && (kind === 'numbers' || Number.isInteger(x)));
      return ok ? out : undefined;
    }
  }
}

function parseText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const patched = text.replace(/([:[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, '$1"$2"');
    try {
      return JSON.parse(patched);
    } catch {
      throw new ZipbankError('scheduler.bad-json', { file, reason: (first as Error).message }, { cause: first });
    }
  }
}

/**
 * Reads a scheduler config from a JSON text or an object with either diffusers'
 * snake_case keys or our camelCase keys (parsing is idempotent).
 */
export function parseSchedulerConfig(input: unknown, file = 'scheduler_config.json'): SchedulerConfig {
  const raw = typeof input === 'string' ? parseText(input, file) : input;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ZipbankError('scheduler.invalid-config', { file, key: '(root)', value: raw, expected: 'a JSON object' });
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const spec = KEYS[name] ?? BY_CAMEL.get(name);
    if (!spec || value === undefined) continue;
    if (value === null) {
      if (spec.nullable) out[spec.key] = null;
      continue;
    }
    const v = convert(spec.kind, value);
    if (v === undefined) {
      throw new ZipbankError('scheduler.invalid-config', { file, key: name, value, expected: EXPECTED[spec.kind] });
    }
    out[spec.key] = v;
  }
  return out as SchedulerConfig;
}

/** Reads and parses a `scheduler_config.json` file. */
export async function loadSchedulerConfig(path: string): Promise<SchedulerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ZipbankError('scheduler.io', { file: path, reason: (e as Error).message }, { cause: e });
  }
  return parseSchedulerConfig(text, path);
}

/** The config back in diffusers' snake_case form (explicit keys only). */
export function toDiffusersConfig(config: SchedulerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [snake, spec] of Object.entries(KEYS)) {
    const v = config[spec.key];
    if (v !== undefined) out[snake] = v;
  }
  return out;
}

/**
 * A scheduler's options: its defaults overlaid with the keys the config sets.
 * `D` lists exactly the keys the scheduler reads.
 */
export function resolveOptions<D extends Partial<Record<keyof SchedulerConfig, unknown>>>(
  config: SchedulerConfig,
  defaults: D,
): D {
  const out = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof D & keyof SchedulerConfig)[]) {
    const v = config[key];
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  }
  return out;
}

/** Throws `scheduler.unsupported-option` unless `value` is one of `allowed`. */
export function requireOneOf<T>(scheduler: string, key: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value)) {
    throw new ZipbankError('scheduler.unsupported-option', {
      scheduler,
      key,
      value,
      supported: allowed.map((a) => JSON.stringify(a)).join(', '),
    });
  }
}
