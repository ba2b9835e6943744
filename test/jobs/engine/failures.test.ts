/**
 * The engine job handler when things go wrong, through real Workers on PGlite with
 * the tiny SD 1.5 model: cancel mid-zip, a storage failure mid-render (no orphan
 * files; failed when final, queued and then done when retried), refusals that fail
 * for good (missing LoRA file, removed LoRA, mixed base models, no model for the
 * family, deleted render), and a worker that died mid-zip: its job is retried by a
 * second worker on the same database once the lease expires, completed once, and
 * the dead worker's late writes are fenced off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { renders, zips, type Lora } from '../../../src/bank/schema.ts';
import { LocalFileStore, type Namespace } from '../../../src/bank/storage.ts';
import { zipLoras } from '../../../src/engine/ziplora/zip.ts';
import { JobScheduler } from '../../../src/jobs/index.ts';
import { PipelineCache } from '../../../src/jobs/engine/index.ts';
import { deferred, FakeClock, sleep, until } from '../support.ts';
import { engineFixture, type EngineFixture } from './support.ts';

/** A store whose `failAt`-th put into `ns` throws (a full disk), counting from 1; 0 = never. */
class FlakyStore extends LocalFileStore {
  puts = 0;
  constructor(root: string, public failAt: number, private readonly ns: Namespace) {
    super(root);
  }
  override async putBuffer(data: Uint8Array, ns: Namespace, ext: string) {
    if (ns === this.ns && this.failAt > 0 && ++this.puts === this.failAt) throw new Error('ENOSPC: no space left on device');
    return super.putBuffer(data, ns, ext);
  }
}

describe('engineHandler: failures, cancellation and restarts', () => {
  let f: EngineFixture;
  let corgi: Lora;
  let watercolor: Lora;

  beforeAll(async () => {
    f = await engineFixture();
    corgi = await f.addLora('corgi', 'subject', 31);
    watercolor = await f.addLora('watercolor', 'style', 32);
  });
  afterAll(async () => f?.close());

  const zipRow = async (style: Lora, seed: number) => {
    const rows = await f.t.bank.db.select().from(zips).where(and(eq(zips.subjectId, corgi.id), eq(zips.styleId, style.id), eq(zips.method, 'ziplora')));
    return rows.filter((z) => (z.params as { seed?: number }).seed === seed);
  };

  it('cancel mid-zip: stops at the next step, render and job cancelled, the zip left for a later job, no files', async () => {
    const scheduler = new JobScheduler(f.queue, f.events);
    const handler = f.handler({ zipDefaults: { steps: 200, seed: 1 } });
    const r = await f.addRender(corgi, watercolor);
    const job = await f.enqueue(r);
    const keysBefore = await f.keys();
    const off = f.events.on((e) => {
      if (e.type === 'progress' && e.jobId === job.id && e.progress.phase === 'zipping' && e.progress.step === 2) void scheduler.cancel(job.id);
    });
    try {
      expect(await f.worker(handler).drain()).toBe(1);
    } finally {
      off();
    }
    expect(await f.queue.get(job.id)).toMatchObject({ status: 'cancelled', attempts: 1 });
    expect(await f.render(r.id)).toMatchObject({ status: 'cancelled', error: null, imageKeys: [], gridKey: null });
    const steps = f.progress.get(job.id)!.filter((p) => p.phase === 'zipping').map((p) => p.step!);
    expect(Math.max(...steps)).toBeLessThan(10); // of 200: it stopped within a step or so of the cancel
    expect(f.progress.get(job.id)!.some((p) => p.phase === 'rendering')).toBe(false);
    const [zip] = await zipRow(watercolor, 1);
    expect(zip).toMatchObject({ status: 'failed', storageKey: null });
    expect(zip!.error).toMatch(/cancelled/);
    expect(await f.keys()).toEqual(keysBefore);
  });

  it('a worker killed mid-zip: another worker on the same database retries the job after its lease expires and completes it once', async () => {
    const clock = new FakeClock();
    const zipDefaults = { seed: 2, staleMs: 300, heartbeatMs: 3_600_000 };
    const gate = deferred();
    let deadCalls = 0;
    const hangingZip: typeof zipLoras = async (_pipe, o) => {
      deadCalls++;
      await gate.promise; // the process froze here
      // (Its own pipeline is a second copy of the same model; the shared one has the zip's sessions warm.)
      return zipLoras(await f.pipelines.get(f.modelDir), o);
    };
    const rescueCalls: number[] = [];
    // The dead worker is another process: its own pipelines (and their lock), not the fixture's.
    const deadPipelines = new PipelineCache({ device: 'cpu' });
    const deadLog: string[] = [];
    const log = (level: string, m: string) => deadLog.push(`${level}: ${m}`);
    const dead = f.worker(f.handler({ zipDefaults, zip: hangingZip, pipelines: deadPipelines, log }), { id: 'dead', clock, leaseMs: 1_000, heartbeatMs: 3_600_000, log });
    const rescuer = f.worker(
      f.handler({ zipDefaults, zip: (pipe, o) => (rescueCalls.push(1), zipLoras(pipe, o)) }),
      { id: 'rescuer', clock, leaseMs: 1_000, backoff: { baseMs: 1_000, maxMs: 1_000 } },
    );
    const r = await f.addRender(corgi, watercolor, { count: 2, seed: 40 });
    const job = await f.enqueue(r, { maxAttempts: 3 });
    const deadRun = dead.drain();
    await until(() => deadCalls === 1 || undefined, 20_000);
    expect(await f.render(r.id)).toMatchObject({ status: 'running' });
    expect((await zipRow(watercolor, 2))[0]).toMatchObject({ status: 'pending' });

    clock.advance(1_001); // the dead worker's lease runs out
    expect(await rescuer.drain()).toBe(0);
    expect(await f.queue.get(job.id)).toMatchObject({ status: 'queued', attempts: 1, errorCode: 'jobs.lease-expired' });
    clock.advance(1_000); // backoff
    await sleep(350); // the dead worker's zip claim goes stale
    expect(await rescuer.drain()).toBe(1);
    const done = await f.queue.get(job.id);
    expect(done).toMatchObject({ status: 'done', attempts: 2, workerId: 'rescuer' });
    const row = await f.render(r.id);
    expect(row).toMatchObject({ status: 'done', error: null });
    expect(row.imageKeys).toHaveLength(2);
    expect(rescueCalls).toHaveLength(1);
    const [zip, ...others] = await zipRow(watercolor, 2);
    expect(others).toHaveLength(0);
    expect(zip).toMatchObject({ id: row.zipId, status: 'ready' });

    // The dead worker wakes up: its first progress write finds the lease gone, so it stops; nothing it writes lands.
    gate.resolve();
    await deadRun;
    await deadPipelines.close();
    expect(deadLog.join('\n')).toMatch(/lease lost; another worker may run it \(this run's outcome was dropped\)/);
    expect(deadCalls).toBe(1);
    expect(await f.render(r.id)).toEqual(row);
    expect((await zipRow(watercolor, 2))[0]).toMatchObject({ id: zip!.id, status: 'ready', storageKey: zip!.storageKey, updatedAt: zip!.updatedAt });
    expect(await f.queue.get(job.id)).toMatchObject({ status: 'done', attempts: 2, workerId: 'rescuer', result: done!.result });
    for (const key of [...row.imageKeys, row.gridKey!, zip!.storageKey!]) expect(await f.t.bank.store.exists(key)).toBe(true);
  });

  it('a storage failure mid-render removes what the attempt wrote; final: failed with the message; retried: done from scratch', async () => {
    const keysBefore = await f.keys();
    const store = new FlakyStore(f.t.storageDir, 3, 'renders');
    const handler = f.handler({ bank: { db: f.t.bank.db, store } });
    const r = await f.addRender(corgi, watercolor, { method: 'direct', seed: 500 });
    const job = await f.enqueue(r, { maxAttempts: 1 });
    expect(await f.worker(handler).drain()).toBe(1);
    expect(await f.queue.get(job.id)).toMatchObject({ status: 'dead', attempts: 1, error: 'unexpected error: ENOSPC: no space left on device' });
    expect(await f.render(r.id)).toMatchObject({ status: 'failed', error: 'unexpected error: ENOSPC: no space left on device', imageKeys: [], gridKey: null });
    expect(store.puts).toBe(3);
    // The direct zip was stored and stays (a good zip, reusable); no render files remain.
    const added = (await f.keys()).filter((k) => !keysBefore.includes(k));
    expect(added.filter((k) => k.startsWith('renders/'))).toEqual([]);
    expect(added.filter((k) => k.startsWith('zips/'))).toHaveLength(2); // mergers + stats

    // With attempts left, the render goes back to queued with the reason, and the retry completes it.
    store.puts = 0;
    const r2 = await f.addRender(corgi, watercolor, { method: 'direct', seed: 600 });
    const job2 = await f.enqueue(r2, { maxAttempts: 2 });
    const w = f.worker(handler);
    await w.drain();
    const between = await f.queue.get(job2.id);
    if (between!.status === 'queued') {
      expect(await f.render(r2.id)).toMatchObject({ status: 'queued', error: 'unexpected error: ENOSPC: no space left on device' });
      await sleep(20);
      await w.drain();
    }
    expect(await f.queue.get(job2.id)).toMatchObject({ status: 'done', attempts: 2 });
    const done = await f.render(r2.id);
    expect(done).toMatchObject({ status: 'done', error: null });
    const now = await f.keys();
    expect(now.filter((k) => k.startsWith('renders/') && !keysBefore.includes(k)).sort()).toEqual([...done.imageKeys, done.gridKey!].sort());
  });

  it('refuses for good, without retrying: missing LoRA file, removed LoRA, mixed base models, no model, deleted render', async () => {
    const handler = f.handler();
    const lost = await f.addLora('lost', 'subject', 41);
    await f.t.bank.store.delete(lost.storageKey);
    const removed = await f.addLora('removed', 'subject', 42, { status: 'removed' });
    const xl = await f.addLora('xl-style', 'style', 43, { baseModel: 'sdxl' });
    const xlSubject = await f.addLora('xl-subject', 'subject', 44, { baseModel: 'sdxl' });
    const cases = [
      [await f.addRender(lost, watercolor), 'render-job.lora-file-missing', /file of the subject LoRA "lost" is missing from storage/],
      [await f.addRender(removed, watercolor), 'render-job.lora-gone', /subject LoRA "removed" is removed/],
      [await f.addRender(corgi, xl), 'render-job.base-mismatch', /"corgi" is a sd15 LoRA and the style "xl-style" a sdxl one/],
      [await f.addRender(xlSubject, xl), 'render-job.no-model', /no sdxl model.*\(it has: sd15\)\. Set ZIPBANK_MODELS/],
      [await f.addRender(corgi, watercolor, { method: 'magic' }), 'render-job.method', /unknown zip method "magic"/],
    ] as const;
    const jobs = [];
    for (const [render] of cases) jobs.push(await f.enqueue(render, { maxAttempts: 3 }));
    const gone = await f.addRender(corgi, watercolor);
    const goneJob = await f.enqueue(gone, { maxAttempts: 3 });
    await f.t.bank.db.delete(renders).where(eq(renders.id, gone.id));

    expect(await f.worker(handler).drain()).toBe(cases.length + 1);
    for (const [i, [render, code, message]] of cases.entries()) {
      const job = await f.queue.get(jobs[i]!.id);
      expect(job).toMatchObject({ status: 'failed', attempts: 1, errorCode: code });
      expect(job!.error).toMatch(message);
      expect(await f.render(render.id)).toMatchObject({ status: 'failed', error: job!.error });
    }
    expect(await f.queue.get(goneJob.id)).toMatchObject({ status: 'failed', attempts: 1, errorCode: 'render-job.no-render' });
  });
});

