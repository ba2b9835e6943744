/**
 * One `render` job, start to end: load the render row and its two LoRAs, get the
 * zip of the pair from the cache (made now when missing, see ./zip-cache.ts), render
 * `count` images with the zipped LoRA (style strength applied to the style side, as
 * `zipbank lora merge --coefficients --w-style` does), store each PNG and the grid,
 * and mark the render done. Progress: `zipping` step/total (optimisation steps), then
 * `rendering` step/total where total is the render's denoising steps (the images of
 * one render are denoised together as one batch, so a step covers all of them).
 *
 * Outcomes on the render row: `done` with imageKeys, gridKey, zipId; `cancelled`
 * when the job is cancelled; `failed` with the error when the failure is final (a
 * refusal, or the last attempt); `queued` again with the error when the job will be
 * retried; untouched when the worker lost the job (another worker owns it now).
 * Files written by a failed attempt are removed. A retry starts from scratch; a
 * render that is already done is not drawn again (its result is returned).
 *
 * @example
 *   const result = await runRenderJob(deps, job, ctx);
 *   // { renderId, zipId, gridKey: 'renders/ab/cd/….png', imageKeys: [...] }
 */
import { withTriggers } from './prompt.ts';
import { leaseOf } from '../../bank/jobs.ts';
import type { EngineRows } from '../../bank/engine-rows.ts';
import type { Lora, Render } from '../../bank/schema.ts';
import type { FileStore } from '../../bank/storage.ts';
import { describeError, isZipbankError, ZipbankError } from '../../errors/index.ts';
import { composeGrid } from '../../engine/image/index.ts';
import { pipelineLoraLayers, readLorasForModel } from '../../engine/lora/apply.ts';
import { checkMergersFit } from '../../engine/lora/merge.ts';
import { roleCoefficients } from '../../engine/lora/mergers.ts';
import type { zipLoras } from '../../engine/ziplora/zip.ts';
import type { Job, JobContext, Log } from '../types.ts';
import { AttemptFiles } from './files.ts';
import type { ModelResolver, PipelineCache } from './models.ts';
import { ensureZip, lorasPrompt, ZIP_METHODS, type ZipMethod, type ZipPair, type ZipSettings } from './zip-cache.ts';

export interface RenderJobResult {
  renderId: string;
  zipId: string;
  gridKey: string;
  imageKeys: string[];
}

export interface RenderJobDeps {
  rows: EngineRows;
  store: FileStore;
  models: ModelResolver;
  pipelines: PipelineCache;
  zipSettings: ZipSettings;
  zip: typeof zipLoras;
  log: Log;
  /** Decides final vs retried failures (the handler's rule). */
  retryable(error: unknown): boolean;
}

/** Failures a retry may cure, though they are coded (the rest of ZipbankErrors are refusals). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['render-job.zip-claim-lost', 'runtime.run-failed', 'runtime.session-failed']);

export async function runRenderJob(d: RenderJobDeps, job: Job, ctx: JobContext): Promise<RenderJobResult> {
  if (!job.renderId) throw new ZipbankError('render-job.no-render', { job: job.id });
  const render = await d.rows.getRender(job.renderId);
  if (!render) throw new ZipbankError('render-job.not-found', { id: job.renderId });
  if (render.status === 'done' && render.gridKey && render.zipId) {
    return { renderId: render.id, zipId: render.zipId, gridKey: render.gridKey, imageKeys: render.imageKeys };
  }
  if (render.status === 'done' || render.status === 'cancelled') throw new ZipbankError('render-job.not-runnable', { id: render.id, status: render.status });
  const lease = leaseOf(job);
  if (!(await d.rows.startRender(render.id, lease))) {
    const now = await d.rows.getRender(render.id);
    throw new ZipbankError('render-job.not-runnable', { id: render.id, status: now?.status ?? 'deleted' });
  }
  try {
    return await draw(d, render, job, ctx);
  } catch (e) {
    await settle(d, render, job, ctx, e);
    throw e;
  }
}

async function draw(d: RenderJobDeps, render: Render, job: Job, ctx: JobContext): Promise<RenderJobResult> {
  const method = render.method as ZipMethod;
  if (!ZIP_METHODS.includes(method)) throw new ZipbankError('render-job.method', { method: render.method });
  if (!render.subjectId || !render.styleId) throw new ZipbankError('render-job.no-loras', { id: render.id });
  const subject = await usableLora(d, render.subjectId, 'subject');
  const style = await usableLora(d, render.styleId, 'style');
  if (subject.baseModel !== style.baseModel) {
    throw new ZipbankError('render-job.base-mismatch', { subject: subject.name, subjectBase: subject.baseModel, style: style.name, styleBase: style.baseModel });
  }
  const model = d.models(subject.baseModel);
  if (!model) throw new ZipbankError('render-job.no-model', { family: subject.baseModel, configured: d.models.families });
  const pipe = await d.pipelines.get(model.dir);
  const [subjectSource, styleSource] = await readLorasForModel(pipe.model.folder, [
    { path: d.store.localPath(subject.storageKey), weight: 1 },
    { path: d.store.localPath(style.storageKey), weight: 1 },
  ]);
  const side = async (row: Lora, source: typeof subjectSource, role: 'subject' | 'style') => ({
    row,
    source: source!,
    prompt: lorasPrompt(row, role),
    imageKeys: await bankImages(d, row),
  });
  const pair: ZipPair = { subject: await side(subject, subjectSource, 'subject'), style: await side(style, styleSource, 'style') };

  const { zip, mergers } = await ensureZip({ rows: d.rows, store: d.store, pipelines: d.pipelines, model, pipe, settings: d.zipSettings, zip: d.zip, log: d.log }, pair, method, ctx);

  const sources = [
    { ...pair.subject.source, weight: 1, coefficients: roleCoefficients(mergers, 'subject') },
    { ...pair.style.source, weight: render.styleStrength, coefficients: roleCoefficients(mergers, 'style') },
  ];
  checkMergersFit(zip.storageKey!, mergers.vectors, sources);
  await ctx.progress({ phase: 'rendering', step: 0, total: render.steps });
  const images = await d.pipelines.exclusive(model.dir, async () => {
    ctx.signal.throwIfAborted();
    const layers = await pipelineLoraLayers(pipe.model, sources);
    return pipe.generate({
      prompt: withTriggers(render.prompt, subject, style),
      negativePrompt: render.negativePrompt,
      seed: render.seed,
      steps: render.steps,
      guidance: render.guidance,
      width: render.width,
      height: render.height,
      count: render.count,
      ...(render.scheduler && render.scheduler !== 'default' ? { scheduler: render.scheduler } : {}),
      layers,
      png: true,
      signal: ctx.signal,
      onProgress: (step, total) => void ctx.progress({ phase: 'rendering', step, total }).catch(() => {}),
    });
  });
  ctx.signal.throwIfAborted();

  const files = new AttemptFiles(d.store, (keys) => d.rows.keysInUse(keys));
  let fenced = false;
  try {
    const imageKeys: string[] = [];
    for (const png of images.png!) imageKeys.push(await files.put(png, 'renders', 'png'));
    const gridKey = await files.put(await composeGrid(images.png!), 'renders', 'png');
    ctx.signal.throwIfAborted();
    const done = await d.rows.finishRender(render.id, leaseOf(job), { imageKeys, gridKey, zipId: zip.id });
    if (!done) {
      fenced = true;
      throw new ZipbankError('jobs.lease-lost', { id: job.id, workerId: job.workerId ?? 'this worker' });
    }
    files.commit();
    return { renderId: render.id, zipId: zip.id, gridKey, imageKeys };
  } catch (e) {
    // Fenced out or lease lost: the worker that owns the job now may have stored the same bytes under the same keys.
    if (!fenced && !isZipbankError(ctx.signal.reason, 'jobs.lease-lost')) await files.rollback().catch((err) => d.log('warn', `render ${render.id}: removing this attempt's files failed: ${describeError(err)}`));
    throw e;
  }
}

async function usableLora(d: RenderJobDeps, id: string, role: 'subject' | 'style'): Promise<Lora> {
  const row = await d.rows.getLora(id);
  if (!row) throw new ZipbankError('render-job.lora-gone', { role, name: id, status: 'deleted' });
  if (row.status !== 'active') throw new ZipbankError('render-job.lora-gone', { role, name: row.name, status: row.status });
  if (!(await d.store.exists(row.storageKey))) throw new ZipbankError('render-job.lora-file-missing', { role, name: row.name, key: row.storageKey });
  return row;
}

/** The LoRA's reference images in the bank whose files exist, at most `maxBankImages`. */
async function bankImages(d: RenderJobDeps, row: Lora): Promise<string[]> {
  const keys: string[] = [];
  for (const img of await d.rows.loraImages(row.id)) {
    if (keys.length >= d.zipSettings.maxBankImages) break;
    if (await d.store.exists(img.storageKey)) keys.push(img.storageKey);
    else d.log('warn', `LoRA ${row.name}: reference image ${img.storageKey} is missing from storage; zipping without it`);
  }
  return keys;
}

/** Record on the render row how this attempt ended (see the module comment). */
async function settle(d: RenderJobDeps, render: Render, job: Job, ctx: JobContext, e: unknown): Promise<void> {
  const stop = ctx.signal.aborted ? ctx.signal.reason : undefined;
  const stopCode = isZipbankError(stop) ? stop.code : undefined;
  if (stopCode === 'jobs.lease-lost' || (isZipbankError(e) && e.code === 'jobs.lease-lost')) return;
  let status: 'failed' | 'cancelled' | 'queued';
  let error: string | null;
  if (stopCode === 'jobs.cancelled') {
    status = 'cancelled';
    error = null;
  } else if (stopCode === 'jobs.shutdown') {
    status = 'queued';
    error = null;
  } else {
    const final = !d.retryable(e) || job.attempts >= job.maxAttempts;
    status = final ? 'failed' : 'queued';
    error = describeError(e);
  }
  try {
    await d.rows.settleRender(render.id, leaseOf(job), status, error);
  } catch (err) {
    d.log('warn', `render ${render.id}: recording its outcome (${status}) failed: ${describeError(err)}`);
  }
}
