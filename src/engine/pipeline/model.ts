/**
 * The loaded parts of a text-to-image model: the opened diffusers folder, the
 * execution provider, compute types, tokenizers, scheduler config, and one session
 * per component (text encoder(s), UNet, VAE decoder), built from our graphs and
 * taken from a SessionCache, so each (model, dtype, provider, adapter graph) is
 * loaded once and reused.
 *
 * Compute types: 'auto' is float16 on GPU providers and float32 on CPU. Weights
 * stored in another float type (fp16 files computed in float32 on CPU, or fp32
 * files in a float16 graph) are cast in-graph; onnxruntime folds those casts when
 * the session loads, and the load logs that a conversion happens. The VAE stays
 * float32 when its config says force_upcast (SD 1.5 and SDXL do).
 *
 * @example
 *   const m = await loadPipelineModel('models/sdxl', { device: 'cpu', cache });
 *   m.family;          // 'sdxl'
 *   (await m.sessions()).unet;   // the UNet session
 *   const s = await componentSessions(m, { unet: { hook } });   // adapted UNet, same encoders/VAE
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import { buildClipTextGraph } from '../models/clip/graph.ts';
import type { LayerContext } from '../models/layers.ts';
import { parseModelRenderDefaults, type ModelRenderDefaults } from './options.ts';
import { openModelFolder, type ModelFolder, type WeightVariant } from '../models/load.ts';
import type { ComputeDType } from '../models/model-graph.ts';
import type { OnnxModel } from '../onnx/types.ts';
import { buildUNetGraph } from '../models/unet/graph.ts';
import { buildVaeDecoderGraph, vaeScalingFactor, vaeSpatialFactor } from '../models/vae/graph.ts';
import { chooseProvider, stderrLog, SessionCache, type Device, type Feeds, type Provider, type RuntimeLog, type Session, type SessionOptions } from '../runtime/index.ts';
import { loadSchedulerConfig, type SchedulerConfig } from './schedulers/index.ts';
import { ClipTokenizer } from './tokenizer.ts';
import type { PipelineFamily } from './conditioning.ts';

export type EncoderKey = 'textEncoder' | 'textEncoder2';
/** Components that take adapter hooks. */
export type AdaptableKey = 'unet' | EncoderKey;

export interface PipelineLoadOptions {
  /** auto | cuda | webgpu | cpu. Default: ZIPBANK_DEVICE, else auto. */
  device?: Device | string;
  /** Compute type. Default 'auto': float16 on GPU providers, float32 on CPU. */
  dtype?: 'auto' | ComputeDType;
  /** Which weight files to read. Default 'auto' (plain names, else the fp16 variant). */
  variant?: WeightVariant;
  /** Where sessions are cached and shared. Default: a cache owned by the pipeline. */
  cache?: SessionCache;
  /** Session options besides the provider (e.g. intraOpThreads). Default onnxruntime's. */
  sessionOptions?: Omit<SessionOptions, 'provider'>;
  /**
   * com.microsoft MultiHeadAttention in the UNet (faster on CPU too). Default on, except for a
   * float16 UNet whose config says upcast_attention (the fused kernel ignores it).
   */
  fusedAttention?: boolean;
  /** Default: lines on stderr. */
  log?: RuntimeLog;
  /** Build the sessions during `load` (true) or at the first render (false: options are checked before the slow part). Default true. */
  warm?: boolean;
}

/** Module hooks per component (LoRA branches), and the extra inputs their graphs take. */
export interface PipelineLayers {
  unet?: LayerContext;
  textEncoder?: LayerContext;
  textEncoder2?: LayerContext;
  /** Inputs the hooks added, fed unchanged to every run of that component. */
  feeds?: Partial<Record<AdaptableKey, Feeds>>;
}

export interface TextEncoderPart {
  key: EncoderKey;
  tokenizer: ClipTokenizer;
  seqLength: number;
}

export interface ComponentSessions {
  encoders: Session[];
  unet: Session;
  vae: Session;
}

export interface PipelineModel {
  folder: ModelFolder;
  family: PipelineFamily;
  provider: Provider;
  /** Compute type of the text encoders and UNet. */
  dtype: ComputeDType;
  vaeDtype: ComputeDType;
  fusedAttention: boolean;
  encoders: TextEncoderPart[];
  schedulerConfig: SchedulerConfig;
  forceZerosForEmptyPrompt: boolean;
  /** The folder's own steps, guidance and scheduler (model_index.json), used where a render gives none. */
  renderDefaults: ModelRenderDefaults;
  latentChannels: number;
  /** Pixels per latent (8 for SD). */
  vaeFactor: number;
  /** Width and height must be multiples of this: vaeFactor * 2^(UNet blocks - 1). */
  sizeMultiple: number;
  scalingFactor: number;
  shiftFactor: number | null;
  /** The sessions without adapters, built on first call (or during load when warm). */
  sessions: () => Promise<ComponentSessions>;
  /** Dispose the sessions without adapters (memory for a training graph); the next call to `sessions` rebuilds them. */
  releaseSessions: () => Promise<void>;
  cache: SessionCache;
  ownsCache: boolean;
  sessionOptions: SessionOptions;
  log: RuntimeLog;
  /** Adapted sessions per component, by hook object. */
  adapted: Record<AdaptableKey, WeakMap<LayerContext, Promise<Session>>>;
}

type ModelParts = Omit<PipelineModel, 'sessions' | 'releaseSessions'>;

const WEIGHT_WORD: Record<ComputeDType, string> = { float32: 'F32', float16: 'F16' };

export async function loadPipelineModel(dir: string, o: PipelineLoadOptions = {}): Promise<PipelineModel> {
  const log = o.log ?? stderrLog;
  const folder = await openModelFolder(dir, { variant: o.variant ?? 'auto' });
  const { configs } = folder;
  const missing = (part: string, reason: string) => new ZipbankError('pipeline.missing-part', { folder: folder.root, part, reason });
  if (!configs.vae || !folder.components.vae) throw missing('vae/', 'is not listed in model_index.json');
  if (!folder.scheduler) throw missing('scheduler/', 'is missing');
  const family: PipelineFamily = configs.unet.addition ? 'sdxl' : 'sd';
  const encoderKeys: EncoderKey[] = family === 'sdxl' ? (['textEncoder', 'textEncoder2'] as const).filter((k) => configs[k]) : ['textEncoder'];
  if (!configs.textEncoder && family === 'sd') throw missing('text_encoder/', 'is not listed in model_index.json');
  if (family === 'sdxl') checkSdxlBase(folder);

  const choice = await chooseProvider({ device: o.device, log });
  const provider = choice.provider;
  const requested = o.dtype ?? 'auto';
  if (!['auto', 'float32', 'float16'].includes(requested)) {
    throw new ZipbankError('pipeline.bad-option', { option: 'dtype', value: requested, expected: 'auto, float32 or float16' });
  }
  const dtype: ComputeDType = requested === 'auto' ? (provider === 'cpu' ? 'float32' : 'float16') : requested;
  const vaeDtype: ComputeDType = dtype === 'float16' && !configs.vae.forceUpcast ? 'float16' : 'float32';
  if (dtype !== vaeDtype) log('info', `vae: computing in float32 (its config says force_upcast: float16 overflows in this VAE)`);
  for (const c of Object.values(folder.components)) {
    const want = c.component === 'vae' ? vaeDtype : dtype;
    const other = c.dtypes.filter((d) => d !== WEIGHT_WORD[want]);
    if (other.length > 0) {
      log('info', `${c.folder}: weights are ${c.dtypes.join('+')}, computing in ${want} on ${provider}: the graph casts them in-graph when built (onnxruntime folds the casts at load, so they take ${want === 'float32' ? 'twice' : 'half'} their file size in memory)`);
    }
  }

  const tokenizerDirs: Record<EncoderKey, string | undefined> = { textEncoder: folder.tokenizer, textEncoder2: folder.tokenizer2 };
  const encoders: TextEncoderPart[] = [];
  for (const key of encoderKeys) {
    const dirOf = tokenizerDirs[key];
    if (!dirOf) throw missing(key === 'textEncoder' ? 'tokenizer/' : 'tokenizer_2/', 'is missing');
    encoders.push({ key, tokenizer: await ClipTokenizer.fromFolder(dirOf), seqLength: configs[key]!.maxPositionEmbeddings });
  }
  const indexFile = path.join(folder.root, 'model_index.json');
  const index = JSON.parse(await readFile(indexFile, 'utf8')) as Record<string, unknown>;
  const schedulerConfig = await loadSchedulerConfig(path.join(folder.scheduler, 'scheduler_config.json'));
  const vaeFactor = vaeSpatialFactor(configs.vae);
  const sessionOptions: SessionOptions = { ...o.sessionOptions, provider };
  const ownsCache = o.cache === undefined;
  const partial: ModelParts = {
    folder,
    family,
    provider,
    dtype,
    vaeDtype,
    fusedAttention: o.fusedAttention ?? !(dtype === 'float16' && configs.unet.upcastAttention),
    encoders,
    schedulerConfig,
    forceZerosForEmptyPrompt: forceZeros(index, family),
    renderDefaults: parseModelRenderDefaults(index, indexFile),
    latentChannels: configs.vae.latentChannels,
    vaeFactor,
    sizeMultiple: vaeFactor * 2 ** (configs.unet.blockOutChannels.length - 1),
    scalingFactor: vaeScalingFactor(configs.vae),
    shiftFactor: configs.vae.shiftFactor,
    cache: o.cache ?? new SessionCache(),
    ownsCache,
    sessionOptions,
    log,
    adapted: { unet: new WeakMap(), textEncoder: new WeakMap(), textEncoder2: new WeakMap() },
  };
  let plain: Promise<ComponentSessions> | undefined;
  const sessions = () => {
    if (!plain) {
      plain = buildPlainSessions(partial);
      plain.catch(() => (plain = undefined));
    }
    return plain;
  };
  const releaseSessions = async () => {
    const built = plain;
    plain = undefined;
    const s = built ? await built.catch(() => undefined) : undefined;
    if (!s) return;
    for (const x of [...s.encoders, s.unet, s.vae]) await partial.cache.evict(x);
  };
  if (o.warm ?? true) await sessions();
  log('info', `pipeline: ${folder.root} (${family}) on ${provider}, ${dtype} text encoders and unet, ${vaeDtype} vae`);
  return { ...partial, sessions, releaseSessions };
}

/**
 * Sessions for these adapter hooks: components without a hook use the plain
 * sessions; a hooked component's graph is built once per hook object (memoized) and
 * its session taken from the cache (same graph bytes, same session).
 */
export async function componentSessions(m: PipelineModel, layers: PipelineLayers = {}): Promise<ComponentSessions> {
  const plain = await m.sessions();
  const pick = (key: AdaptableKey, fallback: Session): Promise<Session> => {
    const hook = layers[key];
    if (!hook) return Promise.resolve(fallback);
    const memo = m.adapted[key];
    let p = memo.get(hook);
    if (!p) {
      p = buildSession(m, key, hook);
      memo.set(hook, p);
      p.catch(() => memo.delete(hook));
    }
    return p;
  };
  const encoders = await Promise.all(m.encoders.map((e, i) => pick(e.key, plain.encoders[i]!)));
  return { encoders, unet: await pick('unet', plain.unet), vae: plain.vae };
}

async function buildPlainSessions(m: ModelParts): Promise<ComponentSessions> {
  const encoders = await Promise.all(m.encoders.map((e) => buildSession(m, e.key)));
  return { encoders, unet: await buildSession(m, 'unet'), vae: await buildSession(m, 'vae') };
}

/** Builds one component's graph (with a hook, if given) and gets its session from the cache. */
function buildSession(m: ModelParts, key: AdaptableKey | 'vae', hook?: LayerContext): Promise<Session> {
  const { folder } = m;
  const weights = folder.components[key]!.weights;
  const layers = hook ? { layers: hook } : {};
  const get = (model: OnnxModel, name: string) => m.cache.get({ model, name, externalDataDir: folder.root }, m.sessionOptions);
  if (key === 'unet') {
    const log = (message: string) => m.log('info', message);
    const build = (fusedAttention: boolean) =>
      get(buildUNetGraph(folder.configs.unet, { weights, dtype: m.dtype, fusedAttention, log, ...layers }).model, 'unet');
    if (!m.fusedAttention) return build(false);
    // The fused com.microsoft attention is an optimisation: a provider without it gets the plain graph.
    return build(true).catch((e: unknown) => {
      m.log('warn', `the ${m.provider} provider could not load the fused-attention UNet (${(e as Error).message}); using plain ONNX attention`);
      m.fusedAttention = false;
      return build(false);
    });
  }
  if (key === 'vae') return get(buildVaeDecoderGraph(folder.configs.vae!, { weights, dtype: m.vaeDtype }).model, 'vae_decoder');
  const name = key === 'textEncoder' ? 'text_encoder' : 'text_encoder_2';
  const seqLength = m.encoders.find((e) => e.key === key)!.seqLength;
  return get(buildClipTextGraph(folder.configs[key]!, { weights, dtype: m.dtype, name, seqLength, ...layers }).model, name);
}

/** SDXL base takes 6 time ids; the refiner's aesthetic-score conditioning (5) is not supported. */
function checkSdxlBase(folder: ModelFolder): void {
  const { unet, textEncoder2 } = folder.configs;
  const add = unet.addition!;
  const ids = (add.projectionInputDim - textEncoder2!.projectionDim) / add.timeEmbedDim;
  if (ids !== 6) {
    throw new ZipbankError('engine.unsupported-config', {
      file: `${folder.root}/unet/config.json`,
      key: 'projection_class_embeddings_input_dim',
      value: add.projectionInputDim,
      supported: `text_encoder_2 projection_dim + 6 * addition_time_embed_dim (SDXL base; the refiner's aesthetic-score conditioning is not supported)`,
    });
  }
}

/** model_index.json's force_zeros_for_empty_prompt; StableDiffusionXLPipeline's default is true. */
function forceZeros(index: Record<string, unknown>, family: PipelineFamily): boolean {
  if (family !== 'sdxl') return false;
  const v = index['force_zeros_for_empty_prompt'];
  return typeof v === 'boolean' ? v : true;
}
