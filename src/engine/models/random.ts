/**
 * Seeded random models in the diffusers folder layout: model_index.json, each
 * component's config.json and safetensors weights (values from `./random-init.ts`),
 * the tokenizer folder(s) from the shipped CLIP vocabulary, and the real scheduler
 * config of the preset's family. Weights are streamed tensor by tensor in bounded
 * chunks, so full-size presets (SD 1.5: ~4 GB in fp32) need little memory; each file
 * is written under a `.partial` name and renamed when complete. The same preset,
 * seed and dtype always give byte-identical files.
 *
 * fp32 writes the plain names (`model.safetensors`, `diffusion_pytorch_model.safetensors`);
 * fp16 writes the diffusers fp16 variant names (`model.fp16.safetensors`, ...).
 *
 * @example
 *   await writeRandomModel({ preset: 'tiny-sd15', seed: 7, out: '/tmp/tiny' });
 *   const m = await openModelFolder('/tmp/tiny');   // loads and checks
 */
import { mkdir, open, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import { writeClipTokenizerFolder } from '../pipeline/tokenizer/clip-vocab.ts';
import { COMPONENT_FOLDERS, type ComponentKey } from './config.ts';
import { componentSpecs } from './load.ts';
import { numel, type ParamSpec } from './params.ts';
import { presetConfigs, presetFamily, presetRawConfigs, type PresetId } from './presets.ts';
import { floatBytes, initRules, tensorChunks, tensorSeed } from './random-init.ts';
import sd15Scheduler from './presets/sd15/scheduler.json' with { type: 'json' };
import sdxlScheduler from './presets/sdxl/scheduler.json' with { type: 'json' };

export const RANDOM_PRESETS = ['tiny-sd15', 'tiny-sdxl', 'sd15', 'sdxl', 'world'] as const satisfies readonly PresetId[];
export type RandomPreset = (typeof RANDOM_PRESETS)[number];

export interface RandomModelOptions {
  preset: string;
  /** A folder that does not exist or is empty. */
  out: string;
  /** Integer in [0, 2^64). Default 0. */
  seed?: number | bigint;
  /** Stored weight type. Default 'fp32'. */
  dtype?: 'fp32' | 'fp16';
  /** Called after every written chunk (about 4 MB). */
  onProgress?: (p: RandomModelProgress) => void;
}

export interface RandomModelProgress {
  /** The weight file being written, relative to `out`. */
  file: string;
  fileBytes: number;
  fileWritten: number;
  /** All weight files together. */
  written: number;
  total: number;
}

export interface RandomModelResult {
  out: string;
  /** Every file written, relative to `out`, in writing order. */
  files: string[];
  /** Bytes of the weight files. */
  weightBytes: number;
}

interface PlannedFile {
  component: ComponentKey;
  location: string;
  specs: ParamSpec[];
  header: Buffer;
  bytes: number;
}

const BASE: Readonly<Record<ComponentKey, string>> = { unet: 'diffusion_pytorch_model', vae: 'diffusion_pytorch_model', textEncoder: 'model', textEncoder2: 'model' };

export function isRandomPreset(id: string): id is RandomPreset {
  return (RANDOM_PRESETS as readonly string[]).includes(id);
}

export async function writeRandomModel(o: RandomModelOptions): Promise<RandomModelResult> {
  if (!isRandomPreset(o.preset)) {
    presetConfigs(o.preset); // unknown presets: model.unknown-preset
    throw new ZipbankError('model.random-preset', { preset: o.preset, supported: RANDOM_PRESETS });
  }
  const preset = o.preset;
  const seed = o.seed ?? 0;
  const st = (o.dtype ?? 'fp32') === 'fp16' ? 'F16' : 'F32';
  const out = path.resolve(o.out);
  await prepareOutput(out);

  const configs = presetConfigs(preset);
  const raw = presetRawConfigs(preset);
  const components = (['unet', 'textEncoder', 'textEncoder2', 'vae'] as const).filter((k) => configs[k] !== undefined);
  const plan = components.map((component) => planFile(component, componentSpecs(configs, component), st));
  const files: string[] = [];
  const put = async (rel: string, json: unknown) => {
    await mkdir(path.dirname(path.join(out, rel)), { recursive: true });
    await writeFile(path.join(out, rel), JSON.stringify(json, null, 2) + '\n');
    files.push(rel);
  };

  const sdxl = presetFamily(preset) === 'sdxl';
  await put('model_index.json', modelIndex(sdxl, configs.textEncoder?.architecture, configs.textEncoder2?.architecture));
  await put('scheduler/scheduler_config.json', sdxl ? sdxlScheduler : sd15Scheduler);
  await writeClipTokenizerFolder(path.join(out, 'tokenizer'));
  files.push(...tokenizerFiles('tokenizer'));
  if (sdxl) {
    await writeClipTokenizerFolder(path.join(out, 'tokenizer_2'), { pad: '!' });
    files.push(...tokenizerFiles('tokenizer_2'));
  }
  for (const c of components) await put(`${COMPONENT_FOLDERS[c]}/config.json`, raw[c]);

  const total = plan.reduce((a, f) => a + f.bytes, 0);
  let written = 0;
  for (const f of plan) {
    const before = written;
    written += await writeWeights(out, f, seed, st, (fileWritten) => o.onProgress?.({ file: f.location, fileBytes: f.bytes, fileWritten, written: before + fileWritten, total }));
    files.push(f.location);
  }
  return { out, files, weightBytes: total };
}

async function prepareOutput(out: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await readdir(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ZipbankError('model.output-not-empty', { dir: out }, { cause: e });
  }
  if (entries.length > 0) throw new ZipbankError('model.output-not-empty', { dir: out });
  await mkdir(out, { recursive: true });
}

const tokenizerFiles = (dir: string) => ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json'].map((f) => `${dir}/${f}`);

function planFile(component: ComponentKey, specs: ParamSpec[], st: 'F32' | 'F16'): PlannedFile {
  const size = st === 'F32' ? 4 : 2;
  const entries: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const s of specs) {
    const n = numel(s.shape) * size;
    entries[s.name] = { dtype: st, shape: s.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(entries);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  const location = `${COMPONENT_FOLDERS[component]}/${BASE[component]}${st === 'F16' ? '.fp16' : ''}.safetensors`;
  return { component, location, specs, header, bytes: header.length + offset };
}

/** Streams one file; returns its size. */
async function writeWeights(out: string, f: PlannedFile, seed: number | bigint, st: 'F32' | 'F16', progress: (fileWritten: number) => void): Promise<number> {
  const final = path.join(out, ...f.location.split('/'));
  const partial = `${final}.partial`;
  await mkdir(path.dirname(final), { recursive: true });
  const rules = initRules(f.specs);
  const component = COMPONENT_FOLDERS[f.component];
  const fh = await open(partial, 'w');
  let at = 0;
  try {
    await fh.write(f.header, 0, f.header.length, 0);
    at = f.header.length;
    for (const s of f.specs) {
      for (const chunk of tensorChunks(rules.get(s.name)!, tensorSeed(seed, component, s.name), numel(s.shape))) {
        const bytes = floatBytes(chunk, st);
        await fh.write(bytes, 0, bytes.length, at);
        at += bytes.length;
        progress(at);
      }
    }
  } finally {
    await fh.close();
  }
  await rename(partial, final);
  return at;
}

function modelIndex(sdxl: boolean, te?: string, te2?: string): Record<string, unknown> {
  const common = {
    scheduler: ['diffusers', sdxl ? 'EulerDiscreteScheduler' : 'PNDMScheduler'],
    text_encoder: ['transformers', te ?? 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
  if (!sdxl) {
    return {
      _class_name: 'StableDiffusionPipeline',
      _diffusers_version: '0.6.0',
      feature_extractor: [null, null],
      requires_safety_checker: false,
      safety_checker: [null, null],
      ...common,
    };
  }
  return {
    _class_name: 'StableDiffusionXLPipeline',
    _diffusers_version: '0.19.0.dev0',
    force_zeros_for_empty_prompt: true,
    add_watermarker: null,
    ...common,
    text_encoder_2: ['transformers', te2 ?? 'CLIPTextModelWithProjection'],
    tokenizer_2: ['transformers', 'CLIPTokenizer'],
  };
}
