/** A bank on PGlite with real LoRA fixtures registered through the bank's upload, plus a few direct rows, for the core's tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../../src/bank/db.ts';
import { loras, type Lora } from '../../../src/bank/schema.ts';
import { fixture } from '../../support/paths.ts';
import { openTestBank, type TestBank } from '../../support/bank.ts';
import { row } from '../../bank/search.suite.ts';

export const CAT = fixture('lora', 'sd15_diffusers-attnproc_catundchat.safetensors');
export const FLOWER = fixture('lora', 'sd15_diffusers-unetprefix_flower_Hirvita6.safetensors');
export const LOKR = fixture('lora', 'sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors');
export const DISNEY = fixture('lora', 'sd15_cloneofsimo-safeloras_disney_with_TI.safetensors');

export const UPLOADER = { platform: 'test', userId: 'uploader', displayName: 'Uploader', communityId: 'test:home' };

export interface CoreBank extends TestBank {
  /** name -> row */
  loras: Map<string, Lora>;
}

/**
 * Subjects `cat` (with a reference image) and `falcon`; styles `flower` and `disney`
 * (NSFW), all SD 1.5 and uploaded for real; `xlstyle` (an SDXL style) and `misc` (kind
 * other) inserted as rows, since no SDXL fixture exists.
 */
export async function openCoreBank(): Promise<CoreBank> {
  const t = await openTestBank('pglite', '', ['test:admin']);
  const img = join(mkdtempSync(join(tmpdir(), 'zb-core-')), 'ref.png');
  await sharp({ create: { width: 16, height: 16, channels: 3, background: '#c84' } }).png().toFile(img);
  await t.bank.add({ file: CAT, name: 'cat', kind: 'subject', displayName: 'Tabby Cat', triggerWords: ['sks'], uploader: UPLOADER, images: [{ file: img }] });
  await t.bank.add({ file: LOKR, name: 'falcon', kind: 'subject', uploader: UPLOADER });
  await t.bank.add({ file: FLOWER, name: 'flower', kind: 'style', uploader: UPLOADER });
  await t.bank.add({ file: DISNEY, name: 'disney', kind: 'style', nsfw: true, uploader: UPLOADER });
  await t.bank.db.insert(loras).values([
    row({ name: 'xlstyle', kind: 'style', baseModel: 'sdxl' }),
    row({ name: 'misc', kind: 'other', baseModel: 'sd15' }),
  ]);
  const all = await t.bank.db.select().from(loras);
  return { ...t, loras: new Map(all.map((l) => [l.name, l])) };
}

/** Forget every render, job and zip (between tests). */
export async function clearRenders(t: TestBank): Promise<void> {
  await queryRows(t.bank.db, sql`delete from jobs`);
  await queryRows(t.bank.db, sql`delete from job_owners`);
  await queryRows(t.bank.db, sql`update renders set parent_id = null`);
  await queryRows(t.bank.db, sql`delete from renders`);
  await queryRows(t.bank.db, sql`delete from zips`);
  await queryRows(t.bank.db, sql`delete from communities`);
}

export async function countRows(t: TestBank): Promise<{ renders: number; jobs: number }> {
  const [r] = await queryRows<{ renders: number; jobs: number }>(
    t.bank.db,
    sql`select (select count(*)::int from renders) as renders, (select count(*)::int from jobs) as jobs`,
  );
  return r!;
}

/** A deterministic uniform source. */
export function seededRandom(seed = 1): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}
