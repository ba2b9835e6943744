/**
 * A small multi-head image classifier, built, trained and run on our engine: a
 * convolutional trunk (3x3 convs, GroupNorm, ReLU, stride-2 down-sampling, global
 * average pool) with one linear head per question (which subject class, which
 * instance, which style, which context). Training minimises the sum of the heads'
 * cross-entropies with Adam (GraphTrainer). Saved as a folder: `config.json` (the
 * heads and their labels) and `model.safetensors`.
 *
 * These are the measuring instruments of the world (the paper's DINO / CLIP-I /
 * CLIP-T equivalents): what fraction of generated images show the right subject,
 * style, context.
 *
 * @example
 *   const spec = { size: 64, heads: [{ name: 'style', labels: ['flat', 'sketch'] }] };
 *   const t = await ClassifierTrainer.create(spec, { batch: 64, lr: 1e-3, seed: 1 });
 *   await t.step(pixels, [{ style: 1 }, ...]);
 *   await t.save('models/world/classifier');
 *   const c = await Classifier.load('models/world/classifier');
 *   (await c.classify(images))[0].style;   // probabilities per label
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.ts';
import { memoryWeights, type InitializerSpec } from '../onnx/external.ts';
import { ModelExtension } from '../onnx/extend.ts';
import { add, gemm, mul, reduceMean, reduceSum, relu } from '../onnx/ops/math.ts';
import { conv, groupNorm } from '../onnx/ops/nn.ts';
import type { OnnxModel } from '../onnx/types.ts';
import type { Value } from '../onnx/value.ts';
import { createRandom } from '../pipeline/random.ts';
import { asFloat32, createSession, tensor, type Session } from '../runtime/index.ts';
import { SafetensorsFile, encodeSafetensors } from '../weights/safetensors.ts';
import type { RawImage } from '../image/index.ts';
import type { Checkpoint } from './checkpoint.ts';
import { GraphTrainer } from './trainer.ts';

export interface ClassifierHead {
  name: string;
  labels: string[];
}

export interface ClassifierSpec {
  /** Square input size in pixels. */
  size: number;
  heads: ClassifierHead[];
  /** Trunk: channels per stage; every stage after the first halves the resolution. Default [32, 32, 64, 128, 128]. */
  channels?: number[];
  /**
   * 3x3 conv + GroupNorm + ReLU layers per stage (the first one strides): one number
   * for every stage, or one per stage (extra layers are cheap at the low-resolution
   * stages, where shape is recognised). Default 1.
   */
  depth?: number | number[];
}

export const DEFAULT_CHANNELS = [32, 32, 64, 128, 128];
const GROUPS = 8;

interface ParamShape {
  name: string;
  shape: number[];
}

/** Scope of layer `j` of stage `i` (layer 0 keeps the names of depth-1 classifiers). */
function layerName(i: number, j: number): string {
  return j === 0 ? `trunk.${i}` : `trunk.${i}.${j}`;
}

/** Layers of each stage. */
function depthsOf(spec: ClassifierSpec): number[] {
  const stages = (spec.channels ?? DEFAULT_CHANNELS).length;
  const d = spec.depth ?? 1;
  const list = typeof d === 'number' ? Array.from({ length: stages }, () => d) : d;
  if (list.length !== stages) throw new RangeError(`classifier: depth lists ${list.length} stages but channels has ${stages}; give one depth per stage`);
  for (const x of list) if (!Number.isInteger(x) || x < 1 || x > 8) throw new RangeError(`classifier: depth ${x} must be an integer from 1 to 8`);
  return list;
}

function paramShapes(spec: ClassifierSpec): ParamShape[] {
  const ch = spec.channels ?? DEFAULT_CHANNELS;
  const depths = depthsOf(spec);
  const out: ParamShape[] = [];
  let prev = 3;
  ch.forEach((c, i) => {
    for (let j = 0; j < depths[i]!; j++) {
      const n = layerName(i, j);
      out.push({ name: `${n}.conv.weight`, shape: [c, prev, 3, 3] }, { name: `${n}.conv.bias`, shape: [c] });
      out.push({ name: `${n}.norm.weight`, shape: [c] }, { name: `${n}.norm.bias`, shape: [c] });
      prev = c;
    }
  });
  for (const h of spec.heads) out.push({ name: `head.${h.name}.weight`, shape: [prev, h.labels.length] }, { name: `head.${h.name}.bias`, shape: [h.labels.length] });
  return out;
}

/** Seeded initial weights: convs and heads uniform in ±1/sqrt(fan_in) (scaled for ReLU), norms at 1 / 0. */
export function initClassifier(spec: ClassifierSpec, seed: number): Map<string, Float32Array> {
  const r = createRandom(seed);
  const w = new Map<string, Float32Array>();
  for (const p of paramShapes(spec)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (p.name.endsWith('norm.weight')) v.fill(1);
    else if (p.name.endsWith('.weight')) {
      const fanIn = p.name.startsWith('head.') ? p.shape[0]! : p.shape.slice(1).reduce((a, b) => a * b, 1);
      const bound = Math.sqrt(6 / fanIn);
      for (let i = 0; i < n; i++) v[i] = (r.uniform() * 2 - 1) * bound;
    }
    w.set(p.name, v);
  }
  return w;
}

function weightSource(spec: ClassifierSpec, w: ReadonlyMap<string, Float32Array>) {
  const specs: Record<string, InitializerSpec> = {};
  for (const p of paramShapes(spec)) specs[p.name] = { dtype: 'float32', shape: p.shape, values: w.get(p.name) ?? new Float32Array(p.shape.reduce((a, b) => a * b, 1)) };
  return memoryWeights(specs, 'classifier weights');
}

/** Inference graph: input `image` [B, 3, S, S] in [-1, 1]; outputs `logits.<head>` [B, K]. */
export function buildClassifierGraph(spec: ClassifierSpec, w: ReadonlyMap<string, Float32Array>, batch: number | string = 'batch'): { model: OnnxModel; logits: Value[] } {
  const g = new GraphBuilder('classifier', { weights: weightSource(spec, w) });
  const x = g.input('image', 'float32', [batch, 3, spec.size, spec.size]);
  const ch = spec.channels ?? DEFAULT_CHANNELS;
  const depths = depthsOf(spec);
  let h = x;
  ch.forEach((_, i) => {
    for (let j = 0; j < depths[i]!; j++) {
      h = g.scope(layerName(i, j), () => {
        const c = g.scope('conv', () => conv(h, g.param('weight'), g.param('bias'), { pads: 1, strides: i > 0 && j === 0 ? 2 : 1 }));
        const n = g.scope('norm', () => groupNorm(c, GROUPS, g.param('weight'), g.param('bias')));
        return relu(n);
      });
    }
  });
  const pooled = reduceMean(h, [2, 3], false);
  const logits = spec.heads.map((hd) => g.output(g.scope(`head.${hd.name}`, () => gemm(pooled, g.param('weight'), g.param('bias'))), `logits.${hd.name}`));
  return { model: g.build(), logits };
}

/** Training graph: adds inputs `label.<head>` (one-hot [B, K]) and the loss Σ_heads mean_b CE. */
function buildTrainingGraph(spec: ClassifierSpec, w: ReadonlyMap<string, Float32Array>, batch: number): OnnxModel {
  const { model } = buildClassifierGraph(spec, w, batch);
  const e = new ModelExtension(model, { name: 'classifier_train' });
  let loss: Value | undefined;
  for (const hd of spec.heads) {
    const logits = e.ref(`logits.${hd.name}`);
    const onehot = e.g.input(`label.${hd.name}`, 'float32', [batch, hd.labels.length]);
    const logp = e.g.op('LogSoftmax', [logits], { axis: 1 }, { output: { shape: logits.shape } });
    const ce = mul(reduceMean(reduceSum(mul(onehot, logp), [1], false), [0], false), -1);
    loss = loss ? add(loss, ce) : ce;
  }
  return e.finish({ outputs: [{ value: loss!, name: 'loss' }], keepOutputs: spec.heads.map((h) => `logits.${h.name}`) });
}

/** Images -> [n, 3, S, S] in [-1, 1] (RGB uint8 HWC input of exactly S x S). */
export function imagesToTensor(images: readonly RawImage[], size: number): Float32Array {
  const plane = size * size;
  const out = new Float32Array(images.length * 3 * plane);
  images.forEach((im, b) => {
    if (im.width !== size || im.height !== size) throw new RangeError(`classifier: image ${b} is ${im.width}x${im.height}, the classifier takes ${size}x${size}`);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[b * 3 * plane + c * plane + i] = (im.data[i * 3 + c]! / 255) * 2 - 1;
  });
  return out;
}

/** Labels per sample: head name -> label index. */
export type Labels = Record<string, number>;

export class ClassifierTrainer {
  private constructor(
    readonly spec: ClassifierSpec,
    readonly batch: number,
    private readonly trainer: GraphTrainer,
  ) {}

  static async create(spec: ClassifierSpec, o: { batch: number; lr: number; seed: number; weights?: Map<string, Float32Array> }): Promise<ClassifierTrainer> {
    const w = o.weights ?? initClassifier(spec, o.seed);
    const model = buildTrainingGraph(spec, w, o.batch);
    const trainer = await GraphTrainer.create({ model, trainable: w, inputShapes: {}, adam: { lr: o.lr }, name: 'classifier-train' });
    return new ClassifierTrainer(spec, o.batch, trainer);
  }

  get weights(): ReadonlyMap<string, Float32Array> {
    return this.trainer.params;
  }

  get updates(): number {
    return this.trainer.updates;
  }

  /** One update on a batch: pixels [B, 3, S, S] in [-1, 1] and labels per sample. Returns the loss and the batch accuracy per head. */
  async step(pixels: Float32Array, labels: readonly Labels[], lr?: number): Promise<{ loss: number; accuracy: Record<string, number> }> {
    const B = this.batch;
    if (labels.length !== B) throw new RangeError(`ClassifierTrainer: ${labels.length} labels for a batch of ${B}`);
    const feeds: Record<string, ReturnType<typeof tensor>> = { image: tensor('float32', pixels, [B, 3, this.spec.size, this.spec.size]) };
    for (const hd of this.spec.heads) {
      const k = hd.labels.length;
      const oh = new Float32Array(B * k);
      labels.forEach((l, b) => {
        const y = l[hd.name];
        if (y === undefined || y < 0 || y >= k) throw new RangeError(`ClassifierTrainer: sample ${b} has no valid ${hd.name} label (${y})`);
        oh[b * k + y] = 1;
      });
      feeds[`label.${hd.name}`] = tensor('float32', oh, [B, k]);
    }
    const r = await this.trainer.compute(feeds);
    this.trainer.apply(r.grads, lr);
    const accuracy: Record<string, number> = {};
    for (const hd of this.spec.heads) {
      const lg = asFloat32(r.outputs[`logits.${hd.name}`]!);
      accuracy[hd.name] = labels.filter((l, b) => argmax(lg.subarray(b * hd.labels.length, (b + 1) * hd.labels.length)) === l[hd.name]).length / B;
    }
    return { loss: r.loss, accuracy };
  }

  async save(dir: string): Promise<void> {
    await saveClassifier(dir, this.spec, this.trainer.params);
  }

  /** Weights + optimiser state, for `saveCheckpoint`. */
  checkpoint(meta: Record<string, unknown> = {}): Checkpoint {
    return this.trainer.checkpoint(meta);
  }

  restore(c: Checkpoint): void {
    this.trainer.restore(c);
  }

  async close(): Promise<void> {
    await this.trainer.close();
  }
}

export async function saveClassifier(dir: string, spec: ClassifierSpec, w: ReadonlyMap<string, Float32Array>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors = paramShapes(spec).map((p) => {
    const v = w.get(p.name)!;
    return { name: p.name, dtype: 'F32' as const, shape: p.shape, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
  });
  const file = join(dir, 'model.safetensors');
  await writeFile(`${file}.partial`, encodeSafetensors(tensors, { format: 'zipbank-classifier-1' }));
  await rename(`${file}.partial`, file);
  await writeFile(join(dir, 'config.json'), `${JSON.stringify({ size: spec.size, channels: spec.channels ?? DEFAULT_CHANNELS, ...(depthsOf(spec).some((d) => d > 1) ? { depth: spec.depth } : {}), heads: spec.heads }, null, 2)}\n`);
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

function softmaxRow(v: Float32Array): Float32Array {
  let m = -Infinity;
  for (const x of v) m = Math.max(m, x);
  const out = Float32Array.from(v, (x) => Math.exp(x - m));
  const s = out.reduce((a, b) => a + b, 0);
  for (let i = 0; i < out.length; i++) out[i]! /= s;
  return out;
}

export type Prediction = Record<string, Float32Array>;

/** A trained classifier, ready to classify images. */
export class Classifier {
  private constructor(
    readonly spec: ClassifierSpec,
    private readonly session: Session,
    private readonly w: ReadonlyMap<string, Float32Array>,
  ) {}

  static async load(dir: string): Promise<Classifier> {
    const spec = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as ClassifierSpec;
    const f = await SafetensorsFile.open(join(dir, 'model.safetensors'));
    const w = new Map<string, Float32Array>();
    try {
      for (const p of paramShapes(spec)) w.set(p.name, await f.readFloat32(p.name));
    } finally {
      await f.close();
    }
    return Classifier.fromWeights(spec, w);
  }

  static async fromWeights(spec: ClassifierSpec, w: ReadonlyMap<string, Float32Array>): Promise<Classifier> {
    const { model } = buildClassifierGraph(spec, w);
    return new Classifier(spec, await createSession({ model, name: 'classifier' }), new Map([...w].map(([k, v]) => [k, v.slice()])));
  }

  /** A copy of the weights (to train further). */
  async weights(): Promise<Map<string, Float32Array>> {
    return new Map([...this.w].map(([k, v]) => [k, v.slice()]));
  }

  /** Probabilities per head for each image (any count; run in chunks of 64). */
  async classify(images: readonly RawImage[]): Promise<Prediction[]> {
    const out: Prediction[] = [];
    const S = this.spec.size;
    for (let k = 0; k < images.length; k += 64) {
      const chunk = images.slice(k, k + 64);
      const r = await this.session.run({ image: tensor('float32', imagesToTensor(chunk, S), [chunk.length, 3, S, S]) });
      chunk.forEach((_, b) => {
        const p: Prediction = {};
        for (const hd of this.spec.heads) {
          const k2 = hd.labels.length;
          p[hd.name] = softmaxRow(asFloat32(r[`logits.${hd.name}`]!).slice(b * k2, (b + 1) * k2));
        }
        out.push(p);
      });
    }
    return out;
  }

  /** The most likely label of `head` for a prediction. */
  label(p: Prediction, head: string): string {
    const hd = this.spec.heads.find((h) => h.name === head);
    if (!hd) throw new RangeError(`classifier: no head ${head} (heads: ${this.spec.heads.map((h) => h.name).join(', ')})`);
    return hd.labels[argmax(p[head]!)]!;
  }

  async close(): Promise<void> {
    await this.session.dispose();
  }
}
