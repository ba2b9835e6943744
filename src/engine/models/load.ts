/**
 * Opens a diffusers model folder: the configs (model_index.json and each listed
 * component's config.json), and per component its safetensors weights (one file or
 * shards, fp32 names or the fp16 variant), every header validated and every tensor
 * checked against the architecture's parameters. The returned WeightSources point
 * into the files as ONNX external data, with locations relative to `root`: pass
 * `root` as the session's `externalDataDir`.
 *
 * File names (diffusers/transformers conventions):
 *   unet/, vae/:                    diffusion_pytorch_model[.fp16].safetensors
 *   text_encoder/, text_encoder_2/: model[.fp16].safetensors
 *   sharded:                        <base>.safetensors.index.json, <base>.safetensors.index.fp16.json
 *                                   (or <base>.fp16.safetensors.index.json) naming the shards
 *
 * @example
 *   const m = await openModelFolder('/models/stable-diffusion-v1-5', { variant: 'fp16' });
 *   const te = buildClipTextGraph(m.configs.textEncoder!, { weights: m.components.textEncoder!.weights });
 *   const session = await createSession({ model: te.model, name: 'text_encoder', externalDataDir: m.root });
 *   const tok = await ClipTokenizer.fromFolder(m.tokenizer!);
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import { clipTextParams } from './clip/params.ts';
import { COMPONENT_FOLDERS, type ComponentKey, type PipelineConfigs } from './config.ts';
import { readPipelineFolder } from './folder.ts';
import type { ParamSpec } from './params.ts';
import { unetParams } from './unet/params.ts';
import { vaeParams } from './vae/params.ts';
import { WEIGHT_VARIANTS, checkComponentFiles, findComponentFiles, type CheckedWeights, type WeightVariant } from './weight-files.ts';

export { WEIGHT_VARIANTS, type WeightFile, type WeightVariant } from './weight-files.ts';

export interface OpenModelFolderOptions {
  /** Which weight files to read. Default 'auto' (the plain names, else the fp16 variant). */
  variant?: WeightVariant;
  /** Components whose weights to open. Default: every component model_index.json lists. */
  components?: readonly ComponentKey[];
}

export interface ComponentWeights extends CheckedWeights {
  component: ComponentKey;
  /** The component folder, e.g. 'text_encoder_2'. */
  folder: string;
  /** Which names were found: 'plain' or the 'fp16' variant (the stored dtypes are in `dtypes`). */
  variant: 'plain' | 'fp16';
  /** Exactly the tensors the architecture consumes. */
  specs: ParamSpec[];
}

export interface ModelFolder {
  /** Absolute folder path: the external-data folder for sessions. */
  root: string;
  configs: PipelineConfigs;
  /** The opened components (all listed ones unless `components` chose). */
  components: Partial<Record<ComponentKey, ComponentWeights>>;
  /** Absolute paths of the tokenizer and scheduler folders model_index.json lists (and that exist). */
  tokenizer?: string;
  tokenizer2?: string;
  scheduler?: string;
}

/** File base name per component. */
const BASE: Readonly<Record<ComponentKey, string>> = {
  unet: 'diffusion_pytorch_model',
  vae: 'diffusion_pytorch_model',
  textEncoder: 'model',
  textEncoder2: 'model',
};

/** The tensors a component's architecture consumes. */
export function componentSpecs(configs: PipelineConfigs, component: ComponentKey): ParamSpec[] {
  switch (component) {
    case 'unet':
      return unetParams(configs.unet);
    case 'vae':
      return vaeParams(configs.vae!);
    case 'textEncoder':
      return clipTextParams(configs.textEncoder!);
    case 'textEncoder2':
      return clipTextParams(configs.textEncoder2!);
  }
}

export async function openModelFolder(dir: string, options: OpenModelFolderOptions = {}): Promise<ModelFolder> {
  const variant = options.variant ?? 'auto';
  if (!WEIGHT_VARIANTS.includes(variant)) {
    throw new ZipbankError('engine.unsupported-config', { file: 'openModelFolder options', key: 'variant', value: variant, supported: WEIGHT_VARIANTS.join(', ') });
  }
  const root = path.resolve(dir);
  const configs = await readPipelineFolder(root);
  const present = (['unet', 'textEncoder', 'textEncoder2', 'vae'] as const).filter((k) => configs[k] !== undefined);
  const wanted = options.components ?? present;
  const components: ModelFolder['components'] = {};
  for (const component of wanted) {
    const folder = COMPONENT_FOLDERS[component];
    if (!present.includes(component)) {
      throw new ZipbankError('model.missing-file', { folder: root, file: `${folder}/config.json`, reason: 'model_index.json does not list this component' });
    }
    const specs = componentSpecs(configs, component);
    const found = await findComponentFiles(root, folder, BASE[component], variant);
    const checked = await checkComponentFiles(root, found, specs);
    components[component] = { component, folder, variant: found.variant, specs, ...checked };
  }
  const out: ModelFolder = { root, configs, components };
  const listed = await listedFolders(root);
  for (const [key, name] of [['tokenizer', 'tokenizer'], ['tokenizer2', 'tokenizer_2'], ['scheduler', 'scheduler']] as const) {
    if (listed.has(name) && (await isDir(path.join(root, name)))) out[key] = path.join(root, name);
  }
  return out;
}

async function listedFolders(root: string): Promise<Set<string>> {
  const index = JSON.parse(await readFile(path.join(root, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  return new Set(Object.entries(index).filter(([, v]) => Array.isArray(v) && v.some((x) => x !== null)).map(([k]) => k));
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
