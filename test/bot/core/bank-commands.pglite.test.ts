/** `/bank ...` through the core on a real bank: cards, upload from an attachment, rate, report, remove and who may. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { communities, loras, reports } from '../../../src/bank/schema.ts';
import { JobQueue } from '../../../src/bank/jobs.ts';
import { BotCore, type CoreInteraction, type CoreUser, type MessageReply, type Reply } from '../../../src/bot/core/index.ts';
import { clearRenders, FLOWER, openCoreBank, UPLOADER, type CoreBank } from './support.ts';
import { goodTinyLora } from '../../support/badfiles.ts';
import { encodeSafetensors, SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';

/** The same LoRA with one value changed: new tensors for the bank's dedup. */
async function otherTensors(src: string): Promise<Uint8Array> {
  const f = await SafetensorsFile.open(src);
  const tensors = [];
  for (const t of f.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, data: Buffer.from(await f.readRaw(t.name)) });
  await f.close();
  tensors[0]!.data[0] = tensors[0]!.data[0]! ^ 1;
  return new Uint8Array(encodeSafetensors(tensors, f.metadata));
}

const HOME = UPLOADER.communityId;
const OWNER: CoreUser = { platform: UPLOADER.platform, id: UPLOADER.userId, name: 'Uploader' };
const ANN: CoreUser = { platform: 'test', id: 'ann', name: 'Ann' };

describe('bot core: /bank', () => {
  let t: CoreBank;
  let core: BotCore;
  beforeAll(async () => {
    t = await openCoreBank();
    core = new BotCore({ bank: t.bank, queue: new JobQueue(t.bank.db), log: () => {} });
  }, 120_000);
  afterAll(async () => t?.close());
  beforeEach(async () => clearRenders(t));

  const run = async (command: string, options: Record<string, unknown>, user = ANN, communityId: string | null = HOME): Promise<MessageReply> => {
    const r: Reply = await core.handle({ type: 'command', command, options, user, communityId: communityId ?? undefined, channelId: 'ch' } as CoreInteraction);
    expect(r.kind).toBe('message');
    return r as MessageReply;
  };
  const status = async (name: string) => (await t.bank.db.select().from(loras).where(eq(loras.name, name)))[0]?.status;

  describe('cards', () => {
    it('shows one LoRA with its previews, trigger words, base model, rating and uses', async () => {
      const r = await run('bank show', { name: 'cat' });
      expect(r.ephemeral).toBe(false);
      const card = r.cards[0]!;
      expect(card.title).toBe('Tabby Cat (cat)');
      expect(card.imageKeys).toHaveLength(1);
      expect(card.imageKeys[0]).toMatch(/^images\/.+\.png$/);
      expect(Object.fromEntries(card.fields.map((f) => [f.name, f.value]))).toMatchObject({
        Kind: 'subject',
        'Base model': 'SD 1.5',
        Rating: 'unrated',
        Uses: '0',
        'Trigger words': '`sks`',
        'Uploaded by': 'Uploader',
      });
      expect(await run('bank show', { name: 'nope' })).toMatchObject({ ephemeral: true, text: expect.stringContaining('no LoRA named "nope"') });
    });

    it('hides NSFW previews and entries outside communities that allow them', async () => {
      expect((await run('bank show', { name: 'disney' })).cards[0]).toMatchObject({ title: 'disney · NSFW', imageKeys: [] });
      const names = (r: MessageReply) => r.cards.map((c) => c.title.split(' ')[0]);
      expect(names(await run('bank search', { kind: 'style' }))).not.toContain('disney');
      await t.bank.db.insert(communities).values({ id: HOME, platform: 'test', nsfwAllowed: true });
      expect(names(await run('bank search', { kind: 'style' }))).toContain('disney');
    });

    it('searches and lists the top entries as cards (at most 5), and says when nothing matches', async () => {
      const found = await run('bank search', { query: 'tabby' });
      expect(found.text).toBe('1 LoRA for “tabby”:');
      expect(found.cards.map((c) => c.title)).toEqual(['Tabby Cat (cat)']);
      expect(found.cards[0]!.imageKeys).toHaveLength(1);
      expect((await run('bank search', { query: 'fal' })).cards.map((c) => c.title)).toEqual([expect.stringContaining('(falcon)')]);
      expect(await run('bank search', { query: 'zebra' })).toMatchObject({ ephemeral: true, text: 'nothing in the bank matches “zebra”.' });
      const top = await run('bank top', { kind: 'subject', sort: 'newest' });
      expect(top.text).toBe('top subject LoRAs by date:');
      expect(top.cards.map((c) => c.title)).toEqual([expect.stringContaining('(falcon)'), 'Tabby Cat (cat)']);
      expect((await run('bank top', {})).cards.length).toBeLessThanOrEqual(5);
    });
  });

  describe('upload', () => {
    it('adds a LoRA from an attachment through the bank validation', async () => {
      const fresh = await otherTensors(FLOWER);
      const r = await run('bank upload', {
        file: { filename: 'my flower.safetensors', data: fresh },
        name: 'Petals',
        kind: 'style',
        description: 'soft petals',
        trigger: 'petalstyle, pstl',
        tags: 'flowers, soft',
      });
      expect(r).toMatchObject({ ephemeral: false, text: 'added **petals** (style, SD 1.5) to the bank.' });
      expect(r.cards[0]).toMatchObject({ title: expect.stringContaining('petals'), description: 'soft petals' });
      const [row] = await t.bank.db.select().from(loras).where(eq(loras.name, 'petals'));
      expect(row).toMatchObject({ kind: 'style', baseModel: 'sd15', uploaderPlatform: 'test', uploaderId: 'ann', communityId: HOME, triggerWords: ['petalstyle', 'pstl'], tags: ['flowers', 'soft'], nsfw: false });
      expect(await t.bank.store.exists(row!.storageKey)).toBe(true);
      const data = new Uint8Array(readFileSync(FLOWER));
      // The same tensors are already in the bank as "flower": reported, nothing added.
      const dup = await run('bank upload', { file: { filename: 'flower.safetensors', data }, name: 'flower-again', kind: 'style' });
      expect(dup).toMatchObject({ ephemeral: true, text: expect.stringContaining('already in the bank as **flower**') });
      expect(await status('flower-again')).toBeUndefined();
    });

    it('refuses a file the bank refuses, privately, with its message', async () => {
      const bad = await run('bank upload', { file: { filename: 'bad.safetensors', data: new Uint8Array([1, 2, 3]) }, name: 'broken', kind: 'style' });
      expect(bad).toMatchObject({ ephemeral: true, text: expect.stringContaining('bad.safetensors') });
      const tiny = await run('bank upload', { file: { filename: 'tiny.safetensors', data: new Uint8Array(goodTinyLora()) }, name: 'tiny', kind: 'style' });
      expect(tiny.ephemeral).toBe(true);
      expect(await status('broken')).toBeUndefined();
      expect(await status('tiny')).toBeUndefined();
      const badName = await run('bank upload', { file: { filename: 'x.safetensors', data: new Uint8Array(readFileSync(FLOWER)) }, name: 'Bad Name!', kind: 'style' });
      expect(badName).toMatchObject({ ephemeral: true, text: expect.stringContaining('cannot be a bank name') });
    });
  });

  describe('rate, report, remove', () => {
    it('rates 1-5 stars, not your own upload', async () => {
      expect(await run('bank rate', { name: 'flower', stars: 4 })).toMatchObject({ ephemeral: true, text: 'you rated **flower** 4★; it is now 4.0★ (1).' });
      expect(await run('bank rate', { name: 'flower', stars: 6 })).toMatchObject({ ephemeral: true, text: expect.stringContaining('`stars` must be from 1 to 5') });
      expect(await run('bank rate', { name: 'flower', stars: 5 }, OWNER)).toMatchObject({ ephemeral: true, text: expect.stringContaining('your own upload') });
    });

    it('reports to the moderators', async () => {
      const r = await run('bank report', { name: 'falcon', reason: 'spam', details: 'an ad' });
      expect(r).toMatchObject({ ephemeral: true, text: expect.stringContaining('**falcon** was reported') });
      const rows = await t.bank.db.select().from(reports).where(eq(reports.loraId, t.loras.get('falcon')!.id));
      expect(rows.map((x) => [x.reason, x.details, x.reporterId])).toEqual([['spam', 'an ad', 'ann']]);
    });

    it('removes only for the uploader or a moderator of its community', async () => {
      expect(await run('bank remove', { name: 'falcon' })).toMatchObject({ ephemeral: true, text: expect.stringContaining('only its uploader or a moderator') });
      // Moderator flag from another community does not count.
      expect((await run('bank remove', { name: 'falcon' }, { ...ANN, isModerator: true }, 'test:elsewhere')).ephemeral).toBe(true);
      expect(await status('falcon')).toBe('active');
      // A platform moderator of the community it was uploaded from may.
      expect(await run('bank remove', { name: 'falcon', reason: 'dupe' }, { ...ANN, isModerator: true })).toMatchObject({ text: '**falcon** was removed from the bank.' });
      expect(await status('falcon')).toBe('removed');
      await t.bank.db.update(loras).set({ status: 'active' }).where(eq(loras.name, 'falcon'));
      // So may its uploader, and a moderator by role.
      await t.bank.db.insert(communities).values({ id: HOME, platform: 'test', moderatorRoleIds: ['mods'] });
      expect((await run('bank remove', { name: 'falcon' }, { ...ANN, roleIds: ['mods'] })).text).toContain('was removed');
      await t.bank.db.update(loras).set({ status: 'active' }).where(eq(loras.name, 'falcon'));
      expect((await run('bank remove', { name: 'falcon' }, OWNER)).text).toContain('was removed');
      await t.bank.db.update(loras).set({ status: 'active' }).where(eq(loras.name, 'falcon'));
    });
  });
});
