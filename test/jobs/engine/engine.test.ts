/**
 * The engine job handler end to end through a real Worker on PGlite, with a seeded
 * tiny SD 1.5 model and seeded LoRAs: a render job zips the pair (ZipLoRA, 3 steps),
 * renders 4 images and the grid, and marks the render done; the zip is cached (a
 * second render of the pair does not zip again; two concurrent jobs of a new pair zip
 * once); style strength reaches the images; the direct method stores all-ones mergers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { zips, type Lora } from '../../../src/bank/schema.ts';
import { normalizeImage } from '../../../src/engine/image/index.ts';
import { readMergers } from '../../../src/engine/lora/mergers.ts';
import { zipLoras } from '../../../src/engine/ziplora/zip.ts';
import type { ZipRowStats } from '../../../src/jobs/engine/index.ts';
import { engineFixture, type EngineFixture } from './support.ts';

describe('engineHandler: render jobs through a Worker', () => {
  let f: EngineFixture;
  let corgi: Lora;
  let watercolor: Lora;
  let pixel: Lora;
  let firstRenderId = '';
  const zipCalls: string[] = [];
  const countingZip: typeof zipLoras = (pipe, o) => {
    zipCalls.push(o.inputs.map((i) => i.lora.path).join(' + '));
    return zipLoras(pipe, o);
  };

  beforeAll(async () => {
    f = await engineFixture();
    corgi = await f.addLora('corgi', 'subject', 21);
    watercolor = await f.addLora('watercolor', 'style', 22);
    pixel = await f.addLora('pixel', 'style', 23);
  });
  afterAll(async () => f?.close());

  const pairZips = (style: Lora) => f.t.bank.db.select().from(zips).where(and(eq(zips.subjectId, corgi.id), eq(zips.styleId, style.id)));

  it('zips the pair, renders 4 images and the grid, stores them, and marks the render done', async () => {
    const render = await f.addRender(corgi, watercolor);
    firstRenderId = render.id;
    const job = await f.enqueue(render);
    const handler = f.handler({ zip: countingZip });
    expect(await f.worker(handler).drain()).toBe(1);

    const after = await f.queue.get(job.id);
    expect(after).toMatchObject({ status: 'done', attempts: 1, error: null });
    const row = await f.render(render.id);
    expect(row).toMatchObject({ status: 'done', error: null });
    expect(row.finishedAt).toBeInstanceOf(Date);
    expect(after!.result).toEqual({ renderId: render.id, zipId: row.zipId, gridKey: row.gridKey, imageKeys: row.imageKeys });
    expect(row.imageKeys).toHaveLength(4);
    expect(new Set(row.imageKeys).size).toBe(4); // seeds 7..10 differ
    for (const key of row.imageKeys) {
      expect(key).toMatch(/^renders\/.+\.png$/);
      const img = await normalizeImage(await f.t.bank.store.read(key));
      expect(img).toMatchObject({ width: 32, height: 32, sourceFormat: 'png' });
    }
    expect(await normalizeImage(await f.t.bank.store.read(row.gridKey!))).toMatchObject({ width: 64, height: 64, sourceFormat: 'png' });

    // The zip: one row, ready, with its files in storage.
    expect(zipCalls).toHaveLength(1);
    const [zip, ...more] = await pairZips(watercolor);
    expect(more).toHaveLength(0);
    expect(zip).toMatchObject({ id: row.zipId, status: 'ready', method: 'ziplora', baseModel: 'sd15', error: null });
    expect(zip!.params).toMatchObject({ steps: 3, width: 32, height: 32, seed: 0, prompts: { subject: 'a photo of sks dog', style: 'a cat in sks style' } });
    expect(zip!.durationMs).toBeGreaterThan(0);
    const stats = zip!.stats as unknown as ZipRowStats;
    expect(stats).toMatchObject({ method: 'ziplora', steps: 3, maxSteps: 3, stopReason: 'max-steps', provider: 'cpu' });
    expect(stats.summary[0]).toMatch(/^ziplora: 3\/3 steps/);
    const mergers = await readMergers(f.t.bank.store.localPath(zip!.storageKey!));
    expect(mergers.roles).toEqual(['subject', 'style']);
    expect([...mergers.vectors.values()].some((v) => v.some((m) => m.some((x) => x !== 1)))).toBe(true);
    for (const key of [stats.files.stats, stats.files.loss!, stats.files.cosine!, stats.files.sparsity!, ...stats.files.references]) {
      expect(await f.t.bank.store.exists(key)).toBe(true);
    }
    expect(stats.files.references).toHaveLength(2); // the LoRAs have no images in the bank: generated
    expect(JSON.parse((await f.t.bank.store.read(stats.files.stats)).toString()).loss).toHaveLength(3);

    // Progress: zipping k/3 (optimisation steps), then rendering k/2 (denoising steps of the whole batch).
    const seen = f.progress.get(job.id)!;
    const zipping = seen.filter((p) => p.phase === 'zipping' && p.step! > 0).map((p) => `${p.step}/${p.total}`);
    const rendering = seen.filter((p) => p.phase === 'rendering').map((p) => `${p.step}/${p.total}`);
    expect(zipping).toEqual(['1/3', '2/3', '3/3']);
    expect(rendering).toEqual(['0/2', '1/2', '2/2']);
    expect(seen.findIndex((p) => p.phase === 'rendering')).toBeGreaterThan(seen.findIndex((p) => p.phase === 'zipping'));
  });

  it('reuses the cached zip for later renders of the pair; style strength changes the images', async () => {
    const first = await f.render(firstRenderId);
    const handler = f.handler({ zip: countingZip });
    const same = await f.addRender(corgi, watercolor, { count: 1 });
    const weaker = await f.addRender(corgi, watercolor, { count: 1, styleStrength: 0 });
    const jobs = [await f.enqueue(same), await f.enqueue(weaker)];
    expect(await f.worker(handler).drain()).toBe(2);
    expect(zipCalls).toHaveLength(1); // not zipped again
    expect(await pairZips(watercolor)).toHaveLength(1);
    const a = await f.render(same.id);
    const b = await f.render(weaker.id);
    expect(a).toMatchObject({ status: 'done', zipId: first.zipId });
    expect(b).toMatchObject({ status: 'done', zipId: first.zipId });
    // Deterministic: the same seed and settings give the same bytes, so the same content-addressed key.
    expect(a.imageKeys).toEqual([first.imageKeys[0]]);
    expect(b.imageKeys[0]).not.toBe(first.imageKeys[0]);
    for (const j of jobs) expect(f.progress.get(j.id)!.every((p) => p.phase === 'rendering')).toBe(true);
  });

  it('zips a new pair once when two jobs need it at the same time', async () => {
    const handler = f.handler({ zip: countingZip });
    const r1 = await f.addRender(corgi, pixel, { count: 1, requesterId: 'ann' });
    const r2 = await f.addRender(corgi, pixel, { count: 1, seed: 99, requesterId: 'bob' });
    const jobs = [await f.enqueue(r1), await f.enqueue(r2)];
    const before = zipCalls.length;
    expect(await f.worker(handler, { concurrency: 2 }).drain()).toBe(2);
    expect(zipCalls.length - before).toBe(1);
    const rows = await pairZips(pixel);
    expect(rows).toHaveLength(1);
    for (const r of [r1, r2]) expect(await f.render(r.id)).toMatchObject({ status: 'done', zipId: rows[0]!.id });
    // One of them waited for the other's zip.
    const waited = jobs.filter((j) => f.progress.get(j.id)!.some((p) => p.phase === 'zipping' && /waiting/.test(p.message ?? '')));
    expect(waited).toHaveLength(1);
  });

  it('direct method: no optimisation, a zips row with mergers of 1 (so export works), and the render', async () => {
    const handler = f.handler({ zip: countingZip });
    const before = zipCalls.length;
    const r = await f.addRender(corgi, watercolor, { count: 2, method: 'direct' });
    await f.enqueue(r);
    expect(await f.worker(handler).drain()).toBe(1);
    expect(zipCalls.length).toBe(before);
    const row = await f.render(r.id);
    expect(row).toMatchObject({ status: 'done' });
    expect(row.imageKeys).toHaveLength(2);
    const [zip] = await f.t.bank.db.select().from(zips).where(eq(zips.id, row.zipId!));
    expect(zip).toMatchObject({ method: 'direct', status: 'ready', params: { v: 1, model: expect.any(String) } });
    expect((zip!.stats as unknown as ZipRowStats).summary[0]).toMatch(/^direct merge/);
    const mergers = await readMergers(f.t.bank.store.localPath(zip!.storageKey!));
    expect(mergers.vectors.size).toBeGreaterThan(0);
    for (const v of mergers.vectors.values()) for (const m of v) expect(m.every((x) => x === 1)).toBe(true);
  });
});
