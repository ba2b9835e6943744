/**
 * Finding and checking one component's weight files in a diffusers folder: the
 * single-file or sharded (`*.safetensors.index.json`) safetensors of a variant,
 * every header validated, and the stored tensors compared with the architecture's
 * parameter specs (names, shapes, float dtypes). Errors name the file (relative to
 * the model root) and the tensor.
 *
 * @example
 *   const found = await findComponentFiles(root, 'unet', 'diffusion_pytorch_model', 'auto');
 *   const checked = await checkComponentFiles(root, found, unetParams(cfg));
 *   checked.weights.get('conv_in.weight'); // external span in unet/diffusion_pytorch_model.safetensors
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import { dtypeFromSafetensors, type WeightSource } from '../onnx/external.ts';
import type { Dtype } from '../weights/dtype.ts';
import { readSafetensorsHeader, type SafetensorsHeader, type TensorInfo } from '../weights/safetensors.ts';
import type { ParamSpec } from './params.ts';
import { isFile } from '../../util/fs.ts';

/** Which weight files to read: `fp16` the `.fp16.` variant names, `fp32` the plain names, `auto` plain, else fp16. */
export type WeightVariant = 'fp16' | 'fp32' | 'auto';
export const WEIGHT_VARIANTS: readonly WeightVariant[] = ['fp16', 'fp32', 'auto'];

/** Files found for one component, before their contents are checked. */
export interface FoundFiles {
  /** Component folder, e.g. 'unet'. */
  folder: string;
  /** 'plain' (no variant in the names) or 'fp16'. */
  variant: 'plain' | 'fp16';
  /** The shard index, relative to the model root, when sharded. */
  index?: string;
  /** Weight files relative to the model root ('/'-separated), with the tensors the index assigns them (sharded only). */
  files: { location: string; listed?: string[] }[];
}

export interface WeightFile {
  /** Relative to the model root, '/'-separated: the external-data location. */
  location: string;
  header: SafetensorsHeader;
}

export interface CheckedWeights {
  files: WeightFile[];
  /** Distinct stored float types, e.g. ['F16']. */
  dtypes: Dtype[];
  /** Extra tensors that are tolerated and not used (e.g. text_model.embeddings.position_ids). */
  ignored: string[];
  weights: WeightSource;
}

/** Buffers some transformers versions saved with the weights; they are not parameters. */
const TOLERATED = new Set(['text_model.embeddings.position_ids']);

/** Older diffusers VAE attention names, accepted for the current ones. */
const LEGACY_ALIASES: [RegExp, string][] = [
  [/\.to_q\.(weight|bias)$/, '.query.$1'],
  [/\.to_k\.(weight|bias)$/, '.key.$1'],
  [/\.to_v\.(weight|bias)$/, '.value.$1'],
  [/\.to_out\.0\.(weight|bias)$/, '.proj_attn.$1'],
];

/** Candidate names of one variant: [single file, index files...]. */
function candidates(base: string, variant: 'plain' | 'fp16'): { single: string; indexes: string[] } {
  if (variant === 'plain') return { single: `${base}.safetensors`, indexes: [`${base}.safetensors.index.json`] };
  return { single: `${base}.fp16.safetensors`, indexes: [`${base}.safetensors.index.fp16.json`, `${base}.fp16.safetensors.index.json`] };
}

/** Locates a component's weight files for a variant; `model.missing-weights` lists what was tried. */
export async function findComponentFiles(root: string, folder: string, base: string, variant: WeightVariant): Promise<FoundFiles> {
  const order: ('plain' | 'fp16')[] = variant === 'fp16' ? ['fp16'] : variant === 'fp32' ? ['plain'] : ['plain', 'fp16'];
  const tried: string[] = [];
  for (const v of order) {
    const { single, indexes } = candidates(base, v);
    tried.push(`${folder}/${single}`);
    if (await isFile(path.join(root, folder, single))) return { folder, variant: v, files: [{ location: `${folder}/${single}` }] };
    for (const idx of indexes) {
      tried.push(`${folder}/${idx}`);
      if (await isFile(path.join(root, folder, idx))) return readShardIndex(root, folder, idx, v);
    }
  }
  let found: string[] = [];
  try {
    found = (await readdir(path.join(root, folder))).filter((f) => /\.(bin|ckpt|pt|pth|safetensors)$/.test(f)).map((f) => `${folder}/${f}`);
  } catch {
    // the folder itself is missing; `tried` says enough
  }
  throw new ZipbankError('model.missing-weights', { folder: root, component: folder, tried, found });
}

async function readShardIndex(root: string, folder: string, idx: string, variant: 'plain' | 'fp16'): Promise<FoundFiles> {
  const file = `${folder}/${idx}`;
  const bad = (reason: string) => new ZipbankError('model.bad-shard-index', { file, reason });
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path.join(root, folder, idx), 'utf8'));
  } catch (e) {
    throw new ZipbankError('model.bad-shard-index', { file, reason: (e as Error).message }, { cause: e });
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw bad('it has no "weight_map" object');
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '' || /[\\/]/.test(shard) || shard === '..') throw bad(`tensor ${tensor} maps to ${JSON.stringify(shard)}, not a file name in ${folder}/`);
    let list = byShard.get(shard);
    if (!list) byShard.set(shard, (list = []));
    list.push(tensor);
  }
  if (byShard.size === 0) throw bad('its weight_map is empty');
  const files = [...byShard].sort(([a], [b]) => (a < b ? -1 : 1)).map(([shard, listed]) => ({ location: `${folder}/${shard}`, listed }));
  return { folder, variant, index: file, files };
}

/** Reads every file's header and checks the stored tensors against `specs`. */
export async function checkComponentFiles(root: string, found: FoundFiles, specs: readonly ParamSpec[]): Promise<CheckedWeights> {
  const files: WeightFile[] = [];
  const stored = new Map<string, { file: string; info: TensorInfo }>();
  for (const f of found.files) {
    const header = await readSafetensorsHeader(path.join(root, ...f.location.split('/')), { displayName: f.location });
    files.push({ location: f.location, header });
    for (const t of header.tensors) {
      const prev = stored.get(t.name);
      if (prev) throw new ZipbankError('model.bad-shard-index', { file: found.index ?? f.location, reason: `tensor ${t.name} is stored in both ${prev.file} and ${f.location}` });
      stored.set(t.name, { file: f.location, info: t });
    }
    for (const name of f.listed ?? []) {
      if (!header.byName.has(name)) throw new ZipbankError('model.bad-shard-index', { file: found.index!, reason: `it puts tensor ${name} in ${f.location}, which does not hold it` });
    }
  }
  const resolved = matchSpecs(found, specs, stored);
  const weights: WeightSource = {
    description: found.index ?? found.files.map((f) => f.location).join(', '),
    get(name) {
      const hit = resolved.get(name);
      if (!hit) return undefined;
      const dtype = dtypeFromSafetensors(hit.info.dtype)!;
      return { dtype, shape: hit.info.shape, external: { location: hit.file, offset: hit.info.begin, length: hit.info.end - hit.info.begin } };
    },
  };
  const dtypes = [...new Set([...resolved.values()].map((r) => r.info.dtype))];
  const used = new Set([...resolved.values()].map((r) => r.info.name));
  const ignored = [...stored.keys()].filter((n) => !used.has(n));
  return { files, dtypes, ignored, weights };
}

type Stored = Map<string, { file: string; info: TensorInfo }>;

function matchSpecs(found: FoundFiles, specs: readonly ParamSpec[], stored: Stored): Stored {
  const resolved: Stored = new Map();
  const missing: ParamSpec[] = [];
  for (const s of specs) {
    const hit = stored.get(s.name) ?? legacy(s.name, stored);
    if (hit) resolved.set(s.name, hit);
    else missing.push(s);
  }
  const where = found.index ?? found.files[0]!.location;
  if (missing.length) {
    throw new ZipbankError('model.missing-tensor', { file: where, tensor: missing[0]!.name, shape: missing[0]!.shape, more: missing.length - 1 });
  }
  const claimed = new Set([...resolved.values()].map((r) => r.info.name));
  const extra = [...stored.values()].filter((r) => !claimed.has(r.info.name) && !TOLERATED.has(r.info.name));
  if (extra.length) throw new ZipbankError('model.unexpected-tensor', { file: extra[0]!.file, tensor: extra[0]!.info.name, more: extra.length - 1 });
  for (const s of specs) {
    const { file, info } = resolved.get(s.name)!;
    if (info.shape.length !== s.shape.length || info.shape.some((d, i) => d !== s.shape[i])) {
      throw new ZipbankError('model.tensor-shape', { file, tensor: info.name, actual: info.shape, expected: s.shape });
    }
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new ZipbankError('model.tensor-dtype', { file, tensor: info.name, dtype: info.dtype });
    }
  }
  return resolved;
}

function legacy(name: string, stored: Stored): { file: string; info: TensorInfo } | undefined {
  for (const [re, to] of LEGACY_ALIASES) {
    if (re.test(name)) return stored.get(name.replace(re, to));
  }
  return undefined;
}
