/**
 * The model work of the GPU benchmark (bench/gpu.ts): text encoders once, the UNet
 * for N denoising steps with classifier-free guidance (batch 2), the VAE decoder
 * once, each timed, on one execution provider. The prompt is fixed token ids (the
 * weights are random, so text carries no meaning here); the scheduler is the one
 * the model folder ships. No tokenizer or image encoding: this measures the engine.
 *
 * @example
 *   const folder = await openModelFolder(dir);
 *   const r = await render(folder, { provider: 'webgpu', dtype: 'float16', steps: 4, size: 1024, log: console.log });
 *   r.stepSeconds;   // one per UNet call (batch 2)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildClipTextGraph } from '../../src/engine/models/clip/graph.ts';
import type { ModelFolder } from '../../src/engine/models/load.ts';
import type { ComputeDType } from '../../src/engine/models/model-graph.ts';
import { buildUNetGraph } from '../../src/engine/models/unet/graph.ts';
import { buildVaeDecoderGraph, vaeScalingFactor, vaeSpatialFactor } from '../../src/engine/models/vae/graph.ts';
import { createScheduler } from '../../src/engine/pipeline/schedulers/index.ts';
import { createRandom } from '../../src/engine/pipeline/random.ts';
import { asFloat32, createSession, tensor, type HostTensor, type ModelSource, type Provider, type Session } from '../../src/engine/runtime/index.ts';

export interface RenderOptions {
  provider: Provider;
  /** Compute type of the UNet and text encoders (the VAE decoder runs float32). */
  dtype: ComputeDType;
  fusedAttention: boolean;
  steps: number;
  /** Image side in pixels. */
  size: number;
  guidance?: number;
  seed?: number;
  log: (line: string) => void;
  /** onnxruntime's own log level; 'warning' shows nodes that fell back to the CPU. Default 'fatal'. */
  ortLog?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /** Called with the name of the phase about to start (for failure reports). */
  phase?: (name: string) => void;
}

export interface RenderResult {
  /** The attention form that ran (fused falls back to plain where the provider lacks it). */
  attention: 'fused' | 'plain';
  textSeconds: number;
  unetCreateSeconds: number;
  stepSeconds: number[];
  vaeCreateSeconds: number;
  vaeSeconds: number;
  /** Decoded pixels: finite count, mean and range (a sanity check on random weights). */
  image: { finite: number; total: number; mean: number; min: number; max: number };
}

const SEQ = 77;
const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** BOS, a few word ids, EOS, then padding; row 2 is the empty (unconditional) prompt. */
function promptIds(pad: number): Int32Array {
  const ids = new Int32Array(2 * SEQ).fill(pad);
  const words = [320, 1125, 539, 320, 37833];
  ids.set([49406, ...words, 49407], 0);
  ids.set([49406, 49407], SEQ);
  return ids;
}

async function timedSession(source: ModelSource, o: RenderOptions): Promise<{ session: Session; seconds: number }> {
  const t0 = performance.now();
  const session = await createSession(source, { provider: o.provider, logLevel: o.ortLog ?? 'fatal' });
  return { session, seconds: seconds(t0) };
}

/** Text states for the UNet: [2, 77, D] float32, plus SDXL's pooled text_embeds [2, P]. */
async function encodeText(folder: ModelFolder, o: RenderOptions): Promise<{ states: Float32Array; width: number; pooled?: Float32Array; seconds: number }> {
  const t0 = performance.now();
  const parts: { data: Float32Array; width: number }[] = [];
  let pooled: Float32Array | undefined;
  const sdxl = folder.configs.textEncoder2 !== undefined;
  for (const [key, pad] of [['textEncoder', 49407], ['textEncoder2', 0]] as const) {
    const cfg = folder.configs[key];
    if (!cfg) continue;
    o.phase?.(`text encoder ${key}`);
    const graph = buildClipTextGraph(cfg, { weights: folder.components[key]!.weights, dtype: o.dtype, name: key });
    const { session } = await timedSession({ model: graph.model, name: key, externalDataDir: folder.root }, o);
    const out = await session.run({ input_ids: tensor('int32', promptIds(pad), [2, SEQ]) });
    await session.dispose();
    const states = asFloat32(out[sdxl ? 'penultimate_hidden_state' : 'last_hidden_state']!);
    parts.push({ data: states, width: cfg.hiddenSize });
    if (out.text_embeds) pooled = asFloat32(out.text_embeds);
  }
  const width = parts.reduce((a, p) => a + p.width, 0);
  const states = new Float32Array(2 * SEQ * width);
  for (let row = 0; row < 2 * SEQ; row++) {
    let at = row * width;
    for (const p of parts) {
      states.set(p.data.subarray(row * p.width, (row + 1) * p.width), at);
      at += p.width;
    }
  }
  return { states, width, pooled, seconds: seconds(t0) };
}

export async function render(folder: ModelFolder, o: RenderOptions): Promise<RenderResult> {
  const unetCfg = folder.configs.unet;
  const vaeCfg = folder.configs.vae!;
  const factor = vaeSpatialFactor(vaeCfg);
  const latent = o.size / factor;
  const text = await encodeText(folder, o);
  o.log(`text encoders: ${text.seconds.toFixed(2)} s (sessions created, run, released)`);

  let fused = o.fusedAttention;
  const openUNet = async () => {
    o.phase?.(`unet session (${fused ? 'fused' : 'plain'} attention)`);
    const graph = buildUNetGraph(unetCfg, { weights: folder.components.unet!.weights, dtype: o.dtype, fusedAttention: fused });
    const created = await timedSession({ model: graph.model, name: 'unet', externalDataDir: folder.root }, o);
    o.log(`unet session (${o.dtype}, ${fused ? 'fused' : 'plain'} attention): created in ${created.seconds.toFixed(1)} s`);
    return { graph, ...created };
  };
  /** The fused attention is a com.microsoft op: a provider without it gets the plain form instead, once. */
  const fallBack = async (e: unknown) => {
    if (!fused) throw e;
    o.log(`fused attention failed on ${o.provider} (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); retrying with plain attention`);
    fused = false;
    return openUNet();
  };
  let unet = await openUNet().catch(fallBack);
  let session = unet.session;

  o.phase?.('denoise');
  const schedulerConfig = JSON.parse(await readFile(path.join(folder.scheduler!, 'scheduler_config.json'), 'utf8')) as unknown;
  const scheduler = createScheduler(schedulerConfig);
  scheduler.setTimesteps(o.steps);
  const rng = createRandom(o.seed ?? 1);
  const c = unetCfg.inChannels;
  const n = c * latent * latent;
  let x: Float32Array = rng.normals(n).map((v) => v * scheduler.initNoiseSigma);
  const timeIds = Float32Array.from([o.size, o.size, 0, 0, o.size, o.size, o.size, o.size, 0, 0, o.size, o.size]);
  const stepSeconds: number[] = [];
  const guidance = o.guidance ?? 7.5;
  for (const t of scheduler.timesteps) {
    const scaled = scheduler.scaleModelInput(x, t);
    const batch = new Float32Array(2 * n);
    batch.set(scaled, 0);
    batch.set(scaled, n);
    const feeds: Record<string, HostTensor> = {
      sample: tensor('float32', batch, [2, c, latent, latent]),
      timestep: tensor('float32', Float32Array.from([t, t]), [2]),
      encoder_hidden_states: tensor('float32', text.states, [2, SEQ, text.width]),
    };
    if (unet.graph.inputs.some((i) => i.name === 'text_embeds')) {
      feeds.text_embeds = tensor('float32', text.pooled!, [2, text.pooled!.length / 2]);
      feeds.time_ids = tensor('float32', timeIds, [2, 6]);
    }
    let t0 = performance.now();
    const result = await session.run(feeds).catch(async (e: unknown) => {
      if (stepSeconds.length > 0) throw e;
      await session.dispose();
      unet = await fallBack(e);
      session = unet.session;
      o.phase?.('denoise');
      t0 = performance.now();
      return session.run(feeds);
    });
    const out = asFloat32(result.out_sample!);
    stepSeconds.push(seconds(t0));
    const eps = new Float32Array(n);
    for (let i = 0; i < n; i++) eps[i] = out[n + i]! + guidance * (out[i]! - out[n + i]!);
    x = scheduler.step(eps, t, x, rng.normal).prevSample;
    o.log(`unet call ${stepSeconds.length}/${scheduler.timesteps.length} (t=${t.toFixed(1)}): ${stepSeconds.at(-1)!.toFixed(3)} s`);
  }
  await session.dispose();

  o.phase?.('vae decoder');
  const vae = buildVaeDecoderGraph(vaeCfg, { weights: folder.components.vae!.weights, dtype: 'float32' });
  const { session: vs, seconds: vaeCreateSeconds } = await timedSession({ model: vae.model, name: 'vae_decoder', externalDataDir: folder.root }, o);
  const z = x.map((v) => v / vaeScalingFactor(vaeCfg));
  const t0 = performance.now();
  const pixels = asFloat32((await vs.run({ latent_sample: tensor('float32', z, [1, c, latent, latent]) })).sample!);
  const vaeSeconds = seconds(t0);
  await vs.dispose();
  o.log(`vae decoder (float32): created in ${vaeCreateSeconds.toFixed(1)} s, decoded ${o.size}x${o.size} in ${vaeSeconds.toFixed(2)} s`);

  let finite = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of pixels) {
    if (!Number.isFinite(v)) continue;
    finite++;
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { attention: fused ? 'fused' : 'plain', textSeconds: text.seconds, unetCreateSeconds: unet.seconds, stepSeconds, vaeCreateSeconds, vaeSeconds, image: { finite, total: pixels.length, mean: sum / (finite || 1), min, max } };
}
