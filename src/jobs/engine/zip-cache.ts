/**
 * The zip cache of render jobs: the merger vectors of a (subject, style, method,
 * parameters) key are made once and stored in the bank (`zips` row + files), and
 * every later render of the pair reuses them. One job zips a key at a time: the
 * others wait for its result (or take the key over when its claim goes stale, see
 * src/bank/engine-rows.ts). A zip that failed or was cancelled is made again by the
 * next job that needs it.
 *
 * What a zip stores: `mergers.safetensors` (the merger vectors; all ones for the
 * direct method, which needs no optimisation but still gets a row so export works),
 * the full statistics as JSON, the loss / cosine / sparsity plots (ZipLoRA only), and
 * generated reference images; the row's `stats` holds a summary and those keys.
 *
 * @example
 *   const { zip, mergers } = await ensureZip(deps, pair, 'ziplora', ctx);
 *   roleCoefficients(mergers, 'style');
 */
import { ZipbankError, describeError, isZipbankError } from '../../errors/index.ts';
import type { EngineRows, ZipClaim } from '../../bank/engine-rows.ts';
import type { Lora, Zip } from '../../bank/schema.ts';
import type { FileStore } from '../../bank/storage.ts';
import { encodeMergers, readMergers, type MergerSet } from '../../engine/lora/mergers.ts';
import { planLoras, type LoraSource } from '../../engine/lora/plan.ts';
import type { DiffusionPipeline } from '../../engine/pipeline/text-to-image.ts';
import { renderZipPlots } from '../../engine/ziplora/plots.ts';
import { cosineMeans, summarizeStats, type ZipStats } from '../../engine/ziplora/stats.ts';
import { ZIP_DEFAULTS, zipLoras, type ZipInput, type ZipProgress } from '../../engine/ziplora/zip.ts';
import type { JobContext, Log } from '../types.ts';
import { AttemptFiles } from './files.ts';
import type { PipelineCache, ResolvedModel } from './models.ts';

export type ZipMethod = 'ziplora' | 'direct';
export const ZIP_METHODS: readonly ZipMethod[] = ['ziplora', 'direct'];

/** How render jobs zip. The first group is part of the cache key; the rest is not. */
export interface ZipSettings {
  steps: number;
  learningRate: number;
  lambda: number;
  seed: number;
  cosineThreshold: number;
  /** Pixels of the references and the objective; default the model's default size. */
  width?: number | undefined;
  height?: number | undefined;
  /** Reference images generated per LoRA that has none in the bank. */
  referenceCount: number;
  /** Denoising steps of generated references; default the pipeline's. */
  referenceSteps?: number | undefined;
  /** Reference images taken from the bank per LoRA, at most. */
  maxBankImages: number;
  /** Measure the sparsity sweep (paper Fig. 3a) for the stats. */
  sparsity: boolean;
  /** Release the render sessions while zipping and the zip's own after it (bounded memory on a long-running worker). */
  releaseSessions: boolean;
  /** Pre-pack weights in the zip's sessions (false: the low-memory mode). */
  prepack: boolean;
  /** A pending zip whose claim was not renewed for this long is taken over. */
  staleMs: number;
  /** Claim renewal interval while zipping. */
  heartbeatMs: number;
  /** Wait between looks while another job zips the same key. */
  pollMs: number;
}

export const ZIP_JOB_DEFAULTS: ZipSettings = {
  steps: ZIP_DEFAULTS.steps,
  learningRate: ZIP_DEFAULTS.learningRate,
  lambda: ZIP_DEFAULTS.lambda,
  seed: ZIP_DEFAULTS.seed,
  cosineThreshold: ZIP_DEFAULTS.cosineThreshold,
  referenceCount: ZIP_DEFAULTS.referenceCount,
  maxBankImages: 5,
  sparsity: true,
  releaseSessions: true,
  prepack: true,
  staleMs: 120_000,
  heartbeatMs: 20_000,
  pollMs: 1_000,
};

/** One side of the pair: its bank row, the file read against the model, its prompt and reference images. */
export interface ZipSide {
  row: Lora;
  source: LoraSource;
  prompt: string;
  /** Storage keys of the bank's reference images (at most `maxBankImages`). */
  imageKeys: string[];
}

export interface ZipPair {
  subject: ZipSide;
  style: ZipSide;
}

export interface ZipDeps {
  rows: EngineRows;
  store: FileStore;
  pipelines: PipelineCache;
  model: ResolvedModel;
  pipe: DiffusionPipeline;
  settings: ZipSettings;
  /** `zipLoras` (injectable for tests). */
  zip: typeof zipLoras;
  log: Log;
}

/** What the zip row's `stats` holds. */
export interface ZipRowStats {
  method: ZipMethod;
  steps: number;
  maxSteps: number;
  stopReason: ZipStats['stopReason'];
  stuck: boolean;
  maxMove: number[];
  cosineBefore: number | null;
  cosineAfter: number | null;
  layers: number;
  finalLoss: number | null;
  seconds: number;
  seed: number;
  provider: string;
  /** `summarizeStats` lines, for people. */
  summary: string[];
  /** Storage keys: the full statistics (JSON), the plots (PNG), generated references. */
  files: { stats: string; loss?: string; cosine?: string; sparsity?: string; references: string[] };
}

/** The instance prompt zipping uses for a LoRA: its own, else its trigger words, else a generic one. */
export function lorasPrompt(row: Pick<Lora, 'instancePrompt' | 'triggerWords'>, role: 'subject' | 'style'): string {
  const own = row.instancePrompt?.trim();
  if (own) return own;
  if (row.triggerWords.length) return row.triggerWords.slice(0, 3).join(', ');
  return role === 'subject' ? 'a photo of sks' : 'a picture in sks style';
}

/** Everything the zip's mergers depend on besides the two LoRAs: the cache key's parameters. */
export function zipParams(method: ZipMethod, s: ZipSettings, model: ResolvedModel, pipe: Pick<DiffusionPipeline, 'defaults'>, pair: ZipPair): Record<string, unknown> {
  if (method === 'direct') return { v: 1, model: model.name };
  return {
    v: 1,
    model: model.name,
    width: s.width ?? pipe.defaults.width,
    height: s.height ?? pipe.defaults.height,
    steps: s.steps,
    learningRate: s.learningRate,
    lambda: s.lambda,
    seed: s.seed,
    cosineThreshold: s.cosineThreshold,
    referenceCount: s.referenceCount,
    referenceSteps: s.referenceSteps ?? null,
    prompts: { subject: pair.subject.prompt, style: pair.style.prompt },
    images: { subject: pair.subject.imageKeys, style: pair.style.imageKeys },
  };
}

/** Mergers of 1 for every UNet module the pair adapts (the direct merge). */
export function directMergers(sources: readonly LoraSource[]): MergerSet {
  const plan = planLoras(sources, { slots: 'per-lora', components: ['unet'], dtype: 'float32' }).unet;
  if (!plan) throw new ZipbankError('ziplora.no-unet-modules', { files: sources.map((s) => s.lora.file) });
  return {
    roles: ['subject', 'style'],
    vectors: new Map(plan.modules.map((pm) => [`unet.${pm.path}`, sources.map(() => new Float32Array(pm.base.inFeatures).fill(1))])),
    metadata: { method: 'direct', steps: '0' },
  };
}

function directStats(mergers: MergerSet, seed: number, provider: string): ZipStats {
  return {
    method: 'direct',
    steps: 0,
    maxSteps: 0,
    seconds: 0,
    loss: [],
    layers: [...mergers.vectors.keys()].map((target) => ({ target, cosBefore: 1, cosAfter: 1, maxMove: [0, 0] })),
    maxMove: [0, 0],
    stopReason: 'max-steps',
    stuck: false,
    sparsity: { subject: [], style: [] },
    seed,
    provider,
  };
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

function rowStats(stats: ZipStats, files: ZipRowStats['files']): ZipRowStats {
  const cos = cosineMeans(stats);
  return {
    method: stats.method,
    steps: stats.steps,
    maxSteps: stats.maxSteps,
    stopReason: stats.stopReason,
    stuck: stats.stuck,
    maxMove: stats.maxMove,
    cosineBefore: finite(cos.before),
    cosineAfter: finite(cos.after),
    layers: cos.layers,
    finalLoss: stats.loss.at(-1)?.total ?? null,
    seconds: stats.seconds,
    seed: stats.seed,
    provider: stats.provider,
    summary: summarizeStats(stats),
    files,
  };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function zipMessage(p: ZipProgress): string | undefined {
  switch (p.phase) {
    case 'references':
      return `encoding prompts and reference images (LoRA ${p.step + 1} of ${p.total})`;
    case 'building':
      return 'building the training graph';
    case 'targets':
      return `precomputing targets ${p.step}/${p.total}`;
    default:
      return undefined;
  }
}

/**
 * The ready zip of the pair for `method` with the deps' settings, made now when the
 * cache has none (progress `zipping` step/total, total = the optimisation's step
 * limit; it may stop earlier when converged), and its merger vectors.
 */
export async function ensureZip(d: ZipDeps, pair: ZipPair, method: ZipMethod, ctx: JobContext): Promise<{ zip: Zip; mergers: MergerSet; made: boolean }> {
  const params = zipParams(method, d.settings, d.model, d.pipe, pair);
  const key = { subjectId: pair.subject.row.id, styleId: pair.style.row.id, baseModel: pair.subject.row.baseModel, method, params };
  const total = method === 'direct' ? 0 : d.settings.steps;
  for (let waited = false; ; waited = true) {
    const claim: ZipClaim = await d.rows.claimZip(key, d.settings.staleMs);
    if (claim.outcome === 'ready') {
      const mergers = await readMergers(d.store.localPath(claim.zip.storageKey!));
      return { zip: claim.zip, mergers, made: false };
    }
    if (claim.outcome === 'claimed') {
      if (waited) d.log('info', `zip ${claim.zip.id}: taking it over (the job making it stopped or failed)`);
      const zip = await makeZip(d, pair, method, claim.zip, claim.token, ctx);
      const mergers = await readMergers(d.store.localPath(zip.storageKey!));
      return { zip, mergers, made: true };
    }
    await ctx.progress({ phase: 'zipping', step: 0, total, message: 'another job is zipping this pair; waiting for its result' });
    await pause(d.settings.pollMs, ctx.signal);
  }
}

async function makeZip(d: ZipDeps, pair: ZipPair, method: ZipMethod, row: Zip, claimToken: Date, ctx: JobContext): Promise<Zip> {
  const s = d.settings;
  const started = performance.now();
  let token = claimToken;
  const lost = new AbortController();
  let beating: Promise<void> = Promise.resolve();
  const beat = setInterval(() => {
    beating = beating.then(async () => {
      if (lost.signal.aborted) return;
      try {
        const next = await d.rows.touchZip(row.id, token);
        if (next) token = next;
        else lost.abort(new ZipbankError('render-job.zip-claim-lost', { zip: row.id }));
      } catch (e) {
        d.log('warn', `zip ${row.id}: renewing the claim failed: ${describeError(e)}`);
      }
    });
  }, s.heartbeatMs);
  const stopBeat = async () => {
    clearInterval(beat);
    await beating;
  };
  const signal = AbortSignal.any([ctx.signal, lost.signal]);
  const files = new AttemptFiles(d.store, (keys) => d.rows.keysInUse(keys));
  try {
    await ctx.progress({ phase: 'zipping', step: 0, total: method === 'direct' ? 0 : s.steps });
    const sources = [pair.subject.source, pair.style.source];
    let mergers: MergerSet;
    let stats: ZipStats;
    const references: string[] = [];
    if (method === 'direct') {
      mergers = directMergers(sources);
      stats = directStats(mergers, s.seed, d.pipe.provider);
    } else {
      const inputs: ZipInput[] = (['subject', 'style'] as const).map((role) => {
        const side = pair[role];
        return {
          lora: side.source.lora,
          role,
          prompt: side.prompt,
          ...(side.imageKeys.length ? { images: side.imageKeys.map((k) => d.store.localPath(k)) } : {}),
        };
      });
      const result = await d.pipelines.exclusive(d.model.dir, () => {
        signal.throwIfAborted();
        return d.zip(d.pipe, {
          inputs,
          method: 'ziplora',
          steps: s.steps,
          learningRate: s.learningRate,
          lambda: s.lambda,
          seed: s.seed,
          cosineThreshold: s.cosineThreshold,
          referenceCount: s.referenceCount,
          ...(s.width ? { width: s.width } : {}),
          ...(s.height ? { height: s.height } : {}),
          ...(s.referenceSteps ? { referenceSteps: s.referenceSteps } : {}),
          releaseRenderSessions: s.releaseSessions,
          prepack: s.prepack,
          sparsity: s.sparsity,
          signal,
          onProgress: (p) => {
            const step = p.phase === 'optimizing' ? p.step : 0;
            const message = zipMessage(p);
            ctx.progress({ phase: 'zipping', step, total: s.steps, ...(message ? { message } : {}) }).catch(() => {});
          },
        });
      });
      signal.throwIfAborted();
      if (result.stats.stopReason === 'cancelled') throw new Error('the zip stopped early without a cancel request');
      mergers = result.mergers;
      stats = result.stats;
      for (const r of result.references) for (const png of r.png) references.push(await files.put(png, 'images', 'png'));
    }
    stats = { ...stats, seconds: (performance.now() - started) / 1000 };
    const storageKey = await files.put(encodeMergers(mergers), 'zips', 'safetensors');
    const stored: ZipRowStats['files'] = { stats: await files.put(Buffer.from(JSON.stringify(stats, null, 2) + '\n'), 'zips', 'json'), references };
    if (method === 'ziplora') {
      const plots = await renderZipPlots(stats);
      stored.loss = await files.put(plots.loss, 'zips', 'png');
      stored.cosine = await files.put(plots.cosine, 'zips', 'png');
      stored.sparsity = await files.put(plots.sparsity, 'zips', 'png');
    }
    signal.throwIfAborted();
    await stopBeat();
    const ready = await d.rows.zipReady(row.id, token, {
      storageKey,
      stats: rowStats(stats, stored) as unknown as Record<string, unknown>,
      durationMs: performance.now() - started,
    });
    if (!ready) {
      lost.abort(new ZipbankError('render-job.zip-claim-lost', { zip: row.id }));
      throw lost.signal.reason;
    }
    files.commit();
    d.log('info', `zip ${row.id} (${pair.subject.row.name} + ${pair.style.row.name}, ${method}) ready: ${summarizeStats(stats)[0]}`);
    return ready;
  } catch (e) {
    await stopBeat();
    if (lost.signal.aborted && !ctx.signal.aborted) {
      // Another job owns the zip now and may use files identical to ours: leave them (no row is ours to fail).
      d.log('warn', `zip ${row.id}: another job took it over while this one was making it; this attempt's result is dropped`);
      throw lost.signal.reason;
    }
    // Lease lost: another worker runs this job now and may store the same bytes under the same keys; leave them.
    if (!isZipbankError(ctx.signal.reason, 'jobs.lease-lost')) await files.rollback().catch((err) => d.log('warn', `zip ${row.id}: removing this attempt's files failed: ${describeError(err)}`));
    const why = ctx.signal.aborted ? describeError(ctx.signal.reason) : describeError(e);
    await d.rows.zipFailed(row.id, token, why).catch((err) => d.log('warn', `zip ${row.id}: recording its failure failed: ${describeError(err)}`));
    throw e;
  }
}
