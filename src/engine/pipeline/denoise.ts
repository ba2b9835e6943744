/**
 * The pieces of the sampling loop that touch latents: per-image seeded noise and
 * schedulers, the batched UNet input [uncond x count, cond x count], the
 * classifier-free guidance combination, diffusers-style progress counting, and VAE
 * decoding one image at a time.
 *
 * @example
 *   const batch = startLatents({ seeds: [7, 8], schedulerConfig, scheduler: 'euler-a', steps: 20, perImage: 4 * 64 * 64 });
 *   const sample = unetSample(batch, t, true);     // [4, 4, 64, 64]: the two latents twice
 *   stepAll(batch, t, guided(out, 2, perImage, 7.5));
 */
import { floatToHalf } from '../weights/dtype.ts';
import { asFloat32, tensor, type Session } from '../runtime/index.ts';
import { tensorToImages, type RawImage } from '../image/index.ts';
import { createRandom, type Random } from './random.ts';
import { createScheduler, type Scheduler, type SchedulerConfig } from './schedulers/index.ts';

/** One scheduler, generator and latent per image of the batch. */
export interface LatentBatch {
  schedulers: Scheduler[];
  rngs: Random[];
  latents: Float32Array[];
  perImage: number;
}

export interface StartOptions {
  seeds: readonly number[];
  schedulerConfig: SchedulerConfig;
  scheduler: string;
  steps: number;
  /** latent channels * h * w. */
  perImage: number;
}

/** Fresh schedulers with their timesteps set, and initial latents N(0, 1) * initNoiseSigma from each image's seed. */
export function startLatents(o: StartOptions): LatentBatch {
  const schedulers = o.seeds.map(() => {
    const s = createScheduler(o.schedulerConfig, o.scheduler);
    s.setTimesteps(o.steps);
    return s;
  });
  const rngs = o.seeds.map((seed) => createRandom(seed));
  const latents = rngs.map((r, i) => {
    const sigma = schedulers[i]!.initNoiseSigma;
    return r.normals(o.perImage).map((v) => v * sigma);
  });
  return { schedulers, rngs, latents, perImage: o.perImage };
}

/** The UNet's `sample`: each latent scaled for timestep t, the batch twice over (uncond, cond) with guidance. */
export function unetSample(b: LatentBatch, t: number, guidance: boolean): Float32Array {
  const n = b.latents.length;
  const out = new Float32Array((guidance ? 2 : 1) * n * b.perImage);
  b.latents.forEach((x, k) => {
    const scaled = b.schedulers[k]!.scaleModelInput(x, t);
    out.set(scaled, k * b.perImage);
    if (guidance) out.set(scaled, (n + k) * b.perImage);
  });
  return out;
}

/** Per image: uncond + g * (cond - uncond) from a [uncond x n, cond x n] UNet output, or the output as is without guidance. */
export function guided(out: Float32Array, n: number, perImage: number, g: number | null): Float32Array[] {
  return Array.from({ length: n }, (_, k) => {
    const cond = out.subarray((g === null ? k : n + k) * perImage, (g === null ? k + 1 : n + k + 1) * perImage);
    if (g === null) return Float32Array.from(cond);
    const uncond = out.subarray(k * perImage, (k + 1) * perImage);
    const eps = new Float32Array(perImage);
    for (let i = 0; i < perImage; i++) eps[i] = uncond[i]! + g * (cond[i]! - uncond[i]!);
    return eps;
  });
}

/** One scheduler step per image; ancestral schedulers draw from that image's generator. */
export function stepAll(b: LatentBatch, t: number, eps: readonly Float32Array[]): void {
  b.latents = b.latents.map((x, k) => b.schedulers[k]!.step(eps[k]!, t, x, b.rngs[k]!.normal).prevSample);
}

/**
 * Counts progress steps as diffusers' progress bar does: PNDM's extra warm-up
 * evaluation and Heun's second evaluation per step are not steps of their own, so
 * the callback fires exactly `steps` times for every scheduler.
 */
export function progressCounter(timesteps: number, steps: number, order: number): (index: number) => boolean {
  const warmup = Math.max(timesteps - steps * order, 0);
  return (i) => i === timesteps - 1 || (i + 1 > warmup && (i + 1) % order === 0);
}

export interface DecodeOptions {
  vae: Session;
  dtype: 'float32' | 'float16';
  scalingFactor: number;
  shiftFactor: number | null;
  channels: number;
  h: number;
  w: number;
}

/** latent / scaling_factor (+ shift_factor) -> VAE decoder -> 8-bit RGB, one image per run. */
export async function decodeLatent(latent: Float32Array, o: DecodeOptions): Promise<RawImage> {
  const shift = o.shiftFactor ?? 0;
  const z = latent.map((v) => v / o.scalingFactor + shift);
  const dims = [1, o.channels, o.h, o.w];
  const input = o.dtype === 'float16' ? tensor('float16', Uint16Array.from(z, floatToHalf), dims) : tensor('float32', z, dims);
  const out = (await o.vae.run({ latent_sample: input }, ['sample'])).sample!;
  return tensorToImages(asFloat32(out), out.dims)[0]!;
}
