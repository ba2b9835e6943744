/** The engine worker's rows on PGlite: zip-cache claims (one winner, stale take-over, fencing), fenced render writes, keys in use. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, EngineRows, zipParamsHash, type ZipKey } from '../../src/bank/engine-rows.ts';
import { JobQueue, leaseOf } from '../../src/bank/jobs.ts';
import { eq } from 'drizzle-orm';
import { loras, renders, zips } from '../../src/bank/schema.ts';
import { openTestBank, type TestBank } from '../support/bank.ts';
import { row } from './search.suite.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('EngineRows (PGlite)', () => {
  let t: TestBank;
  let rows: EngineRows;
  let subjectId: string;
  let styleId: string;
  let n = 0;
  const key = (params: Record<string, unknown> = { case: n++ }): ZipKey => ({ subjectId, styleId, baseModel: 'sd15', method: 'ziplora', params });

  beforeAll(async () => {
    t = await openTestBank('pglite', '');
    rows = new EngineRows(t.bank.db);
    const inserted = await t.bank.db
      .insert(loras)
      .values([row({ name: 'er-subject', baseModel: 'sd15' }), row({ name: 'er-style', kind: 'style', baseModel: 'sd15', tensorSha256: 'a'.repeat(64) })])
      .returning();
    subjectId = inserted[0]!.id;
    styleId = inserted[1]!.id;
  });
  afterAll(async () => t?.close());

  it('hashes canonical JSON: key order does not matter, values do', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: null }, u: undefined })).toBe('{"a":{"c":null,"d":[2,{"x":0,"y":1}]},"b":1}');
    expect(zipParamsHash({ steps: 100, seed: 0 })).toBe(zipParamsHash({ seed: 0, steps: 100 }));
    expect(zipParamsHash({ steps: 100, seed: 0 })).not.toBe(zipParamsHash({ steps: 100, seed: 1 }));
    expect(zipParamsHash({})).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives a new key to exactly one of many concurrent claimers; the others wait; then everyone reuses the ready zip', async () => {
    const k = key();
    const claims = await Promise.all(Array.from({ length: 6 }, () => rows.claimZip(k, 60_000)));
    const won = claims.filter((c) => c.outcome === 'claimed');
    expect(won).toHaveLength(1);
    expect(claims.filter((c) => c.outcome === 'busy')).toHaveLength(5);
    const c = won[0]!;
    if (c.outcome !== 'claimed') throw new Error('unreachable');
    expect(c.zip).toMatchObject({ status: 'pending', method: 'ziplora', params: k.params, paramsHash: zipParamsHash(k.params) });
    const token = await rows.touchZip(c.zip.id, c.token);
    expect(token!.getTime()).toBeGreaterThan(c.token.getTime());
    expect(await rows.touchZip(c.zip.id, c.token)).toBeUndefined(); // the old token is spent
    const ready = await rows.zipReady(c.zip.id, token!, { storageKey: 'zips/aa/bb/x.safetensors', stats: { steps: 3 }, durationMs: 1234.4 });
    expect(ready).toMatchObject({ status: 'ready', storageKey: 'zips/aa/bb/x.safetensors', stats: { steps: 3 }, durationMs: 1234 });
    expect(await rows.claimZip(k, 60_000)).toMatchObject({ outcome: 'ready', zip: { id: c.zip.id } });
    expect(await rows.claimZip({ ...k, params: { ...k.params } }, 60_000)).toMatchObject({ outcome: 'ready' });
    expect((await rows.claimZip({ ...k, method: 'direct' }, 60_000)).outcome).toBe('claimed');
    expect((await rows.findZip(k))!.id).toBe(c.zip.id);
  });

  it('lets a failed zip be claimed again, and a stale claim be taken over; the old claimer is fenced off', async () => {
    const k = key();
    const a = await rows.claimZip(k, 60_000);
    if (a.outcome !== 'claimed') throw new Error('expected a claim');
    expect(await rows.zipFailed(a.zip.id, a.token, 'boom')).toBe(true);
    expect((await rows.getZip(a.zip.id))).toMatchObject({ status: 'failed', error: 'boom' });
    const b = await rows.claimZip(k, 60_000);
    expect(b).toMatchObject({ outcome: 'claimed', zip: { id: a.zip.id, status: 'pending', error: null } });
    if (b.outcome !== 'claimed') throw new Error('expected a claim');
    expect(await rows.claimZip(k, 60_000)).toMatchObject({ outcome: 'busy' });
    await sleep(40);
    const c = await rows.claimZip(k, 20); // b's claim is older than 20 ms: taken over
    if (c.outcome !== 'claimed') throw new Error('expected a take-over');
    expect(c.token.getTime()).toBeGreaterThan(b.token.getTime());
    expect(await rows.touchZip(b.zip.id, b.token)).toBeUndefined();
    expect(await rows.zipReady(b.zip.id, b.token, { storageKey: 'k', stats: {}, durationMs: 1 })).toBeUndefined();
    expect(await rows.zipFailed(b.zip.id, b.token, 'late')).toBe(false);
    expect(await rows.zipReady(c.zip.id, c.token, { storageKey: 'zips/x', stats: {}, durationMs: 1 })).toMatchObject({ status: 'ready' });
  });

  it('writes render outcomes only while the job lease is held', async () => {
    const queue = new JobQueue(t.bank.db);
    const [r] = await t.bank.db
      .insert(renders)
      .values({ prompt: 'a corgi', seed: 1, steps: 2, guidance: 7, width: 32, height: 32, scheduler: 'ddim', requesterPlatform: 'test', requesterId: 'u1', platform: 'test', subjectId, styleId })
      .returning();
    const job = await queue.enqueue({ kind: 'render', owner: { platform: 'test', userId: 'u1' }, renderId: r!.id });
    const claimed = (await queue.claim({ workerId: 'w', kinds: ['render'], leaseMs: 60_000 }))!;
    expect(claimed.id).toBe(job.id);
    const wrong = { id: job.id, leaseId: '00000000-0000-4000-8000-000000000000' };
    expect(await rows.startRender(r!.id, wrong)).toBeUndefined();
    expect(await rows.startRender(r!.id, leaseOf(claimed))).toMatchObject({ status: 'running' });
    expect(await rows.settleRender(r!.id, leaseOf(claimed), 'queued', 'gpu fell over')).toMatchObject({ status: 'queued', error: 'gpu fell over', finishedAt: null });
    await rows.startRender(r!.id, leaseOf(claimed));
    const [z] = await t.bank.db.insert(zips).values({ subjectId, styleId, baseModel: 'sd15', method: 'direct', paramsHash: 'f'.repeat(64), status: 'ready' }).returning();
    expect(await rows.finishRender(r!.id, wrong, { imageKeys: ['a'], gridKey: 'g', zipId: z!.id })).toBeUndefined();
    const done = await rows.finishRender(r!.id, leaseOf(claimed), { imageKeys: ['renders/1.png', 'renders/2.png'], gridKey: 'renders/g.png', zipId: z!.id });
    expect(done).toMatchObject({ status: 'done', imageKeys: ['renders/1.png', 'renders/2.png'], gridKey: 'renders/g.png', zipId: z!.id, error: null });
    expect(done!.finishedAt).toBeInstanceOf(Date);
    expect(await rows.settleRender(r!.id, leaseOf(claimed), 'failed', 'late')).toBeUndefined(); // done stays done
    await queue.complete(leaseOf(claimed), {});
    expect(await rows.startRender(r!.id, leaseOf(claimed))).toBeUndefined(); // the lease is gone
    expect((await t.bank.db.select().from(renders).where(eq(renders.id, r!.id)))[0]!.status).toBe('done');

    expect(await rows.keysInUse(['renders/2.png', 'renders/g.png', 'renders/none.png', 'zips/aa/bb/x.safetensors'])).toEqual(
      new Set(['renders/2.png', 'renders/g.png', 'zips/aa/bb/x.safetensors']),
    );
    await t.bank.db.update(zips).set({ stats: { files: { loss: 'zips/plot.png' } } }).where(eq(zips.id, z!.id));
    expect(await rows.keysInUse(['zips/plot.png', 'zips/other.png'])).toEqual(new Set(['zips/plot.png']));
    expect(await rows.keysInUse([])).toEqual(new Set());
  });
});
