/**
 * Which model folder a worker renders a base-model family with (`ZIPBANK_MODELS`),
 * and the loaded pipelines, kept per folder across jobs (loaded once, on first use)
 * and released when the worker stops. Engine work on one pipeline runs one job at a
 * time (`exclusive`): a zip may release the pipeline's render sessions, and two jobs
 * on one device are not faster than one after the other.
 *
 * @example
 *   const models = modelResolver(loadConfig().models);   // { sd15: '/models/sd15' }
 *   models('sd15');    // { family: 'sd15', dir: '/models/sd15', name: 'sd15' }
 *   const pipelines = new PipelineCache({ device: 'cpu' });
 *   const pipe = await pipelines.get('/models/sd15');
 *   await pipelines.exclusive('/models/sd15', () => pipe.generate({ prompt: 'a corgi' }));
 *   await pipelines.close();
 */
import { basename, resolve } from 'node:path';
import { DiffusionPipeline } from '../../engine/pipeline/text-to-image.ts';
import type { Log } from '../types.ts';

export interface ResolvedModel {
  /** The base-model family asked for ('sd15', 'sdxl', ...). */
  family: string;
  /** The diffusers folder. */
  dir: string;
  /**
   * Names the model in the zip cache's parameters (zips made with another model are
   * not reused): the folder's name, so workers that keep the same model under the
   * same folder name share zips.
   */
  name: string;
}

/** Base-model family -> model folder; undefined when this worker has none for it. */
export interface ModelResolver {
  (family: string): ResolvedModel | undefined;
  /** The families this resolver answers, for messages. */
  readonly families: readonly string[];
}

/** A resolver over a family -> folder map (the config's `models`). */
export function modelResolver(models: Readonly<Partial<Record<string, string>>>): ModelResolver {
  const entries = Object.entries(models).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].length > 0);
  const map = new Map(entries.map(([family, dir]) => [family, resolve(dir)]));
  const fn = (family: string): ResolvedModel | undefined => {
    const dir = map.get(family);
    return dir ? { family, dir, name: basename(dir) } : undefined;
  };
  return Object.assign(fn, { families: [...map.keys()] });
}

export interface PipelineCacheOptions {
  /** auto | cuda | webgpu | cpu (default: ZIPBANK_DEVICE, else auto). */
  device?: string | undefined;
  log?: Log | undefined;
}

export class PipelineCache {
  private readonly pipes = new Map<string, Promise<DiffusionPipeline>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(private readonly o: PipelineCacheOptions = {}) {}

  /** The pipeline of a folder, loaded on first use (a failed load is retried next time). */
  get(dir: string): Promise<DiffusionPipeline> {
    if (this.closed) throw new Error('PipelineCache: closed');
    let p = this.pipes.get(dir);
    if (!p) {
      const log = this.o.log;
      p = DiffusionPipeline.load(dir, {
        ...(this.o.device ? { device: this.o.device } : {}),
        warm: false,
        log: (level, message) => log?.(level, message),
      });
      p.catch(() => this.pipes.delete(dir));
      this.pipes.set(dir, p);
    }
    return p;
  }

  /** Run `fn` when no other `exclusive` call on this folder is running (FIFO). */
  exclusive<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(dir) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(dir, tail);
    tail.then(() => {
      if (this.locks.get(dir) === tail) this.locks.delete(dir);
    });
    return run;
  }

  /** Folders loaded (or loading). */
  get loaded(): string[] {
    return [...this.pipes.keys()];
  }

  /** Release every pipeline's sessions. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pipes.values()];
    this.pipes.clear();
    for (const p of all) {
      const pipe = await p.catch(() => undefined);
      await pipe?.dispose();
    }
  }
}
