/**
 * Test support: finite-difference checks of gradient graphs. The check compares
 * directional derivatives: for seeded random directions v over every requested
 * tensor, <grad, v> from the gradient graph against the central difference
 * (L(x + eps v) - L(x - eps v)) / (2 eps) of the same graph's loss. float32 on CPU.
 */
import { buildGradientGraph, type GradientOptions } from '../../../../src/engine/onnx/autodiff/index.ts';
import { liftInitializers, readTensorValues, dtypeFromOnnx, type OnnxModel } from '../../../../src/engine/onnx/index.ts';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { asFloat32, createSession, tensor, type Feeds, type HostTensor } from '../../../../src/engine/runtime/index.ts';

export interface GradCheckOptions extends Omit<GradientOptions, 'wrt'> {
  /** Graph inputs and/or initializers. */
  wrt: readonly string[];
  feeds: Feeds;
  /** Number of random directions. Default 3. */
  directions?: number;
  /** Step. Default 1e-2 (float32: truncation ~eps^2, rounding ~1e-7 |L| / eps). */
  eps?: number;
  seed?: number;
}

export interface DirectionResult {
  analytic: number;
  numeric: number;
  /** |analytic - numeric| / max(|analytic|, |numeric|, floor). */
  error: number;
}

export interface GradCheckResult {
  directions: DirectionResult[];
  worst: number;
  gradients: Record<string, Float32Array>;
  loss: number;
  nodes: number;
  differentiated: number;
}

/** Run the check; `worst` is the largest relative error over the directions. */
export async function gradCheck(model: OnnxModel, o: GradCheckOptions): Promise<GradCheckResult> {
  const inits = new Set(model.graph.initializer.map((t) => t.name));
  const lift = o.wrt.filter((w) => inits.has(w));
  const { model: lifted, lifted: tensors } = liftInitializers(model, lift);
  const feeds: Feeds = { ...o.feeds };
  for (const t of tensors) {
    const dtype = dtypeFromOnnx(t.dataType);
    if (dtype !== 'float32') throw new Error(`gradCheck: ${t.name} is ${dtype}`);
    feeds[t.name!] = tensor('float32', Float32Array.from(readTensorValues(t)), t.dims.map(Number));
  }
  const grad = buildGradientGraph(lifted, { ...o, wrt: o.wrt, keepOutputs: false });
  const session = await createSession({ model: grad.model, name: 'gradcheck' }, { provider: 'cpu' });
  try {
    const run = async (f: Feeds) => session.run(f);
    const base = await run(feeds);
    const gradients = Object.fromEntries(o.wrt.map((w) => [w, asFloat32(base[grad.gradients[w]!]!)]));
    const rng = createRandom(o.seed ?? 7);
    const eps = o.eps ?? 1e-2;
    const results: DirectionResult[] = [];
    for (let d = 0; d < (o.directions ?? 3); d++) {
      const dirs = Object.fromEntries(o.wrt.map((w) => [w, rng.normals(gradients[w]!.length)]));
      const shifted = (sign: number): Feeds => {
        const f: Feeds = { ...feeds };
        for (const w of o.wrt) {
          const x = asFloat32(feeds[w] as HostTensor);
          const v = dirs[w]!;
          f[w] = tensor('float32', Float32Array.from(x, (xi, i) => xi + sign * eps * v[i]!), feeds[w]!.dims);
        }
        return f;
      };
      const lp = asFloat32((await run(shifted(1)))[o.loss]!)[0]!;
      const lm = asFloat32((await run(shifted(-1)))[o.loss]!)[0]!;
      const numeric = (lp - lm) / (2 * eps);
      let analytic = 0;
      for (const w of o.wrt) {
        const gw = gradients[w]!;
        const v = dirs[w]!;
        for (let i = 0; i < gw.length; i++) analytic += gw[i]! * v[i]!;
      }
      const scale = Math.max(Math.abs(analytic), Math.abs(numeric), 1e-3);
      results.push({ analytic, numeric, error: Math.abs(analytic - numeric) / scale });
    }
    return {
      directions: results,
      worst: Math.max(...results.map((r) => r.error)),
      gradients,
      loss: asFloat32(base[o.loss]!)[0]!,
      nodes: lifted.graph.node.length,
      differentiated: grad.differentiated,
    };
  } finally {
    await session.dispose();
  }
}

/** Seeded float32 feed. */
export function randomFeed(shape: readonly number[], seed: number, scale = 1, offset = 0): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = createRandom(seed).normals(n);
  for (let i = 0; i < n; i++) v[i] = v[i]! * scale + offset;
  return tensor('float32', v, shape);
}
