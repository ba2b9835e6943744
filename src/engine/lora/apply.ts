/**
 * LoRAs on a loaded pipeline: `file.safetensors[:weight]` specs, reading each LoRA
 * against the loaded model's own module table (so a LoRA for another base model, or
 * whose modules or shapes the model does not have, is refused with the module and
 * the shapes named), and the `layers` that `DiffusionPipeline.generate` takes.
 *
 * Every LoRA given is applied together (factors concatenated, weights folded in); the
 * adapted graphs depend only on which modules are adapted and the rank bucket, so a
 * second render with other LoRAs of the same modules and bucket reuses the sessions.
 *
 * @example
 *   const pipe = await DiffusionPipeline.load('models/sd15');
 *   const loras = await readLorasForModel(pipe.model.folder, [parseLoraSpec('corgi.safetensors:0.8')]);
 *   const layers = await pipelineLoraLayers(pipe.model, loras);
 *   await pipe.generate({ prompt: 'a corgi', layers });
 */
import { isZipbankError, ZipbankError } from '../../errors/index.ts';
import type { ComponentKey, PipelineConfigs } from '../models/config.ts';
import { componentSpecs, type ModelFolder } from '../models/load.ts';
import type { ComputeDType } from '../models/model-graph.ts';
import { addModules, type BaseFamily, type ModuleShape } from '../models/modules.ts';
import type { AdaptableKey, PipelineLayers } from '../pipeline/model.ts';
import { loraFeeds } from './feeds.ts';
import { loraContext } from './inject.ts';
import { planLoras, type LoraSource, type PlanLorasOptions } from './plan.ts';
import { readLora } from './read.ts';
import type { Component } from './types.ts';

export interface LoraSpec {
  path: string;
  /** Default 1. */
  weight: number;
}

const KEYS: Record<Component, AdaptableKey & ComponentKey> = { unet: 'unet', text_encoder: 'textEncoder', text_encoder_2: 'textEncoder2' };

/**
 * `file.safetensors` or `file.safetensors:0.8`; the weight is the part after the last
 * colon when it is a number, so paths with colons still work.
 */
export function parseLoraSpec(spec: string): LoraSpec {
  const i = spec.lastIndexOf(':');
  const tail = i > 0 ? spec.slice(i + 1) : '';
  if (i > 0 && /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(tail)) {
    const weight = Number(tail);
    if (!Number.isFinite(weight)) throw new ZipbankError('lora.bad-spec', { spec, reason: `the weight "${tail}" is not a finite number` });
    return { path: spec.slice(0, i), weight };
  }
  if (spec === '' || spec.endsWith(':')) throw new ZipbankError('lora.bad-spec', { spec, reason: 'it names no file, or no weight after the colon' });
  return { path: spec, weight: 1 };
}

/** The family a loaded model's LoRAs are named for, from its configs. */
export function configFamily(configs: PipelineConfigs): BaseFamily {
  if (configs.unet.addition) return 'sdxl';
  if (configs.textEncoder?.hiddenSize === 1024 || configs.unet.crossAttentionDim[0] === 1024) return 'sd2';
  // The bundled world model: SD 1.5's architecture at text width 64.
  if (configs.textEncoder?.hiddenSize === 64 && configs.unet.crossAttentionDim[0] === 64) return 'world';
  return 'sd15';
}

/** Every Linear/Conv2d of the model's UNet and text encoder(s), component-prefixed. */
export function modelModuleTable(configs: PipelineConfigs): Map<string, ModuleShape> {
  const table = new Map<string, ModuleShape>();
  for (const [component, key] of Object.entries(KEYS) as [Component, ComponentKey][]) {
    if (configs[key] !== undefined) addModules(table, component, componentSpecs(configs, key));
  }
  return table;
}

/**
 * Read LoRA files against the model's own modules (for every family the names allow,
 * so shapes are compared with this model, not a preset); refuses what does not fit.
 */
export async function readLorasForModel(folder: Pick<ModelFolder, 'configs'>, specs: readonly LoraSpec[]): Promise<LoraSource[]> {
  const family = configFamily(folder.configs);
  const table = modelModuleTable(folder.configs);
  const out: LoraSource[] = [];
  for (const s of specs) {
    try {
      const lora = await readLora(s.path, { families: [family], tables: { sd15: table, sd2: table, sdxl: table, world: table } });
      out.push({ lora, weight: s.weight });
    } catch (e) {
      const other = isZipbankError(e) ? (e.details as { family?: unknown }).family : undefined;
      if (typeof other === 'string' && other !== family && isZipbankError(e)) {
        throw new ZipbankError('lora.wrong-model', { file: (e.details as { file: string }).file, lora: other, model: family }, { cause: e });
      }
      throw e;
    }
  }
  return out;
}

export interface PipelineLoraOptions extends Pick<PlanLorasOptions, 'minRank'> {}

/** Hooks and feeds for every component the LoRAs adapt (one slot: merged). */
export async function pipelineLoraLayers(model: { dtype: ComputeDType }, sources: readonly LoraSource[], o: PipelineLoraOptions = {}): Promise<PipelineLayers> {
  const plans = planLoras(sources, { dtype: model.dtype, ...(o.minRank !== undefined ? { minRank: o.minRank } : {}) });
  const layers: PipelineLayers = { feeds: {} };
  for (const [component, plan] of Object.entries(plans) as [Component, NonNullable<(typeof plans)[Component]>][]) {
    const key = KEYS[component];
    layers[key] = loraContext(plan);
    layers.feeds![key] = await loraFeeds(plan, sources);
  }
  return layers;
}
