/** ChannelStore (src/bank/channel.ts): posting, editing with versions, history pages, and which storage keys messages name; on PGlite and, when a server is there, PostgreSQL. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ChannelStore } from '../../src/bank/channel.ts';
import { loras, renders } from '../../src/bank/schema.ts';
import { openTestBank, type Backend, type TestBank } from '../support/bank.ts';
import { row } from './search.suite.ts';

const KEY = `renders/ab/cd/${'ab'.repeat(32)}.png`;

function channelSuite(backend: Backend, pgUrl: string): void {
  describe(`channel messages on ${backend}`, () => {
    let t: TestBank;
    let store: ChannelStore;
    beforeAll(async () => {
      t = await openTestBank(backend, pgUrl);
      store = new ChannelStore(t.bank.db);
    });
    afterAll(async () => t?.close());

    const post = (channelId: string, text: string, extra: { renderId?: string; keys?: string[] } = {}) =>
      store.post({
        channelId,
        invokerPlatform: 'web',
        invokerId: 'ann',
        invokerName: 'Ann',
        invocation: `/say ${text}`,
        reply: { kind: 'message', text, cards: extra.keys ? [{ title: 't', fields: [], imageKeys: extra.keys }] : [] },
        renderId: extra.renderId ?? null,
      });

    it('posts, edits (version up) and pages through a channel, oldest first', async () => {
      const a = await post('web:local/main', 'one');
      expect(a).toMatchObject({ version: 1, invocation: '/say one', renderId: null });
      const b = await post('web:local/main', 'two');
      await post('web:local/other', 'elsewhere');
      const c = await post('web:local/main', 'three');
      expect(b.seq).toBeGreaterThan(a.seq);
      const edited = await store.edit(b.id, { kind: 'message', text: 'two, edited' });
      expect(edited).toMatchObject({ id: b.id, version: 2, reply: { text: 'two, edited' } });
      expect(edited!.updatedAt.getTime()).toBeGreaterThanOrEqual(b.updatedAt.getTime());
      expect((await store.recent('web:local/main')).map((m) => (m.reply as { text: string }).text)).toEqual(['one', 'two, edited', 'three']);
      expect((await store.recent('web:local/main', 2)).map((m) => m.id)).toEqual([b.id, c.id]);
      expect((await store.recent('web:local/main', 10, b.seq)).map((m) => m.id)).toEqual([a.id]);
      expect(await store.get(c.id)).toMatchObject({ id: c.id });
      expect(await store.get('not-a-uuid')).toBeUndefined();
      expect(await store.edit('00000000-0000-4000-8000-000000000000', {})).toBeUndefined();
    });

    it('knows which storage keys a channel references', async () => {
      await post('web:local/keys', 'grid', { keys: [KEY] });
      expect(await store.references('web:local/keys', KEY)).toBe(true);
      expect(await store.references('web:local/other', KEY)).toBe(false);
      expect(await store.references('web:local/keys', KEY.replace('.png', '.safetensors'))).toBe(false);
      // A prefix of a key is not the key.
      expect(await store.references('web:local/keys', KEY.slice(0, -5))).toBe(false);
    });

    it("knows a render's images (grid and each image), and nothing else", async () => {
      const [s, st] = await t.bank.db.insert(loras).values([row({ name: 'im-s', kind: 'subject' }), row({ name: 'im-t', kind: 'style' })]).returning();
      const img = (c: string) => `renders/${c}${c}/${c}${c}/${c.repeat(64)}.png`;
      await t.bank.db.insert(renders).values({
        subjectId: s!.id, styleId: st!.id, prompt: 'p', seed: 1, steps: 1, guidance: 1, width: 8, height: 8, scheduler: 'euler',
        requesterPlatform: 'discord', requesterId: 'ann', platform: 'discord', gridKey: img('a'), imageKeys: [img('b'), img('c')],
      });
      for (const c of ['a', 'b', 'c']) expect(await store.isRenderImage(img(c))).toBe(true);
      expect(await store.isRenderImage(img('d'))).toBe(false);
    });

    it('keeps a message when its render is deleted', async () => {
      const [s, st] = await t.bank.db.insert(loras).values([row({ name: 'ch-s', kind: 'subject' }), row({ name: 'ch-t', kind: 'style' })]).returning();
      const [r] = await t.bank.db
        .insert(renders)
        .values({ subjectId: s!.id, styleId: st!.id, prompt: 'p', seed: 1, steps: 1, guidance: 1, width: 8, height: 8, scheduler: 'euler', requesterPlatform: 'web', requesterId: 'ann', platform: 'web' })
        .returning();
      const m = await post('web:local/main', 'render', { renderId: r!.id });
      expect(m.renderId).toBe(r!.id);
      await t.bank.db.delete(renders);
      expect(await store.get(m.id)).toMatchObject({ id: m.id, renderId: null });
    });
  });
}

channelSuite('pglite', '');
const url = inject('pgUrl');
if (url) channelSuite('postgres', url);
