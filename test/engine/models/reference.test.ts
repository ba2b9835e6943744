/**
 * Our UNet, CLIP text and VAE graphs against the reference implementation
 * (diffusers 0.27.2 / transformers 4.38, float32 on CPU), on the tiny presets with
 * weights from the product's own generator. The fixtures are written by
 * tools/reference/run_reference.py (see tools/reference/README.md): inputs, outputs
 * and the SHA-256 of each weight file the reference ran on, which this test
 * regenerates byte for byte before comparing.
 *
 * Tolerance: max|ours - reference| <= 1e-4 * max|reference| per output. The
 * reference's own float32-vs-float64 deviation (stored in the fixtures) is ~2e-6 and
 * the outputs are stored with 7 significant digits.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClipTextGraph } from '../../../src/engine/models/clip/graph.ts';
import type { ComponentKey } from '../../../src/engine/models/config.ts';
import { openModelFolder, type ModelFolder } from '../../../src/engine/models/load.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { buildUNetGraph } from '../../../src/engine/models/unet/graph.ts';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from '../../../src/engine/models/vae/graph.ts';
import type { OnnxModel } from '../../../src/engine/onnx/types.ts';
import { asFloat32, createSession, tensor, type Feeds, type HostTensor } from '../../../src/engine/runtime/index.ts';

const RELATIVE_TOLERANCE = 1e-4;

interface StoredArray {
  dtype: 'float32' | 'int64';
  shape: number[];
  data: number[];
}

interface StoredComponent {
  class: string;
  inputs: Record<string, StoredArray>;
  outputs: Record<string, StoredArray>;
  float32_vs_float64_rel: Record<string, number>;
}

interface Fixture {
  format: string;
  preset: string;
  seed: number;
  reference: Record<string, string>;
  weights: Record<string, string>;
  components: Record<string, StoredComponent>;
}

async function loadFixture(preset: string): Promise<Fixture> {
  const file = new URL(`../../fixtures/reference/${preset}.json`, import.meta.url);
  return JSON.parse(await readFile(file, 'utf8')) as Fixture;
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

const f32 = (a: StoredArray): HostTensor => tensor('float32', Float32Array.from(a.data), a.shape);
const i32 = (a: StoredArray): HostTensor => tensor('int32', Int32Array.from(a.data), a.shape);

interface Deviation {
  maxAbs: number;
  /** maxAbs / max|reference|. */
  relative: number;
  /** Largest |ours - ref| / |ref| over elements with |ref| >= 1% of max|ref|. */
  elementwise: number;
}

function deviation(ours: Float32Array, ref: StoredArray): Deviation {
  const scale = ref.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let maxAbs = 0;
  let elementwise = 0;
  ref.data.forEach((want, i) => {
    const d = Math.abs(ours[i]! - want);
    maxAbs = Math.max(maxAbs, d);
    if (Math.abs(want) >= 0.01 * scale) elementwise = Math.max(elementwise, d / Math.abs(want));
  });
  return { maxAbs, relative: maxAbs / scale, elementwise };
}

interface Case {
  /** Fixture component key. */
  key: string;
  component: ComponentKey;
  build(m: ModelFolder): OnnxModel;
  feeds(c: StoredComponent): Feeds;
  /** Our outputs under the fixture's output names. */
  outputs(out: Record<string, HostTensor>): Record<string, Float32Array>;
}

function weightsOf(m: ModelFolder, k: ComponentKey) {
  const c = m.components[k];
  if (!c) throw new Error(`model folder has no ${k}`);
  return c.weights;
}

const clipCase = (key: 'text_encoder' | 'text_encoder_2', component: 'textEncoder' | 'textEncoder2'): Case => ({
  key,
  component,
  build: (m) => buildClipTextGraph(m.configs[component]!, { weights: weightsOf(m, component), name: key }).model,
  feeds: (c) => ({ input_ids: i32(c.inputs.input_ids!) }),
  outputs: (out) => Object.fromEntries(Object.entries(out).map(([k, v]) => [k, asFloat32(v)])),
});

const CASES: Case[] = [
  clipCase('text_encoder', 'textEncoder'),
  clipCase('text_encoder_2', 'textEncoder2'),
  {
    key: 'unet',
    component: 'unet',
    build: (m) => buildUNetGraph(m.configs.unet, { weights: weightsOf(m, 'unet') }).model,
    feeds: (c) => Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, f32(v)])),
    outputs: (out) => ({ out_sample: asFloat32(out.out_sample!) }),
  },
  {
    key: 'vae_decoder',
    component: 'vae',
    build: (m) => buildVaeDecoderGraph(m.configs.vae!, { weights: weightsOf(m, 'vae') }).model,
    feeds: (c) => ({ latent_sample: f32(c.inputs.latent_sample!) }),
    outputs: (out) => ({ sample: asFloat32(out.sample!) }),
  },
  {
    key: 'vae_encoder',
    component: 'vae',
    build: (m) => buildVaeEncoderGraph(m.configs.vae!, { weights: weightsOf(m, 'vae') }).model,
    feeds: (c) => ({ sample: f32(c.inputs.sample!) }),
    outputs: (out) => {
      const moments = asFloat32(out.moments!);
      const half = moments.length / 2;
      return { mean: moments.subarray(0, half), logvar: moments.subarray(half) };
    },
  },
];

describe.each(['tiny-sd15', 'tiny-sdxl'])('%s against diffusers/transformers', (preset) => {
  let fixture: Fixture;
  let dir: string;
  let model: ModelFolder;

  beforeAll(async () => {
    fixture = await loadFixture(preset);
    dir = await mkdtemp(path.join(tmpdir(), `zipbank-ref-${preset}-`));
    await writeRandomModel({ preset, seed: fixture.seed, out: dir });
    model = await openModelFolder(dir);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('regenerates exactly the weights the reference ran on', async () => {
    expect(fixture.format).toBe('zipbank-reference/1');
    expect(fixture.preset).toBe(preset);
    const files = Object.keys(fixture.weights);
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const rel of files) expect({ rel, sha: await sha256(path.join(dir, rel)) }).toEqual({ rel, sha: fixture.weights[rel] });
  });

  it.each(CASES.map((c) => [c.key, c] as const))('%s matches', async (key, c) => {
    const stored = fixture.components[key];
    if (!stored) {
      expect(model.configs[c.component]).toBeUndefined();
      return;
    }
    const session = await createSession({ model: c.build(model), name: `${preset}/${key}`, externalDataDir: model.root }, { provider: 'cpu', intraOpThreads: 1 });
    const ours = c.outputs(await session.run(c.feeds(stored)));
    const report: string[] = [];
    for (const [name, ref] of Object.entries(stored.outputs)) {
      const got = ours[name];
      expect(got, `${key}.${name} is an output`).toBeDefined();
      expect(got!.length).toBe(ref.data.length);
      const d = deviation(got!, ref);
      report.push(`${preset} ${key}.${name}: max abs ${d.maxAbs.toExponential(2)}, rel ${d.relative.toExponential(2)}, elementwise rel ${d.elementwise.toExponential(2)} (reference f32~f64 ${stored.float32_vs_float64_rel[name]?.toExponential(1)})`);
      expect(d.relative, `${key}.${name}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
    }
    console.log(report.join('\n'));
  });
});
