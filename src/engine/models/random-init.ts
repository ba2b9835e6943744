/**
 * Seeded random initial values for an architecture's tensors, at scales that keep
 * activations finite through deep networks (PyTorch's default layer init):
 * Linear/Conv weights and biases uniform in ±1/sqrt(fan_in), embeddings with
 * std 0.02. Norm weights are 1 ± 0.1 and norm biases ±0.1 (uniform) rather than
 * PyTorch's exact 1 and 0, so tests against a reference implementation notice a
 * missing or swapped norm scale or offset. Each tensor draws from its own
 * generator, seeded from (seed, component, tensor name), so values do not depend
 * on file order and a tensor can be produced in chunks.
 *
 * @example
 *   const weights = randomWeights(clipTextParams(cfg), { seed: 1, component: 'text_encoder' });
 *   const { model } = buildClipTextGraph(cfg, { weights });
 */
import { createHash } from 'node:crypto';
import { createRandom } from '../pipeline/random.ts';
import { floatToHalf } from '../weights/dtype.ts';
import { memoryWeights, type WeightSource } from '../onnx/external.ts';
import { numel, type ParamSpec } from './params.ts';

/** How one tensor is filled: uniform in center ± bound (center 0 unless given), or zeros. */
export type InitRule = { kind: 'zeros' } | { kind: 'uniform'; bound: number; center?: number };

const EMBEDDING_STD = 0.02;
/** Half-width of the noise on norm scales (around 1) and offsets (around 0). */
const NORM_NOISE = 0.1;

/** The fill rule of every spec, by name. */
export function initRules(specs: readonly ParamSpec[]): Map<string, InitRule> {
  const byName = new Map(specs.map((s) => [s.name, s.shape]));
  const rules = new Map<string, InitRule>();
  for (const { name, shape } of specs) rules.set(name, ruleFor(name, shape, byName));
  return rules;
}

function ruleFor(name: string, shape: readonly number[], byName: ReadonlyMap<string, readonly number[]>): InitRule {
  const dot = name.lastIndexOf('.');
  const module = name.slice(0, dot);
  const leaf = name.slice(dot + 1);
  if (leaf === 'weight') {
    if (shape.length === 1) return { kind: 'uniform', bound: NORM_NOISE, center: 1 };
    if (module.endsWith('_embedding')) return { kind: 'uniform', bound: EMBEDDING_STD * Math.sqrt(3) };
    return { kind: 'uniform', bound: 1 / Math.sqrt(numel(shape.slice(1))) };
  }
  if (leaf === 'bias') {
    const weight = byName.get(`${module}.weight`);
    if (!weight) return { kind: 'zeros' };
    if (weight.length === 1) return { kind: 'uniform', bound: NORM_NOISE };
    return { kind: 'uniform', bound: 1 / Math.sqrt(numel(weight.slice(1))) };
  }
  return { kind: 'zeros' };
}

/** The 64-bit generator seed of one tensor. */
export function tensorSeed(seed: number | bigint, component: string, name: string): bigint {
  return createHash('sha256').update(`${String(seed)}\0${component}\0${name}`).digest().readBigUInt64LE(0);
}

/** The values of a tensor in order, `chunk` at a time (the yielded array is reused: consume it before the next step). */
export function* tensorChunks(rule: InitRule, seed: bigint, count: number, chunk = 1 << 20): Generator<Float32Array> {
  const buf = new Float32Array(Math.min(chunk, Math.max(count, 1)));
  const rng = rule.kind === 'uniform' ? createRandom(seed) : undefined;
  const bound = rule.kind === 'uniform' ? rule.bound : 0;
  const low = (rule.kind === 'uniform' ? (rule.center ?? 0) : 0) - bound;
  const scale = (2 * bound) / 4294967296;
  for (let done = 0; done < count; ) {
    const n = Math.min(buf.length, count - done);
    const view = n === buf.length ? buf : buf.subarray(0, n);
    if (rng) for (let i = 0; i < n; i++) view[i] = rng.uint32() * scale + low;
    else view.fill(0);
    yield view;
    done += n;
  }
}

/** Little-endian bytes of float values as F32 (a view of `values`: Node runs on little-endian CPUs) or F16 (a new array). */
export function floatBytes(values: Float32Array, dtype: 'F32' | 'F16'): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 2);
  for (let i = 0, j = 0; i < values.length; i++, j += 2) {
    const h = floatToHalf(values[i]!);
    out[j] = h & 0xff;
    out[j + 1] = h >>> 8;
  }
  return out;
}

/** All values of one tensor (small tensors and tests). */
export function randomTensor(spec: ParamSpec, rule: InitRule, seed: number | bigint, component: string): Float32Array {
  const out = new Float32Array(numel(spec.shape));
  let at = 0;
  for (const v of tensorChunks(rule, tensorSeed(seed, component, spec.name), out.length)) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}

export interface RandomWeightsOptions {
  seed?: number | bigint;
  /** Mixed into each tensor's seed, e.g. 'text_encoder'. Default ''. */
  component?: string;
  /** Stored type. Default 'float32'. */
  dtype?: 'float32' | 'float16';
}

/** In-memory random weights for every spec (the same values `writeRandomModel` writes for that component and seed). */
export function randomWeights(specs: readonly ParamSpec[], o: RandomWeightsOptions = {}): WeightSource {
  const rules = initRules(specs);
  const dtype = o.dtype ?? 'float32';
  const out: Parameters<typeof memoryWeights>[0] = {};
  for (const s of specs) {
    const values = randomTensor(s, rules.get(s.name)!, o.seed ?? 0, o.component ?? '');
    out[s.name] = { dtype, shape: s.shape, raw: floatBytes(values, dtype === 'float32' ? 'F32' : 'F16') };
  }
  return memoryWeights(out, `random weights (seed ${String(o.seed ?? 0)})`);
}
