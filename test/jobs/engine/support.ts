/**
 * Test support for the engine job handler: a PGlite bank with files in a temp folder,
 * a seeded tiny SD 1.5 model (what `zipbank model random --preset tiny-sd15` writes),
 * seeded LoRAs for it stored in the bank as real rows and files, renders and jobs the
 * way the bot core creates them, and a handler with test-sized zip settings.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { loras, renders, type Lora, type NewLora, type Render } from '../../../src/bank/schema.ts';
import { JobEvents, JobQueue, Worker, type Job, type JobProgress, type WorkerOptions } from '../../../src/jobs/index.ts';
import { engineHandler, modelResolver, PipelineCache, type EngineHandlerOptions, type EngineHandler } from '../../../src/jobs/engine/index.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { openTestBank, type TestBank } from '../../support/bank.ts';
import { tinyLora } from '../../engine/lora/apply-support.ts';
import { quiet, user } from '../support.ts';

/** Zip settings small enough for 2 CPU cores: 3 steps at 32x32, references in 2 steps, sessions kept between zips. */
export const TEST_ZIP = { steps: 3, width: 32, height: 32, referenceSteps: 2, cosineThreshold: 0, sparsity: false, releaseSessions: false, pollMs: 20 };

export interface EngineFixture {
  t: TestBank;
  modelDir: string;
  queue: JobQueue;
  events: JobEvents;
  /** Shared by every handler of the fixture: the tiny model loads once. */
  pipelines: PipelineCache;
  addLora(name: string, kind: 'subject' | 'style', seed: number, extra?: Partial<NewLora>): Promise<Lora>;
  addRender(subject: Lora, style: Lora, extra?: Partial<typeof renders.$inferInsert>): Promise<Render>;
  enqueue(render: Render, o?: { userId?: string; maxAttempts?: number }): Promise<Job>;
  handler(o?: Partial<EngineHandlerOptions>): EngineHandler;
  worker(handler: EngineHandler, o?: WorkerOptions): Worker;
  render(id: string): Promise<Render>;
  /** Every stored key (files on disk). */
  keys(): Promise<string[]>;
  /** Progress events per job. */
  progress: Map<string, JobProgress[]>;
  close(): Promise<void>;
}

export async function engineFixture(): Promise<EngineFixture> {
  const t = await openTestBank('pglite', '');
  const modelDir = mkdtempSync(path.join(tmpdir(), 'zipbank-engine-job-'));
  await writeRandomModel({ preset: 'tiny-sd15', out: modelDir, seed: 5 });
  const queue = new JobQueue(t.bank.db);
  const events = new JobEvents();
  const progress = new Map<string, JobProgress[]>();
  events.on((e) => {
    if (e.type === 'progress') progress.set(e.jobId, [...(progress.get(e.jobId) ?? []), e.progress]);
  });
  const pipelines = new PipelineCache({ device: 'cpu' });
  const models = modelResolver({ sd15: modelDir });
  let shaSeed = 0;
  return {
    t,
    modelDir,
    queue,
    events,
    pipelines,
    progress,
    async addLora(name, kind, seed, extra = {}) {
      // Attention-only LoRAs: the zip's training session then builds in seconds, not tens of seconds.
      const file = await tinyLora('tiny-sd15', { rank: 4, seed, alpha: 8, targets: 'attn' });
      const sha = createHash('sha256').update(readFileSync(file.path)).digest('hex');
      const stored = await t.bank.store.putFile(file.path, 'loras', 'safetensors', sha);
      const [row] = await t.bank.db
        .insert(loras)
        .values({
          name,
          displayName: name,
          kind,
          baseModel: 'sd15',
          format: file.format,
          moduleCount: file.modules.length,
          instancePrompt: kind === 'subject' ? 'a photo of sks dog' : 'a cat in sks style',
          uploaderPlatform: 'test',
          uploaderId: 'u0',
          fileSha256: sha,
          tensorSha256: createHash('sha256').update(`tensors ${sha} ${shaSeed++}`).digest('hex'),
          sizeBytes: stored.size,
          storageKey: stored.key,
          ...extra,
        })
        .returning();
      return row!;
    },
    async addRender(subject, style, extra = {}) {
      const [row] = await t.bank.db
        .insert(renders)
        .values({
          subjectId: subject.id,
          styleId: style.id,
          prompt: 'a sks dog surfing in sks style',
          seed: 7,
          steps: 2,
          guidance: 5,
          width: 32,
          height: 32,
          count: 4,
          scheduler: 'euler',
          method: 'ziplora',
          requesterPlatform: 'test',
          requesterId: 'u1',
          platform: 'test',
          ...extra,
        })
        .returning();
      return row!;
    },
    enqueue(render, o = {}) {
      return queue.enqueue({ kind: 'render', owner: user(o.userId ?? render.requesterId), renderId: render.id, ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}) });
    },
    handler(o = {}) {
      return engineHandler({ bank: t.bank, models, device: 'cpu', pipelines, ...o, zipDefaults: { ...TEST_ZIP, ...o.zipDefaults } });
    },
    worker(handler, o = {}) {
      return new Worker(queue, handler, { log: quiet, events, pollMs: 20, progressThrottleMs: 0, backoff: { baseMs: 10, maxMs: 10 }, ...o });
    },
    async render(id) {
      const [row] = await t.bank.db.select().from(renders).where(eq(renders.id, id));
      return row!;
    },
    async keys() {
      const out: string[] = [];
      for await (const k of t.bank.store.list()) out.push(k);
      return out.sort();
    },
    async close() {
      await pipelines.close();
      await t.close();
    },
  };
}
