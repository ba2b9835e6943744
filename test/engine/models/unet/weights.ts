/**
 * Test support for the UNet graph: seeded random weights written to a real
 * safetensors file, shape-only weight sources for the full architectures, and a
 * source that records which names the graph pulled.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { safetensorsWeights, type InitializerSpec, type WeightSource } from '../../../../src/engine/onnx/index.ts';
import type { ParamSpec } from '../../../../src/engine/models/params.ts';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { fromFloat32 } from '../../../../src/engine/weights/dtype.ts';
import { encodeSafetensors, readSafetensorsHeader } from '../../../../src/engine/weights/safetensors.ts';

/**
 * Values for one parameter: weights ~ N(0, 1/fan_in), norm scales 1 + N(0, 0.1^2),
 * biases N(0, 0.05^2), so activations stay O(1) through a deep random network.
 */
export function randomValues(p: ParamSpec, rng: ReturnType<typeof createRandom>): Float32Array {
  const n = p.shape.reduce((a, b) => a * b, 1);
  const v = rng.normals(n);
  const isNorm = /(^|\.)norm\d?(_out)?\.weight$|conv_norm_out\.weight$/.test(p.name);
  if (p.shape.length === 1) {
    for (let i = 0; i < n; i++) v[i] = isNorm ? 1 + 0.1 * v[i]! : 0.05 * v[i]!;
  } else {
    const scale = 1 / Math.sqrt(p.shape.slice(1).reduce((a, b) => a * b, 1));
    for (let i = 0; i < n; i++) v[i] = v[i]! * scale;
  }
  return v;
}

export interface RandomWeightsFile {
  dir: string;
  /** File name inside `dir` (the external-data location). */
  location: string;
  weights: WeightSource;
  /** The float32 values by name (before any float16 rounding in the file). */
  values: Map<string, Float32Array>;
}

/** Write seeded random weights for `params` into a fresh temp dir and open them as a WeightSource. */
export async function writeRandomWeights(params: readonly ParamSpec[], seed: number, dtype: 'F32' | 'F16' = 'F32'): Promise<RandomWeightsFile> {
  const rng = createRandom(seed);
  const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-unet-'));
  const location = 'diffusion_pytorch_model.safetensors';
  const values = new Map<string, Float32Array>();
  const tensors = params.map((p) => {
    const v = randomValues(p, rng);
    values.set(p.name, v);
    return { name: p.name, dtype, shape: p.shape, data: fromFloat32(v, dtype) };
  });
  writeFileSync(path.join(dir, location), encodeSafetensors(tensors));
  const header = await readSafetensorsHeader(path.join(dir, location));
  return { dir, location, weights: safetensorsWeights({ header, location }), values };
}

/** External refs with the right shapes and no file behind them (for building, not running). */
export function shapeOnlyWeights(params: readonly ParamSpec[]): WeightSource {
  const specs = new Map<string, InitializerSpec>();
  let offset = 0;
  for (const p of params) {
    const length = p.shape.reduce((a, b) => a * b, 1) * 4;
    specs.set(p.name, { dtype: 'float32', shape: p.shape, external: { location: 'unet.safetensors', offset, length } });
    offset += length;
  }
  return { description: 'shape-only weights', get: (name) => specs.get(name) };
}

/** `source`, remembering every name asked for, in order. */
export function recording(source: WeightSource): WeightSource & { asked: string[] } {
  const asked: string[] = [];
  return { description: source.description, asked, get: (name) => (asked.push(name), source.get(name)) };
}
