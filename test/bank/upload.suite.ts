/** Upload (validation, detection, dedup, atomicity) and moderation, per backend, on the real fixtures. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import sharp from 'sharp';
import { encodeSafetensors, readSafetensorsHeader } from '../../src/engine/weights/safetensors.ts';
import { communities, loraImages, loras } from '../../src/bank/schema.ts';
import { Bank } from '../../src/bank/index.ts';
import { queryRows } from '../../src/bank/db.ts';
import type { FileStore } from '../../src/bank/storage.ts';
import { isZipbankError } from '../../src/errors/index.ts';
import { fixture } from '../support/paths.ts';
import { writeBadFiles } from '../support/badfiles.ts';
import { openTestBank, type Backend, type TestBank } from '../support/bank.ts';

const UPLOADER = { platform: 'discord', userId: 'alice', displayName: 'Alice', communityId: 'discord:g1' };
const CAT = fixture('lora', 'sd15_diffusers-attnproc_catundchat.safetensors');
const FLOWER = fixture('lora', 'sd15_diffusers-unetprefix_flower_Hirvita6.safetensors');
const LOKR = fixture('lora', 'sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors');

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isZipbankError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal, got success');
}

function filesIn(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.(safetensors|png)$|\.tmp-/.test(f));
}

async function pngFile(dir: string, name: string, color: string): Promise<string> {
  const file = join(dir, name);
  await sharp({ create: { width: 32, height: 24, channels: 3, background: color } })
    .withMetadata({ exif: { IFD0: { Copyright: 'secret-gps-owner' } } })
    .jpeg()
    .toFile(file);
  return file;
}

/** Rewrite a safetensors file with different metadata but the same tensors. */
async function withEditedMetadata(src: string, dst: string): Promise<void> {
  const { SafetensorsFile } = await import('../../src/engine/weights/safetensors.ts');
  const f = await SafetensorsFile.open(src);
  const tensors = [];
  for (const t of f.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, data: await f.readRaw(t.name) });
  await f.close();
  writeFileSync(dst, encodeSafetensors(tensors, { ...f.metadata, edited: 'yes', ss_output_name: 'renamed' }));
}

export function uploadSuite(backend: Backend, pgUrl: string): void {
  describe(`bank upload on ${backend}`, () => {
    let t: TestBank;
    let tmp: string;
    beforeAll(async () => {
      t = await openTestBank(backend, pgUrl);
      tmp = mkdtempSync(join(tmpdir(), 'zb-upload-'));
    });
    afterAll(async () => t?.close());

    it('accepts a real SD 1.5 LoRA with reference images, stored content-addressed', async () => {
      const img1 = await pngFile(tmp, 'a.jpg', '#c84');
      const img2 = await pngFile(tmp, 'b.jpg', '#48c');
      const r = await t.bank.add({
        file: CAT,
        name: 'catundchat',
        kind: 'subject',
        instancePrompt: 'a photo of sks cat',
        tags: ['Cat', 'pet', 'cat'],
        uploader: UPLOADER,
        images: [{ file: img1 }, { file: img2, prompt: 'sks cat on a sofa' }],
      });
      expect(r.duplicate).toBe(false);
      expect(r.lora).toMatchObject({
        name: 'catundchat',
        kind: 'subject',
        baseModel: 'sd15',
        format: 'diffusers-attnproc',
        ranks: [4],
        moduleCount: 128,
        unetModules: 128,
        textEncoderModules: 0,
        tags: ['cat', 'pet'],
        instancePrompt: 'a photo of sks cat',
        uploaderPlatform: 'discord',
        uploaderId: 'alice',
        communityId: 'discord:g1',
        status: 'active',
      });
      expect(r.lora.tensorSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r.lora.storageKey).toBe(`loras/${r.lora.fileSha256.slice(0, 2)}/${r.lora.fileSha256.slice(2, 4)}/${r.lora.fileSha256}.safetensors`);
      expect(await t.bank.store.exists(r.lora.storageKey)).toBe(true);
      expect(r.images.map((i) => [i.position, i.prompt, i.width, i.height])).toEqual([
        [0, 'a photo of sks cat', 32, 24],
        [1, 'sks cat on a sofa', 32, 24],
      ]);
      const stored = await sharp(await t.bank.store.read(r.images[0]!.storageKey)).metadata();
      expect(stored.format).toBe('png');
      expect(stored.exif).toBeUndefined();
      const shown = await t.bank.show('catundchat');
      expect(shown.images).toHaveLength(2);
    });

    it.each([
      [FLOWER, 'flower', 'diffusers', 'sd15', 128, 0],
      [LOKR, 'falcon', 'lycoris-lokr', 'sd15', undefined, undefined],
    ])('accepts %s', async (file, name, format, base, unet, te) => {
      const r = await t.bank.add({ file, name, kind: 'style', uploader: UPLOADER });
      expect(r.lora.format).toBe(format);
      expect(r.lora.baseModel).toBe(base);
      if (unet !== undefined) expect(r.lora.unetModules).toBe(unet);
      if (te !== undefined) expect(r.lora.textEncoderModules).toBe(te);
      expect(r.lora.moduleCount).toBe(r.lora.unetModules + r.lora.textEncoderModules);
    });

    it('reads kohya metadata: stored verbatim, display name and trigger words from it', async () => {
      const lora = await t.bank.require('falcon');
      const header = await readSafetensorsHeader(LOKR);
      expect(lora.metadata).toEqual(header.metadata);
      expect(lora.metadata.ss_network_module).toBeDefined();
    });

    it('deduplicates on the tensor data: same tensors with edited metadata return the existing entry', async () => {
      const edited = join(tmp, 'cat-edited.safetensors');
      await withEditedMetadata(CAT, edited);
      const before = filesIn(t.storageDir).length;
      const r = await t.bank.add({ file: edited, name: 'another-name', kind: 'style', uploader: { platform: 'slack', userId: 'bob' } });
      expect(r.duplicate).toBe(true);
      expect(r.lora.name).toBe('catundchat');
      expect(r.images).toHaveLength(2);
      expect(filesIn(t.storageDir).length).toBe(before);
      expect(await t.bank.find('another-name')).toBeUndefined();
    });

    it('refuses a taken name, an invalid name, and too many images', async () => {
      expect((await errorOf(t.bank.add({ file: CAT, name: 'Bad Name!', kind: 'subject', uploader: UPLOADER }))).code).toBe('bank.invalid-name');
      const copy = join(tmp, 'flower-copy.safetensors');
      await withEditedMetadata(LOKR, copy);
      // same name as an existing entry, different tensors
      const distinct = join(tmp, 'distinct.safetensors');
      const { SafetensorsFile } = await import('../../src/engine/weights/safetensors.ts');
      const f = await SafetensorsFile.open(FLOWER);
      const tensors = [];
      for (const x of f.tensors) {
        const raw = Buffer.from(await f.readRaw(x.name));
        raw[0] = raw[0]! ^ 1;
        tensors.push({ name: x.name, dtype: x.dtype, shape: x.shape, data: raw });
      }
      await f.close();
      writeFileSync(distinct, encodeSafetensors(tensors));
      const e = await errorOf(t.bank.add({ file: distinct, name: 'flower', kind: 'subject', uploader: UPLOADER }));
      expect(e.code).toBe('bank.name-taken');
      expect(e.message).toContain('"flower" is already used');
      const many = Array.from({ length: 11 }, () => ({ file: CAT }));
      expect((await errorOf(t.bank.add({ file: distinct, name: 'many', kind: 'subject', uploader: UPLOADER, images: many }))).code).toBe('bank.too-many');
    });

    it.each([
      ['NEGATIVE_flux_aitoolkit_peft_leighwoods.safetensors', /Flux/i],
      ['NEGATIVE_malformed_double-prefix_lora_unet_unet_timohavdk.safetensors', /prefix|unet_unet/i],
    ])('refuses the real file %s from its tensors', async (name, message) => {
      const before = filesIn(t.storageDir);
      const [{ n }] = (await queryRows<{ n: number }>(t.bank.db, sql`select count(*)::int as n from loras`)) as [{ n: number }];
      const e = await errorOf(t.bank.add({ file: fixture('lora', name), name: 'negative', kind: 'subject', uploader: UPLOADER }));
      expect(e.code).toMatch(/^(lora|bank)\./);
      expect(e.message).toMatch(message);
      expect(filesIn(t.storageDir)).toEqual(before);
      const [{ n: after }] = (await queryRows<{ n: number }>(t.bank.db, sql`select count(*)::int as n from loras`)) as [{ n: number }];
      expect(after).toBe(n);
    });

    it.each(writeBadFiles())('refuses the hand-made bad file $name ($code), storing nothing', async ({ file, code }) => {
      const before = filesIn(t.storageDir);
      const e = await errorOf(t.bank.add({ file, fileName: 'upload.safetensors', name: 'bad', kind: 'subject', uploader: UPLOADER }));
      expect(e.code).toBe(code);
      expect(e.message).toContain('upload.safetensors');
      expect(filesIn(t.storageDir)).toEqual(before);
    });

    it('refuses a LoRA of a family the bank does not serve, naming both', async () => {
      const sdxlOnly = new Bank(t.bank.db, t.bank.store, { ...t.bank.options, families: ['sdxl'] });
      const e = await errorOf(sdxlOnly.add({ file: FLOWER, name: 'x-sd15', kind: 'subject', uploader: UPLOADER }));
      expect(e.code).toBe('bank.family-not-served');
      expect(e.message).toMatch(/SD 1\.x LoRA; this bank serves SDXL/);
    });

    it('refuses a bad reference image before storing anything', async () => {
      const bad = join(tmp, 'not-an-image.png');
      writeFileSync(bad, 'hello');
      const before = filesIn(t.storageDir);
      const e = await errorOf(
        t.bank.add({ file: fixture('lora', 'sd15_cloneofsimo-safeloras_disney_with_TI.safetensors'), name: 'disney', kind: 'style', uploader: UPLOADER, images: [{ file: bad }] }),
      );
      expect(e.code).toMatch(/^(image\.unreadable|lora\.)/);
      expect(filesIn(t.storageDir)).toEqual(before);
    });

    it('leaves neither rows nor new files when the database write fails midway', async () => {
      const copy = join(tmp, 'atomic.safetensors');
      copyFileSync(FLOWER, copy);
      const distinct = join(tmp, 'atomic2.safetensors');
      await withEditedMetadata(LOKR, distinct);
      // A store that, between storing the files and the insert, lets a concurrent
      // upload take the name: the insert then fails on the unique index.
      const racing: FileStore = Object.create(t.bank.store) as FileStore;
      racing.putBuffer = async (...args) => {
        const r = await t.bank.store.putBuffer(...args);
        await t.bank.db.insert(loras).values({ ...(await t.bank.require('falcon')), id: undefined, name: 'racy', tensorSha256: 'f'.repeat(64), search: undefined } as never);
        return r;
      };
      const b = new Bank(t.bank.db, racing, t.bank.options);
      const img = await pngFile(tmp, 'c.jpg', '#ff0');
      const lokrRow = await t.bank.require('falcon');
      await t.bank.db.update(loras).set({ status: 'removed' }).where(eq(loras.id, lokrRow.id));
      const before = filesIn(t.storageDir);
      const e = await errorOf(b.add({ file: LOKR, name: 'racy', kind: 'style', uploader: UPLOADER, images: [{ file: img }] })).catch(
        (x: unknown) => ({ code: 'threw', message: String(x) }),
      );
      expect(['bank.name-taken', 'bank.duplicate-removed']).toContain(e.code);
      expect(filesIn(t.storageDir)).toEqual(before);
      const orphanImages = await t.bank.db.select().from(loraImages).where(eq(loraImages.storageKey, 'x'));
      expect(orphanImages).toEqual([]);
    });
  });

  describe(`bank moderation on ${backend}`, () => {
    let t: TestBank;
    beforeAll(async () => {
      t = await openTestBank(backend, pgUrl, ['cli:local', 'slack:admin']);
      await t.bank.add({ file: CAT, name: 'cat', kind: 'subject', uploader: UPLOADER });
      await t.bank.add({ file: FLOWER, name: 'flower', kind: 'style', uploader: UPLOADER });
      await t.bank.db.insert(communities).values({ id: 'discord:g1', platform: 'discord', moderatorRoleIds: ['mods'] });
    });
    afterAll(async () => t?.close());

    it('keeps one rating per user and updates the aggregate', async () => {
      await t.bank.rate('cat', { platform: 'discord', userId: 'u1' }, 5);
      await t.bank.rate('cat', { platform: 'discord', userId: 'u2' }, 2);
      const r = await t.bank.rate('cat', { platform: 'discord', userId: 'u1' }, 3);
      expect(r).toEqual({ stars: 3, ratingCount: 2, ratingMean: 2.5 });
      expect((await t.bank.require('cat')).ratingMean).toBe(2.5);
    });

    it.each([0, 6, 2.5, Number.NaN])('refuses %s stars', async (stars) => {
      expect((await errorOf(t.bank.rate('cat', { platform: 'discord', userId: 'u9' }, stars))).code).toBe('bank.invalid-rating');
    });

    it('refuses rating your own upload, and names unknown LoRAs', async () => {
      expect((await errorOf(t.bank.rate('cat', UPLOADER, 5))).code).toBe('bank.own-rating');
      const e = await errorOf(t.bank.rate('nope', { platform: 'discord', userId: 'u1' }, 5));
      expect(e.message).toContain('no LoRA named "nope"');
    });

    it('files reports with a known reason', async () => {
      const r = await t.bank.report('flower', { platform: 'discord', userId: 'u3' }, 'copyright', 'this is my art');
      expect(r.openReports).toBe(1);
      expect((await errorOf(t.bank.report('flower', { platform: 'discord', userId: 'u3' }, 'meh'))).code).toBe('bank.invalid-report');
    });

    it('lets only the uploader, a moderator of its community or an admin remove', async () => {
      expect((await errorOf(t.bank.remove('flower', { platform: 'discord', userId: 'stranger' }, 'x'))).code).toBe('bank.forbidden');
      // right role, wrong community
      expect(
        (await errorOf(t.bank.remove('flower', { platform: 'discord', userId: 'm', communityId: 'discord:g2', roleIds: ['mods'] }, 'x'))).code,
      ).toBe('bank.forbidden');
      const removed = await t.bank.remove('flower', { platform: 'discord', userId: 'm', communityId: 'discord:g1', roleIds: ['x', 'mods'] }, 'copyright');
      expect(removed.status).toBe('removed');
      expect(await t.bank.find('flower')).toBeUndefined();
      expect((await t.bank.search({ text: 'flower' })).items).toEqual([]);
      // its reports are resolved, and the name is free again
      const [{ open }] = (await queryRows<{ open: number }>(t.bank.db, sql`select count(*)::int as open from reports where status = 'open'`)) as [{ open: number }];
      expect(open).toBe(0);
      await t.bank.remove('cat', { platform: 'slack', userId: 'admin' }, 'admin');
      expect(await t.bank.find('cat')).toBeUndefined();
    });

    it('counts uses', async () => {
      const r = await t.bank.add({ file: LOKR, name: 'falcon', kind: 'style', uploader: UPLOADER });
      await t.bank.recordUse([r.lora.id, r.lora.id]);
      expect((await t.bank.require('falcon')).usesCount).toBe(2);
    });
  });
}
