/**
 * Test support: finite-difference checks of gradient graphs. The check compares
 * directional derivatives: for seeded random directions v over every requested
 * tensor, <grad, v> from the gradient graph against the central difference
 * (L(x + eps v) - L(x - eps v)) / (2 eps) of the same graph's loss (Richardson-extrapolated
 * from eps and eps/2), each tensor's
 * direction scaled by its RMS (relative steps). float32 on CPU.
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
  /** Step. Default 1e-2 of each tensor's RMS; the difference is Richardson-extrapolated from eps and eps/2. */
  eps?: number;
  seed?: number;
}

export interface DirectionResult {
  analytic: number;
  numeric: number;
  /** |analytic - numeric| / max(|analytic|, |numeric|, floor), floor = max(1e-3, 0.1 * the check's largest |analytic|). */
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
      // Each tensor's direction is scaled by the tensor's RMS, so every tensor moves by ~eps of its own size.
      const dirs = Object.fromEntries(
        o.wrt.map((w) => {
          const x = asFloat32(feeds[w] as HostTensor);
          let ss = 0;
          for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
          const rms = Math.sqrt(ss / Math.max(1, x.length)) || 1;
          return [w, rng.normals(gradients[w]!.length).map((v) => v * rms)];
        }),
      );
      const shifted = (step: number): Feeds => {
        const f: Feeds = { ...feeds };
        for (const w of o.wrt) {
          const x = asFloat32(feeds[w] as HostTensor);
          const v = dirs[w]!;
          f[w] = tensor('float32', Float32Array.from(x, (xi, i) => xi + step * v[i]!), feeds[w]!.dims);
        }
        return f;
      };
      const lossAt = async (step: number) => asFloat32((await run(shifted(step)))[o.loss]!)[0]!;
      const central = async (h: number) => ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
      // Richardson extrapolation of two central differences: truncation error O(eps^4).
      const numeric = (4 * (await central(eps / 2)) - (await central(eps))) / 3;
      let analytic = 0;
      for (const w of o.wrt) {
        const gw = gradients[w]!;
        const v = dirs[w]!;
        for (let i = 0; i < gw.length; i++) analytic += gw[i]! * v[i]!;
      }
      results.push({ analytic, numeric, error: 0 });
    }
    // Error relative to the larger value, with a floor of a tenth of the largest directional
    // derivative of the check (a direction nearly orthogonal to the gradient measures only rounding).
    const floor = Math.max(1e-3, 0.1 * Math.max(...results.map((r) => Math.abs(r.analytic))));
    for (const r of results) r.error = Math.abs(r.analytic - r.numeric) / Math.max(Math.abs(r.analytic), Math.abs(r.numeric), floor);
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
