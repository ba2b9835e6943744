/**
 * Test support for LoRA application: tiny components with seeded random weights in a
 * real safetensors file, seeded LoRA files read against the tiny module tables, the
 * "baked" reference (W + ΔW written into a safetensors copy), feeds and CPU runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { componentDeltas } from '../../../src/engine/lora/bake.ts';
import { layoutOf } from '../../../src/engine/lora/keymap-sdxl.ts';
import type { LoraSource } from '../../../src/engine/lora/plan.ts';
import { randomLora, type RandomLoraOptions } from '../../../src/engine/lora/random.ts';
import { readLora } from '../../../src/engine/lora/read.ts';
import type { Component, LoraFile } from '../../../src/engine/lora/types.ts';
import { writeLora, type WriteFormat } from '../../../src/engine/lora/write.ts';
import { buildClipTextGraph } from '../../../src/engine/models/clip/graph.ts';
import { clipTextParams } from '../../../src/engine/models/clip/params.ts';
import type { LayerContext } from '../../../src/engine/models/layers.ts';
import { moduleTableFromConfigs, type BaseFamily } from '../../../src/engine/models/modules.ts';
import { presetConfigs, presetRawConfigs } from '../../../src/engine/models/presets.ts';
import { buildUNetGraph } from '../../../src/engine/models/unet/graph.ts';
import { unetParams } from '../../../src/engine/models/unet/params.ts';
import { safetensorsWeights, type WeightSource } from '../../../src/engine/onnx/index.ts';
import { createRandom } from '../../../src/engine/pipeline/random.ts';
import { asFloat32, createSession, tensor, type Feeds, type Session } from '../../../src/engine/runtime/index.ts';
import { fromFloat32 } from '../../../src/engine/weights/dtype.ts';
import { encodeSafetensors, readSafetensorsHeader } from '../../../src/engine/weights/safetensors.ts';
import { writeRandomWeights, type RandomWeightsFile } from '../models/unet/weights.ts';

export type TinyId = 'tiny-sd15' | 'tiny-sdxl';
export const FAMILY: Record<TinyId, BaseFamily> = { 'tiny-sd15': 'sd15', 'tiny-sdxl': 'sdxl' };

const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-lora-apply-'));
let counter = 0;

export const tinyTable = (id: TinyId) => moduleTableFromConfigs(presetRawConfigs(id));

/** A seeded random LoRA for a tiny model, written in `format` and read back against the tiny table. */
export async function tinyLora(id: TinyId, o: Omit<RandomLoraOptions, 'family' | 'table'>, format: WriteFormat = 'kohya'): Promise<LoraFile> {
  const family = FAMILY[id];
  const file = path.join(dir, `lora-${counter++}.safetensors`);
  await writeLora(file, { ...randomLora({ ...o, family, table: tinyTable(id) }), layout: layoutOf(tinyTable(id).keys()) }, format);
  return readLora(file, { families: [family], tables: { [family]: tinyTable(id) } });
}

/** Read any LoRA file against a tiny model's table. */
export function readTiny(id: TinyId, file: string): Promise<LoraFile> {
  const family = FAMILY[id];
  return readLora(file, { families: [family], tables: { [family]: tinyTable(id) } });
}

/** Write raw tensors as a safetensors file in the temp folder. */
export function writeTensors(tensors: { name: string; shape: number[]; values: Float32Array }[]): string {
  const file = path.join(dir, `raw-${counter++}.safetensors`);
  writeFileSync(file, encodeSafetensors(tensors.map((t) => ({ name: t.name, dtype: 'F32', shape: t.shape, data: fromFloat32(t.values, 'F32') }))));
  return file;
}

export type TinyPart = { id: TinyId; component: Component };

function specsOf({ id, component }: TinyPart) {
  const c = presetConfigs(id);
  if (component === 'unet') return unetParams(c.unet);
  return clipTextParams(component === 'text_encoder' ? c.textEncoder! : c.textEncoder2!);
}

/** Seeded random weights for a tiny component. */
export function tinyWeights(part: TinyPart, seed = 7): Promise<RandomWeightsFile> {
  return writeRandomWeights(specsOf(part), seed, 'F32');
}

/** A safetensors copy of `file` with the sources' updates added to the adapted weights. */
export async function bakedCopy(file: RandomWeightsFile, component: Component, sources: readonly LoraSource[]): Promise<{ dir: string; weights: WeightSource }> {
  const deltas = await componentDeltas(component, sources);
  const out = mkdtempSync(path.join(tmpdir(), 'zipbank-baked-'));
  const header = await readSafetensorsHeader(path.join(file.dir, file.location));
  const tensors = header.tensors.map((t) => {
    const v = file.values.get(t.name)!.slice();
    const d = t.name.endsWith('.weight') ? deltas.get(t.name.slice(0, -'.weight'.length)) : undefined;
    if (d) for (let i = 0; i < v.length; i++) v[i]! += d[i]!;
    return { name: t.name, dtype: 'F32' as const, shape: [...t.shape], data: fromFloat32(v, 'F32') };
  });
  writeFileSync(path.join(out, file.location), encodeSafetensors(tensors));
  const h = await readSafetensorsHeader(path.join(out, file.location));
  return { dir: out, weights: safetensorsWeights({ header: h, location: file.location }) };
}

/** A CPU session of a tiny component's graph over `weights`, with an optional hook. */
export async function tinySession(part: TinyPart, weights: WeightSource, externalDataDir: string, layers?: LayerContext, dtype: 'float32' | 'float16' = 'float32'): Promise<Session> {
  const c = presetConfigs(part.id);
  const model =
    part.component === 'unet'
      ? buildUNetGraph(c.unet, { weights, dtype, ...(layers ? { layers } : {}) }).model
      : buildClipTextGraph(part.component === 'text_encoder' ? c.textEncoder! : c.textEncoder2!, { weights, dtype, ...(layers ? { layers } : {}) }).model;
  return createSession({ model, name: `${part.id}-${part.component}`, externalDataDir }, { provider: 'cpu', intraOpThreads: 1 });
}

/** Seeded inputs for a tiny component (batch 2). */
export function tinyInputs(part: TinyPart, seed = 3): Feeds {
  const rng = createRandom(seed);
  const c = presetConfigs(part.id);
  if (part.component !== 'unet') {
    const ids = Int32Array.from({ length: 2 * 77 }, (_, i) => (i % 77 === 0 ? 49406 : i % 77 < 9 ? 300 + ((i * 37) % 4000) : 49407));
    return { input_ids: tensor('int32', ids, [2, 77]) };
  }
  const u = c.unet;
  const f = (dims: number[]) => tensor('float32', rng.normals(dims.reduce((a, b) => a * b, 1)), dims);
  const feeds: Feeds = {
    sample: f([2, u.inChannels, 16, 16]),
    timestep: tensor('float32', Float32Array.of(999, 421.5), [2]),
    encoder_hidden_states: f([2, 5, u.crossAttentionDim[0]!]),
  };
  if (u.addition) {
    feeds.text_embeds = f([2, u.addition.projectionInputDim - 6 * u.addition.timeEmbedDim]);
    feeds.time_ids = tensor('float32', Float32Array.from({ length: 12 }, (_, i) => [1024, 768, 0, 16, 1024, 1024][i % 6]!), [2, 6]);
  }
  return feeds;
}

/** Every float output of a run, concatenated. */
export async function runAll(s: Session, feeds: Feeds): Promise<Float32Array> {
  const out = await s.run(feeds);
  const parts = Object.keys(out).sort().map((k) => asFloat32(out[k]!));
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

/** max |a - b| / max |b|. */
export function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}
