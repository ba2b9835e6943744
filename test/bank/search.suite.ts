/** Search, filters, sorts, cursors and autocomplete, on rows inserted directly. Run per backend. */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { loras, type NewLora } from '../../src/bank/schema.ts';
import { keywordsOf } from '../../src/bank/upload.ts';
import { queryRows } from '../../src/bank/db.ts';
import { openTestBank, type Backend, type TestBank } from '../support/bank.ts';

let n = 0;
export function row(p: Partial<NewLora> & { name: string }): NewLora {
  n++;
  const tags = p.tags ?? [];
  const triggerWords = p.triggerWords ?? [];
  return {
    displayName: p.name,
    kind: 'subject',
    baseModel: 'sdxl',
    format: 'kohya',
    moduleCount: 10,
    uploaderPlatform: 'discord',
    uploaderId: 'u1',
    fileSha256: `${n}`.padStart(64, 'f'),
    tensorSha256: `${n}`.padStart(64, 'e'),
    sizeBytes: 1000,
    storageKey: `loras/00/00/${'0'.repeat(64)}.safetensors`,
    ...p,
    keywords: keywordsOf(tags, triggerWords, p.instancePrompt),
  };
}

export function searchSuite(backend: Backend, pgUrl: string): void {
  describe(`bank search on ${backend}`, () => {
    let t: TestBank;
    beforeAll(async () => {
      t = await openTestBank(backend, pgUrl);
      await t.bank.db.insert(loras).values([
        row({ name: 'corgi', displayName: 'Sir Corgi', usesCount: 50, ratingMean: 4.5, ratingCount: 10, tags: ['dog', 'pet'], triggerWords: ['sks'] }),
        row({ name: 'corgi-puppy', displayName: 'Corgi puppy', usesCount: 5, tags: ['dog'] }),
        row({ name: 'cat', displayName: 'Tabby cat', usesCount: 20, tags: ['pet'], description: 'an orange tabby with a collar' }),
        row({ name: 'watercolor', displayName: 'Soft Watercolor', kind: 'style', usesCount: 99, ratingMean: 3, ratingCount: 2, tags: ['painting'], description: 'wet washes and paper texture' }),
        row({ name: 'watercolor15', displayName: 'Watercolor for 1.5', kind: 'style', baseModel: 'sd15', usesCount: 7 }),
        row({ name: 'pixel', displayName: 'Pixel art', kind: 'style', usesCount: 30, description: 'crisp pixels' }),
        row({ name: 'lewd', displayName: 'Corgi lewd', nsfw: true, usesCount: 1000 }),
        row({ name: 'gone', displayName: 'Corgi removed', status: 'removed', usesCount: 1000 }),
        row({ name: 'private', displayName: 'Corgi private', visibility: 'community', communityId: 'discord:g1', usesCount: 1000 }),
        row({ name: 'a_b', displayName: 'underscore', usesCount: 0 }),
        row({ name: 'axb', displayName: 'not underscore', usesCount: 0 }),
      ]);
    });
    afterAll(async () => t?.close());

    const names = (items: { name: string }[]) => items.map((i) => i.name);

    it.each([
      ['corgi', ['corgi', 'corgi-puppy']],
      ['cor', ['corgi', 'corgi-puppy']],
      ['water', ['watercolor', 'watercolor15']],
      ['tabby collar', ['cat']],
      ['paper', ['watercolor']],
      ['pet', ['corgi', 'cat']],
      ['sks', ['corgi']],
      ['zzz nothing', []],
      ['!!!', []],
    ])('text %j finds %j', async (text, expected) => {
      const page = await t.bank.search({ text });
      expect(names(page.items).sort()).toEqual([...expected].sort());
    });

    it('ranks a name match above a description match', async () => {
      await t.bank.db.insert(loras).values(row({ name: 'misc', displayName: 'Misc', usesCount: 500, description: 'looks a bit like pixel art' }));
      const page = await t.bank.search({ text: 'pixel' });
      expect(names(page.items)).toEqual(['pixel', 'misc']);
    });

    it('filters by kind, base model, tags, uploader; hides NSFW, removed and other communities', async () => {
      expect(names((await t.bank.search({ text: 'corgi', nsfw: true })).items)).toContain('lewd');
      expect(names((await t.bank.search({ text: 'corgi' })).items)).not.toContain('lewd');
      expect(names((await t.bank.search({ text: 'corgi', communityId: 'discord:g1' })).items)).toContain('private');
      expect(names((await t.bank.search({ text: 'corgi', communityId: 'discord:g2' })).items)).not.toContain('private');
      expect(names((await t.bank.search({ text: 'corgi', nsfw: true, communityId: 'discord:g1' })).items)).not.toContain('gone');
      expect(names((await t.bank.search({ kind: 'style', baseModel: 'sdxl', sort: 'popular' })).items)).toEqual(['watercolor', 'pixel']);
      expect(names((await t.bank.search({ tags: ['dog', 'pet'] })).items)).toEqual(['corgi']);
      expect((await t.bank.search({ uploader: { platform: 'discord', userId: 'nobody' } })).items).toEqual([]);
    });

    it('sorts by popularity, rating and newest', async () => {
      expect(names((await t.bank.search({ kind: 'style', sort: 'popular' })).items)).toEqual(['watercolor', 'pixel', 'watercolor15']);
      expect(names((await t.bank.search({ kind: 'style', sort: 'rating' })).items)[0]).toBe('watercolor');
      await t.bank.db.insert(loras).values(row({ name: 'newest-one', kind: 'style' }));
      expect(names((await t.bank.search({ kind: 'style', sort: 'newest' })).items)[0]).toBe('newest-one');
    });

    it('pages with cursors without repeating or skipping', async () => {
      for (const sort of ['popular', 'rating', 'newest'] as const) {
        const all = names((await t.bank.search({ sort, limit: 100 })).items);
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await t.bank.search({ sort, limit: 3, cursor });
          seen.push(...names(page.items));
          cursor = page.nextCursor;
        } while (cursor);
        expect(seen).toEqual(all);
      }
      const rel = names((await t.bank.search({ text: 'corgi', limit: 1 })).items);
      const p1 = await t.bank.search({ text: 'corgi', limit: 1 });
      const p2 = await t.bank.search({ text: 'corgi', limit: 1, cursor: p1.nextCursor });
      expect(names(p1.items)).toEqual(rel);
      expect(names(p2.items)).toHaveLength(1);
      expect(names(p2.items)).not.toEqual(rel);
      expect(p2.nextCursor).toBeUndefined();
    });

    it('refuses a forged cursor or a cursor from another sort', async () => {
      const p = await t.bank.search({ sort: 'popular', limit: 1 });
      await expect(t.bank.search({ sort: 'rating', cursor: p.nextCursor })).rejects.toThrow(/page link/);
      await expect(t.bank.search({ sort: 'rating', cursor: 'garbage!' })).rejects.toThrow(/page link/);
      await expect(t.bank.search({ limit: 1000 })).rejects.toThrow(/limit must be 1-100/);
    });

    it('autocompletes by name prefix first, then other fields, at most 25', async () => {
      expect(names(await t.bank.autocomplete('cor'))).toEqual(['corgi', 'corgi-puppy']);
      expect(names(await t.bank.autocomplete('sir'))).toEqual(['corgi']);
      expect(names(await t.bank.autocomplete('w', { kind: 'style' }))).toEqual(['watercolor', 'watercolor15']);
      expect(names(await t.bank.autocomplete('w', { kind: 'style', baseModel: 'sd15' }))).toEqual(['watercolor15']);
      // LIKE wildcards in the typed text are literal
      expect(names(await t.bank.autocomplete('a_'))).toEqual(['a_b']);
      const bulk = Array.from({ length: 30 }, (_, i) => row({ name: `bulk${String(i).padStart(2, '0')}` }));
      await t.bank.db.insert(loras).values(bulk);
      expect(await t.bank.autocomplete('bulk')).toHaveLength(25);
      expect(await t.bank.autocomplete('bulk', {}, 100)).toHaveLength(25);
      expect((await t.bank.autocomplete('')).length).toBe(25);
    });

    it('keeps names unique among live entries only', async () => {
      await expect(t.bank.db.insert(loras).values(row({ name: 'corgi' }))).rejects.toThrow();
      await t.bank.db.insert(loras).values(row({ name: 'gone' }));
      const [{ c }] = (await queryRows<{ c: number }>(t.bank.db, sql`select count(*)::int as c from loras where name = 'gone'`)) as [{ c: number }];
      expect(c).toBe(2);
    });
  });
}
