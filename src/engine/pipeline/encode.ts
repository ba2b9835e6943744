/**
 * Images -> latents through the VAE encoder: resized to cover the size and centre
 * cropped, scaled to [-1, 1], encoded, and the posterior mean taken (deterministic),
 * then (mean - shift_factor) * scaling_factor, the inverse of what `decodeLatent`
 * does. The encoder session is built once per model and cached with the others.
 *
 * @example
 *   const latents = await encodeImages(pipe.model, ['corgi1.png', 'corgi2.png'], 512, 512);
 *   latents[0].length;    // 4 * 64 * 64
 */
import { ZipbankError } from '../../errors/index.ts';
import { imageToTensor } from '../image/index.ts';
import { buildVaeEncoderGraph } from '../models/vae/graph.ts';
import { asFloat32, tensor, type Session } from '../runtime/index.ts';
import { floatToHalf } from '../weights/dtype.ts';
import type { PipelineModel } from './model.ts';

const encoders = new WeakMap<PipelineModel, Promise<Session>>();

function encoderSession(m: PipelineModel): Promise<Session> {
  let p = encoders.get(m);
  if (!p) {
    const vae = m.folder.components.vae;
    if (!vae) throw new ZipbankError('pipeline.missing-part', { folder: m.folder.root, part: 'vae/', reason: 'is needed to encode images' });
    const model = buildVaeEncoderGraph(m.folder.configs.vae!, { weights: vae.weights, dtype: m.vaeDtype }).model;
    p = m.cache.get({ model, name: 'vae_encoder', externalDataDir: m.folder.root }, m.sessionOptions);
    encoders.set(m, p);
    p.catch(() => encoders.delete(m));
  }
  return p;
}

/** One latent [channels * h/f * w/f] per image. */
export async function encodeImages(m: PipelineModel, images: readonly (string | Buffer)[], width: number, height: number): Promise<Float32Array[]> {
  if (width % m.vaeFactor || height % m.vaeFactor) {
    throw new ZipbankError('pipeline.bad-option', { option: 'size', value: `${width}x${height}`, expected: `multiples of ${m.vaeFactor}` });
  }
  const session = await encoderSession(m);
  const out: Float32Array[] = [];
  const shift = m.shiftFactor ?? 0;
  for (const img of images) {
    const x = await imageToTensor(img, width, height);
    const dims = [1, 3, height, width];
    const input = m.vaeDtype === 'float16' ? tensor('float16', Uint16Array.from(x, floatToHalf), dims) : tensor('float32', x, dims);
    const moments = asFloat32((await session.run({ sample: input }, ['moments'])).moments!);
    const n = m.latentChannels * (height / m.vaeFactor) * (width / m.vaeFactor);
    const mean = moments.subarray(0, n);
    out.push(Float32Array.from(mean, (v) => (v - shift) * m.scalingFactor));
  }
  return out;
}

/** Dispose the cached VAE encoder session of a model (its arena holds full-resolution activations). */
export async function releaseEncoder(m: PipelineModel): Promise<void> {
  const p = encoders.get(m);
  encoders.delete(m);
  const s = p ? await p.catch(() => undefined) : undefined;
  if (s) await m.cache.evict(s);
}
