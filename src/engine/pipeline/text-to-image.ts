/**
 * Text-to-image for SD 1.x/2.x- and SDXL-type diffusers models: prompt encoding
 * (see ./conditioning.ts), seeded latents, the scheduler loop with classifier-free
 * guidance (one UNet run per step on the batch [uncond x count, cond x count]; guidance
 * <= 1 skips the uncond half), and VAE decoding. Sessions are built once at `load`
 * and reused by every `generate` (and shared through an injected SessionCache).
 *
 * Reproducibility: image i of a render with seed s uses seed s + i for its initial
 * noise and for the noise ancestral schedulers add; it has its own scheduler, so it
 * equals the image rendered alone with seed s + i. Same seed and settings, same
 * pixels on the same provider.
 *
 * @example
 *   const pipe = await DiffusionPipeline.load('models/sdxl', { device: 'auto' });
 *   const r = await pipe.generate({ prompt: 'a corgi surfing at sunset', seed: 42, steps: 30, count: 2,
 *     scheduler: 'dpm++2m-karras', png: true, onProgress: (step, total) => console.log(`${step}/${total}`) });
 *   r.images[1];            // RawImage of seed 43
 *   r.png![0];              // PNG bytes
 *   r.timings.perStepMs;    // mean UNet step time
 */
import { ZipbankError } from '../../errors/index.ts';
import { encodeImage, type RawImage } from '../image/index.ts';
import type { ComputeDType } from '../models/model-graph.ts';
import { asFloat32, tensor, type Feeds, type Provider, type Session } from '../runtime/index.ts';
import {
  buildConditioning,
  combineEncoderOutputs,
  sdxlTimeIds,
  stackRepeated,
  type Conditioning,
  type EncoderOutput,
  type F32Tensor,
  type PipelineFamily,
  type TimeIdsOptions,
} from './conditioning.ts';
import { decodeLatent, guided, progressCounter, startLatents, stepAll, unetSample } from './denoise.ts';
import { componentSessions, loadPipelineModel, type ComponentSessions, type PipelineLayers, type PipelineLoadOptions, type PipelineModel } from './model.ts';
import { defaultSize, resolveRenderOptions, GUIDANCE_DEFAULTS, RENDER_DEFAULTS, type RenderOptionsInput } from './options.ts';

export type { PipelineLayers, PipelineLoadOptions } from './model.ts';
export type { Conditioning, Embeddings, F32Tensor } from './conditioning.ts';
export { GUIDANCE_DEFAULTS, MAX_COUNT, imageSeed } from './options.ts';

export interface GenerateOptions extends RenderOptionsInput {
  /** Called after each of the `steps` denoising steps with (step, steps), step counting from 1. */
  onProgress?: (step: number, total: number) => void;
  /** Cancels between steps with `pipeline.aborted`. */
  signal?: AbortSignal;
  /** Adapter hooks (LoRA) per component, and the extra inputs they feed. Default none. */
  layers?: PipelineLayers;
  /** Also encode each image as PNG (`result.png`). Default false. */
  png?: boolean;
  /** SDXL micro-conditioning; defaults: original = target = (height, width), crop (0, 0). */
  sdxl?: Omit<TimeIdsOptions, 'width' | 'height'>;
}

export interface GenerateTimings {
  /** Text encoders. */
  encodeMs: number;
  /** The whole scheduler loop. */
  denoiseMs: number;
  /** Mean time of one UNet run (with its scheduler step). */
  perStepMs: number;
  /** UNet runs (PNDM adds one; Heun runs twice per step). */
  unetCalls: number;
  decodeMs: number;
  totalMs: number;
}

export interface GenerateResult {
  images: RawImage[];
  /** PNG bytes per image, with `png: true`. */
  png?: Buffer[];
  /** The base seed; image i used `seeds[i]` = seed + i. */
  seed: number;
  seeds: number[];
  width: number;
  height: number;
  steps: number;
  guidance: number;
  scheduler: string;
  provider: Provider;
  dtype: ComputeDType;
  timings: GenerateTimings;
}

export interface ConditioningOptions {
  prompt: string;
  negativePrompt?: string;
  guidance?: number;
  layers?: PipelineLayers;
}

export interface PipelineDefaults {
  width: number;
  height: number;
  steps: number;
  guidance: number;
  /** The scheduler class model's scheduler_config.json names. */
  scheduler: string | undefined;
  /** Width and height must be multiples of this. */
  sizeMultiple: number;
}

export class DiffusionPipeline {
  private constructor(readonly model: PipelineModel) {}

  /** Opens a diffusers folder and builds its sessions (once per model, dtype and provider in the cache). */
  static async load(dir: string, options: PipelineLoadOptions = {}): Promise<DiffusionPipeline> {
    return new DiffusionPipeline(await loadPipelineModel(dir, options));
  }

  get family(): PipelineFamily {
    return this.model.family;
  }

  get provider(): Provider {
    return this.model.provider;
  }

  get defaults(): PipelineDefaults {
    return {
      ...defaultSize(this.model),
      steps: RENDER_DEFAULTS.steps,
      guidance: GUIDANCE_DEFAULTS[this.model.family],
      scheduler: this.model.schedulerConfig.className,
      sizeMultiple: this.model.sizeMultiple,
    };
  }

  /** The UNet's text conditioning for a prompt (what `generate` feeds, before batching). */
  async conditioning(o: ConditioningOptions): Promise<Conditioning> {
    const sessions = await componentSessions(this.model, o.layers);
    return this.condition(sessions, o.prompt, o.negativePrompt ?? '', o.guidance ?? GUIDANCE_DEFAULTS[this.model.family], o.layers);
  }

  async generate(options: GenerateOptions): Promise<GenerateResult> {
    const m = this.model;
    const started = performance.now();
    const r = resolveRenderOptions(m, options);
    const { signal, onProgress, layers } = options;
    checkAbort(signal, 0, r.steps);
    const sessions = await componentSessions(m, layers);

    const encodeStart = performance.now();
    const c = await this.condition(sessions, r.prompt, r.negativePrompt, r.guidance, layers);
    const cfg = c.uncond !== undefined;
    const both = cfg ? [c.uncond!, c.cond] : [c.cond];
    const batch = both.length * r.count;
    const text: Feeds = { encoder_hidden_states: feed(stackRepeated(both.map((e) => e.hidden), r.count)) };
    if (m.family === 'sdxl') {
      text.text_embeds = feed(stackRepeated(both.map((e) => e.pooled!), r.count));
      const ids = sdxlTimeIds({ ...options.sdxl, width: r.width, height: r.height });
      text.time_ids = feed({ data: ids, dims: [1, ids.length] }, batch);
    }
    const encodeMs = performance.now() - encodeStart;

    const h = r.height / m.vaeFactor;
    const w = r.width / m.vaeFactor;
    const perImage = m.latentChannels * h * w;
    const b = startLatents({ seeds: r.seeds, schedulerConfig: m.schedulerConfig, scheduler: r.scheduler, steps: r.steps, perImage });
    const timesteps = b.schedulers[0]!.timesteps;
    const isStep = progressCounter(timesteps.length, r.steps, b.schedulers[0]!.order);
    const denoiseStart = performance.now();
    let done = 0;
    for (let i = 0; i < timesteps.length; i++) {
      checkAbort(signal, done, r.steps);
      const t = timesteps[i]!;
      const feeds: Feeds = {
        ...text,
        sample: tensor('float32', unetSample(b, t, cfg), [batch, m.latentChannels, h, w]),
        timestep: tensor('float32', new Float32Array(batch).fill(t), [batch]),
        ...layers?.feeds?.unet,
      };
      const out = asFloat32((await sessions.unet.run(feeds, ['out_sample'])).out_sample!);
      stepAll(b, t, guided(out, r.count, perImage, cfg ? r.guidance : null));
      if (isStep(i)) onProgress?.(++done, r.steps);
    }
    const denoiseMs = performance.now() - denoiseStart;

    checkAbort(signal, done, r.steps);
    const decodeStart = performance.now();
    const images: RawImage[] = [];
    const decode = { vae: sessions.vae, dtype: m.vaeDtype, scalingFactor: m.scalingFactor, shiftFactor: m.shiftFactor, channels: m.latentChannels, h, w };
    for (const latent of b.latents) images.push(await decodeLatent(latent, decode));
    const decodeMs = performance.now() - decodeStart;

    const result: GenerateResult = {
      images,
      seed: r.seed,
      seeds: r.seeds,
      width: r.width,
      height: r.height,
      steps: r.steps,
      guidance: r.guidance,
      scheduler: r.scheduler,
      provider: m.provider,
      dtype: m.dtype,
      timings: { encodeMs, denoiseMs, perStepMs: denoiseMs / timesteps.length, unetCalls: timesteps.length, decodeMs, totalMs: 0 },
    };
    if (options.png) result.png = await Promise.all(images.map((img) => encodeImage(img)));
    result.timings.totalMs = performance.now() - started;
    return result;
  }

  /** Releases the sessions when the pipeline owns its cache (an injected cache is left to its owner). */
  async dispose(): Promise<void> {
    if (this.model.ownsCache) await this.model.cache.clear();
  }

  private condition(sessions: ComponentSessions, prompt: string, negativePrompt: string, guidance: number, layers?: PipelineLayers): Promise<Conditioning> {
    const m = this.model;
    return buildConditioning({
      family: m.family,
      prompt,
      negativePrompt,
      guidance,
      forceZerosForEmptyPrompt: m.forceZerosForEmptyPrompt,
      encode: async (texts) => combineEncoderOutputs(m.family, await this.encode(sessions.encoders, texts, layers)),
    });
  }

  private async encode(encoders: readonly Session[], texts: readonly string[], layers?: PipelineLayers): Promise<EncoderOutput[]> {
    const m = this.model;
    const outputs: EncoderOutput[] = [];
    for (const [k, part] of m.encoders.entries()) {
      const ids = new Int32Array(texts.length * part.seqLength);
      texts.forEach((text, i) => {
        const input = part.tokenizer.encodeForModel(text, { maxLength: part.seqLength });
        if (input.truncated) m.log('warn', `${part.key}: the prompt is longer than ${part.seqLength - 2} tokens; the rest is ignored: "${text.slice(0, 60)}..."`);
        ids.set(input.ids, i * part.seqLength);
      });
      const out = await encoders[k]!.run({ input_ids: tensor('int32', ids, [texts.length, part.seqLength]), ...layers?.feeds?.[part.key] });
      const f = (name: string): F32Tensor => ({ data: asFloat32(out[name]!), dims: out[name]!.dims });
      const o: EncoderOutput = { lastHiddenState: f('last_hidden_state'), penultimateHiddenState: f('penultimate_hidden_state') };
      if (out.text_embeds) o.textEmbeds = f('text_embeds');
      outputs.push(o);
    }
    return outputs;
  }
}

/** A float32 feed, its rows repeated to `rows` when given. */
function feed(t: F32Tensor, rows?: number) {
  if (rows === undefined) return tensor('float32', t.data, t.dims);
  return tensor('float32', stackRepeated([t], rows).data, [rows, ...t.dims.slice(1)]);
}

function checkAbort(signal: AbortSignal | undefined, step: number, total: number): void {
  if (signal?.aborted) throw new ZipbankError('pipeline.aborted', { step, total }, { cause: signal.reason });
}

