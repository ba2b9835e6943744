/** Test support for model graphs: shape-only and seeded random weights, hook recorders, CPU runs. */
import { memoryWeights, type InitializerSpec, type OnnxModel, type WeightSource } from '../../../src/engine/onnx/index.ts';
import type { ModuleCall, ModuleHook } from '../../../src/engine/models/layers.ts';
import { numel, type ParamSpec } from '../../../src/engine/models/params.ts';
import { initRules, randomTensor } from '../../../src/engine/models/random-init.ts';
import { asFloat32, createSession, type Feeds } from '../../../src/engine/runtime/index.ts';
import type { Nd } from '../onnx/reference.ts';

/** External spans into a file that does not exist: enough to build (not run) full-size graphs fast. */
export function shapeOnlyWeights(specs: readonly ParamSpec[], dtype: 'float16' | 'float32' = 'float16'): WeightSource {
  const bytes = dtype === 'float16' ? 2 : 4;
  const table = new Map<string, InitializerSpec>();
  let offset = 0;
  for (const s of specs) {
    const length = numel(s.shape) * bytes;
    table.set(s.name, { dtype, shape: s.shape, external: { location: 'shape-only.safetensors', offset, length } });
    offset += length;
  }
  return { description: 'shape-only weights', get: (n) => table.get(n) };
}

export interface RandomParams {
  weights: WeightSource;
  values: Map<string, Float32Array>;
  /** A parameter as an Nd (float64, for the reference computations). */
  nd(name: string): Nd;
}

/** Seeded random values for `specs` (the rules `model random` uses), as weights and as plain arrays. */
export function randomParams(specs: readonly ParamSpec[], seed = 1, component = ''): RandomParams {
  const rules = initRules(specs);
  const values = new Map<string, Float32Array>();
  const table: Record<string, InitializerSpec> = {};
  for (const s of specs) {
    const v = randomTensor(s, rules.get(s.name)!, seed, component);
    values.set(s.name, v);
    table[s.name] = { dtype: 'float32', shape: s.shape, values: v };
  }
  const shapes = new Map(specs.map((s) => [s.name, s.shape]));
  return {
    weights: memoryWeights(table),
    values,
    nd: (name) => ({ shape: [...shapes.get(name)!], data: Float64Array.from(values.get(name)!) }),
  };
}

/** A hook that records every module call and changes nothing. */
export function recordingHook(): { hook: ModuleHook; calls: ModuleCall[] } {
  const calls: ModuleCall[] = [];
  return { calls, hook: (_g, call) => (calls.push(call), call.y) };
}

/** Runs a model once on CPU; outputs as Float32Array with dims. */
export async function runModel(model: OnnxModel, feeds: Feeds, externalDataDir?: string): Promise<Record<string, { dims: number[]; data: Float32Array }>> {
  const source = externalDataDir ? { model, name: model.graph.name, externalDataDir } : { model, name: model.graph.name };
  const session = await createSession(source, { provider: 'cpu' });
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: [...t.dims], data: asFloat32(t) }]));
  } finally {
    await session.dispose();
  }
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
