/** Renders for the bot (src/bank/renders.ts) on one backend: render + job atomically under quota locks, short ids, lineage, messages. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/bank/db.ts';
import { loras, renders } from '../../src/bank/schema.ts';
import { RenderStore, shortId, type NewRender, type RenderQuota } from '../../src/bank/renders.ts';
import { openTestBank, type Backend, type TestBank } from '../support/bank.ts';
import { row } from './search.suite.ts';

const T0 = new Date('2030-01-01T00:00:00Z');

export function rendersSuite(backend: Backend, pgUrl: string): void {
  describe(`renders on ${backend}`, () => {
    let t: TestBank;
    let store: RenderStore;
    let subjectId: string;
    let styleId: string;
    beforeAll(async () => {
      t = await openTestBank(backend, pgUrl);
      store = t.bank.renders;
      const [a, b] = await t.bank.db
        .insert(loras)
        .values([row({ name: 'r-subject', kind: 'subject', baseModel: 'sd15' }), row({ name: 'r-style', kind: 'style', baseModel: 'sd15' })])
        .returning();
      subjectId = a!.id;
      styleId = b!.id;
    });
    afterAll(async () => t?.close());
    beforeEach(async () => {
      await queryRows(t.bank.db, sql`delete from jobs`);
      await queryRows(t.bank.db, sql`delete from job_owners`);
      await queryRows(t.bank.db, sql`update renders set parent_id = null`);
      await queryRows(t.bank.db, sql`delete from renders`);
    });

    const input = (p: Partial<NewRender> = {}): NewRender => ({
      subjectId,
      styleId,
      prompt: 'a corgi',
      seed: 1,
      steps: 4,
      guidance: 7.5,
      width: 64,
      height: 64,
      scheduler: 'euler-a',
      requesterPlatform: 'test',
      requesterId: 'ann',
      platform: 'test',
      communityId: 'test:c1',
      ...p,
    });
    const owner = { platform: 'test', userId: 'ann', communityId: 'test:c1' };
    const counts = async () => {
      const [r] = await queryRows<{ renders: number; jobs: number }>(
        t.bank.db,
        sql`select (select count(*)::int from renders) as renders, (select count(*)::int from jobs) as jobs`,
      );
      return r!;
    };

    it('writes the render (queued) and its render job together, and counts the LoRAs as used', async () => {
      const before = await t.bank.lorasById([subjectId, styleId]);
      const { render, job } = await store.create(input(), { owner, now: T0 });
      expect(render).toMatchObject({ status: 'queued', prompt: 'a corgi', subjectId, styleId, createdAt: T0 });
      expect(job).toMatchObject({ kind: 'render', renderId: render.id, payload: { renderId: render.id }, ownerId: 'ann', communityId: 'test:c1', status: 'queued' });
      expect(await counts()).toEqual({ renders: 1, jobs: 1 });
      const after = await t.bank.lorasById([subjectId, styleId]);
      expect(after.get(subjectId)!.usesCount).toBe(before.get(subjectId)!.usesCount + 1);
      expect(after.get(styleId)!.usesCount).toBe(before.get(styleId)!.usesCount + 1);
    });

    it('writes nothing when the check refuses, or when an insert fails half-way', async () => {
      await expect(store.create(input(), { owner, check: () => { throw new Error('over quota'); } })).rejects.toThrow('over quota');
      expect(await counts()).toEqual({ renders: 0, jobs: 0 });
      // The render row goes in, then the job's insert fails (no owner platform): the render is rolled back.
      await expect(store.create(input(), { owner: { ...owner, platform: null as unknown as string } })).rejects.toThrow();
      expect(await counts()).toEqual({ renders: 0, jobs: 0 });
      await expect(store.create(input({ styleId: '00000000-0000-4000-8000-000000000000' }), { owner })).rejects.toThrow();
      expect(await counts()).toEqual({ renders: 0, jobs: 0 });
    });

    it('hands the check the counts, and concurrent creates cannot both slip under a cap', async () => {
      const seen: number[] = [];
      const cap = 2;
      const attempt = () =>
        store.create(input(), {
          owner,
          check: (c) => {
            seen.push(c.userInFlight);
            if (c.userInFlight >= cap) throw new Error('cap');
          },
        });
      const results = await Promise.allSettled(Array.from({ length: 6 }, attempt));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(cap);
      expect(await counts()).toEqual({ renders: cap, jobs: cap });
      const c = await new Promise<RenderQuota>((resolve) =>
        store.create(input(), { owner, check: (q) => { resolve(q); throw new Error('just looking'); } }).catch(() => {}),
      );
      expect(c).toMatchObject({ userInFlight: 2, userLastHour: 2, communityInFlight: 2, communityLastHour: 2 });
      expect(c.userOldestInHour).toBeInstanceOf(Date);
    });

    it('finds renders by uuid and short id, and says when a short id is ambiguous', async () => {
      const { render } = await store.create(input(), { owner });
      expect(await store.find(render.id)).toEqual({ render });
      expect(await store.find(`#${shortId(render.id)}`)).toEqual({ render });
      expect(await store.find(shortId(render.id).toUpperCase())).toEqual({ render });
      expect(await store.find('zzzz')).toEqual({ missing: true });
      expect(await store.find('00000000-0000-4000-8000-000000000000')).toEqual({ missing: true });
      expect(await store.get('not-a-uuid')).toBeUndefined();
      // Two renders sharing a short id.
      const a = 'abcdef01-0000-4000-8000-000000000001';
      const b = 'abcdef01-0000-4000-8000-000000000002';
      await t.bank.db.insert(renders).values([{ ...input(), id: a }, { ...input(), id: b }]);
      expect(await store.find('abcdef01')).toEqual({ ambiguous: 2 });
      expect((await store.find('abcdef01-0000-4000-8000-000000000002')) as { render: { id: string } }).toMatchObject({ render: { id: b } });
    });

    it('walks the lineage both ways', async () => {
      const { render: root } = await store.create(input(), { owner });
      const { render: child } = await store.create(input({ parentId: root.id, seed: 2 }), { owner: { ...owner, userId: 'bob' } });
      const { render: grandchild } = await store.create(input({ parentId: child.id, seed: 3 }), { owner: { ...owner, userId: 'cy' } });
      const { render: sibling } = await store.create(input({ parentId: root.id, seed: 4 }), { owner: { ...owner, userId: 'dee' } });
      expect((await store.ancestors(grandchild.id)).map((r) => r.id)).toEqual([child.id, root.id]);
      expect((await store.ancestors(grandchild.id, 1)).map((r) => r.id)).toEqual([child.id]);
      expect(await store.ancestors(root.id)).toEqual([]);
      expect((await store.children(root.id)).map((r) => r.id)).toEqual([child.id, sibling.id]);
      expect(await store.countChildren(root.id)).toBe(2);
    });

    it('marks a render cancelled only while it has not ended, and remembers its message', async () => {
      const { render } = await store.create(input(), { owner });
      await store.bindMessage(render.id, { channelId: 'ch1', messageId: 'm1' });
      expect((await store.active({ platform: 'test' })).map((r) => [r.id, r.channelId, r.messageId])).toEqual([[render.id, 'ch1', 'm1']]);
      expect(await store.active({ platform: 'other' })).toEqual([]);
      expect((await store.markCancelled(render.id, T0))?.status).toBe('cancelled');
      expect(await store.markCancelled(render.id)).toBeUndefined();
      expect(await store.active()).toEqual([]);
    });
  });
}
