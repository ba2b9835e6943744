/**
 * Baking: a component's weights with the LoRA updates added, W' = W + Σ_k w_k ·
 * scale_k · dW_k diag(m_k), as a WeightSource that serves the adapted weights from
 * memory (float32) and every other weight from the original files. A graph built on
 * it is the plain graph: no branch, no extra input, the same step time as the base
 * model; but each LoRA set is a new graph and a new session (see bench/lora.ts for
 * when that pays). Also the reference the injection tests compare against.
 *
 * @example
 *   const weights = await bakedWeights(folder.components.unet!.weights, folder.root, 'unet', [{ lora }]);
 *   const { model } = buildUNetGraph(cfg, { weights });
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { InitializerSpec, WeightSource } from '../onnx/external.ts';
import { decodeValues } from '../onnx/tensor-data.ts';
import { SafetensorsFile } from '../weights/safetensors.ts';
import { checkCoefficients, scaleColumns } from './coefficients.ts';
import { componentPath, type LoraSource } from './plan.ts';
import { denseDelta } from './tensors.ts';
import type { Component } from './types.ts';

/** A weight's values as float32, from memory or from its external span under `root`. */
export async function readWeight(spec: InitializerSpec, root: string): Promise<Float32Array> {
  if (spec.values !== undefined) return Float32Array.from(spec.values as ArrayLike<number>);
  let raw = spec.raw;
  if (!raw) {
    const ext = spec.external!;
    const fh = await open(path.join(root, ext.location), 'r');
    try {
      raw = Buffer.alloc(ext.length);
      await fh.read(raw, 0, ext.length, ext.offset);
    } finally {
      await fh.close();
    }
  }
  return Float32Array.from(decodeValues(raw, spec.dtype));
}

/** Σ over the sources of w · scale · dW diag(m) for each module of `component` they adapt, by module path. */
export async function componentDeltas(component: Component, sources: readonly LoraSource[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const s of sources) {
    const mine = s.lora.modules.filter((m) => m.component === component);
    if (mine.length === 0) continue;
    const st = await SafetensorsFile.open(s.lora.path, { displayName: s.lora.file });
    try {
      for (const m of mine) {
        const d = (await denseDelta(st, m)).data;
        const k = (s.weight ?? 1) * m.scale;
        for (let i = 0; i < d.length; i++) d[i]! *= k;
        const coeff = s.coefficients?.get(m.target);
        if (coeff) {
          checkCoefficients(m.target, coeff, m.base.inFeatures);
          scaleColumns(d, m.base.outFeatures, coeff, m.base.kernel[0] * m.base.kernel[1]);
        }
        const p = componentPath(m);
        const acc = out.get(p);
        if (acc) for (let i = 0; i < d.length; i++) acc[i]! += d[i]!;
        else out.set(p, d);
      }
    } finally {
      await st.close();
    }
  }
  return out;
}

/** `weights` with the LoRA updates of `component` baked into the adapted modules' weights. */
export async function bakedWeights(weights: WeightSource, root: string, component: Component, sources: readonly LoraSource[]): Promise<WeightSource> {
  const baked = new Map<string, InitializerSpec>();
  for (const [p, delta] of await componentDeltas(component, sources)) {
    const name = `${p}.weight`;
    const spec = weights.get(name);
    if (!spec) throw new RangeError(`bakedWeights: ${weights.description} has no ${name}`);
    const w = await readWeight(spec, root);
    if (w.length !== delta.length) throw new RangeError(`bakedWeights: ${name} has ${w.length} values, the update ${delta.length}`);
    for (let i = 0; i < w.length; i++) w[i]! += delta[i]!;
    baked.set(name, { dtype: 'float32', shape: spec.shape, values: w });
  }
  return { description: `${weights.description} with ${baked.size} LoRA-baked weights`, get: (n) => baked.get(n) ?? weights.get(n) };
}
