/**
 * The engine as a job handler: what a worker runs for a `render` job (the bot core
 * creates the render row, status queued, and the job `{ kind: 'render', renderId }`).
 * The job zips the pair once per (subject, style, method, parameters) and caches the
 * zip in the bank, renders with it, stores the images and the grid, and returns
 * `{ renderId, zipId, gridKey, imageKeys }`; see ./render-job.ts for the outcomes on
 * the render row and ./zip-cache.ts for the cache. Pipelines are loaded once per
 * model folder and kept across jobs until `close`.
 *
 * @example
 *   const engine = engineHandler({ bank, models: modelResolver(config.models), device: config.device });
 *   const worker = new Worker(new JobQueue(bank.db), engine, { concurrency: 1 });
 *   worker.start();
 *   // ... on shutdown:
 *   await worker.stop({ graceMs: 30_000 });
 *   await engine.close();
 */
import type { Bank } from '../../bank/index.ts';
import { EngineRows } from '../../bank/engine-rows.ts';
import { isZipbankError } from '../../errors/index.ts';
import { zipLoras } from '../../engine/ziplora/zip.ts';
import type { JobHandler, Log } from '../types.ts';
import { PipelineCache } from './models.ts';
import type { ModelResolver } from './models.ts';
import { RETRYABLE_CODES, runRenderJob, type RenderJobDeps } from './render-job.ts';
import { ZIP_JOB_DEFAULTS, type ZipSettings } from './zip-cache.ts';
import { stripUndefined } from '../../util/objects.ts';

export { modelResolver, PipelineCache, type ModelResolver, type ResolvedModel, type PipelineCacheOptions } from './models.ts';
export { RETRYABLE_CODES, type RenderJobResult } from './render-job.ts';
export { ZIP_JOB_DEFAULTS, ZIP_METHODS, directMergers, lorasPrompt, zipParams, type ZipMethod, type ZipRowStats, type ZipSettings } from './zip-cache.ts';
export { AttemptFiles } from './files.ts';

export interface EngineHandlerOptions {
  bank: Pick<Bank, 'db' | 'store'>;
  models: ModelResolver;
  /** auto | cuda | webgpu | cpu (default: ZIPBANK_DEVICE, else auto). */
  device?: string | undefined;
  log?: Log | undefined;
  /** How render jobs zip (steps, size, seed, ...); the rest from `ZIP_JOB_DEFAULTS`. */
  zipDefaults?: Partial<ZipSettings> | undefined;
  /** Share loaded pipelines with other handlers (default: the handler's own, closed by `close`). */
  pipelines?: PipelineCache | undefined;
  /** The zip function (default `zipLoras`; tests count calls or make it fail). */
  zip?: typeof zipLoras | undefined;
}

export interface EngineHandler extends JobHandler {
  readonly pipelines: PipelineCache;
  readonly zipSettings: ZipSettings;
  /** Release the loaded pipelines (when the handler owns them). Call after the worker stopped. */
  close(): Promise<void>;
}

/** Coded refusals fail for good; other errors, and the coded ones a retry may cure, are retried. */
export function engineRetryable(error: unknown): boolean {
  return !isZipbankError(error) || RETRYABLE_CODES.has(error.code);
}

export function engineHandler(o: EngineHandlerOptions): EngineHandler {
  const log: Log = o.log ?? (() => {});
  const owned = !o.pipelines;
  const pipelines = o.pipelines ?? new PipelineCache({ device: o.device, log });
  const zipSettings: ZipSettings = { ...ZIP_JOB_DEFAULTS, ...stripUndefined(o.zipDefaults ?? {}) };
  const deps: RenderJobDeps = {
    rows: new EngineRows(o.bank.db),
    store: o.bank.store,
    models: o.models,
    pipelines,
    zipSettings,
    zip: o.zip ?? zipLoras,
    log,
    retryable: engineRetryable,
  };
  return {
    kinds: ['render'],
    pipelines,
    zipSettings,
    run: (job, ctx) => runRenderJob(deps, job, ctx),
    retryable: engineRetryable,
    async close() {
      if (owned) await pipelines.close();
    },
  };
}
