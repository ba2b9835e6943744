/**
 * The rows an engine worker reads and writes for a render job: the render and its
 * LoRAs, the zip cache (`zips`, unique per subject, style, method and parameters
 * hash) and the render's outcome.
 *
 * Zip claims. A `pending` zip row is owned by whoever holds its claim token, which
 * is the row's `updated_at` (millisecond precision, strictly increasing per row):
 * the claimer renews it while zipping (`touchZip`), and every later write names it,
 * so a claimer whose token went stale (the process died or froze) finds its writes
 * ignored once another job has taken the row over. Exactly one of several concurrent
 * claimers of the same key gets `claimed` (the unique key for a new row, a
 * conditional update for a failed or stale one); the others get `busy` and poll.
 *
 * Render writes are fenced by the job's lease: they only land while the job row is
 * still `running` under that lease, so a worker that lost its job cannot overwrite
 * what the worker that took it over wrote.
 *
 * @example
 *   const rows = new EngineRows(bank.db);
 *   const c = await rows.claimZip({ subjectId, styleId, baseModel: 'sd15', method: 'ziplora', params }, 120_000);
 *   if (c.outcome === 'claimed') await rows.zipReady(c.zip.id, c.token, { storageKey, stats, durationMs });
 */
import { createHash } from 'node:crypto';
import { and, asc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { queryRows, type Database } from './db.ts';
import type { LeaseRef } from './jobs.ts';
import { loraImages, loras, renders, zips, type Lora, type LoraImage, type Render, type Zip } from './schema.ts';

/** JSON with object keys sorted at every level (the canonical form hashed into `paramsHash`). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** SHA-256 (hex) of the canonical JSON of a zip's parameters. */
export function zipParamsHash(params: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(params)).digest('hex');
}

export interface ZipKey {
  subjectId: string;
  styleId: string;
  baseModel: Zip['baseModel'];
  method: string;
  /** Everything the zip's result depends on; hashed into the unique key. */
  params: Record<string, unknown>;
}

export type ZipClaim =
  /** Zipped already: use it. */
  | { outcome: 'ready'; zip: Zip }
  /** This caller must zip now, naming `token` in every write. */
  | { outcome: 'claimed'; zip: Zip; token: Date }
  /** Someone else is zipping it (their claim is fresh): wait and ask again. */
  | { outcome: 'busy'; zip: Zip };

export interface ZipDone {
  storageKey: string;
  stats: Record<string, unknown>;
  durationMs: number;
}

/** A fresh claim token: now at millisecond precision, and always later than the row's last one. */
const NEXT_TOKEN = sql`greatest(date_trunc('milliseconds', now()), ${zips.updatedAt} + interval '1 millisecond')`;

export class EngineRows {
  constructor(readonly db: Database) {}

  async getRender(id: string): Promise<Render | undefined> {
    const [row] = await this.db.select().from(renders).where(eq(renders.id, id));
    return row;
  }

  async getLora(id: string): Promise<Lora | undefined> {
    const [row] = await this.db.select().from(loras).where(eq(loras.id, id));
    return row;
  }

  /** A LoRA's reference images, in order. */
  loraImages(loraId: string): Promise<LoraImage[]> {
    return this.db.select().from(loraImages).where(eq(loraImages.loraId, loraId)).orderBy(asc(loraImages.position));
  }

  async getZip(id: string): Promise<Zip | undefined> {
    const [row] = await this.db.select().from(zips).where(eq(zips.id, id));
    return row;
  }

  async findZip(key: Omit<ZipKey, 'baseModel'>): Promise<Zip | undefined> {
    const [row] = await this.db.select().from(zips).where(this.keyWhere(key, zipParamsHash(key.params)));
    return row;
  }

  /**
   * Look up the zip for a key and claim it when it must be made: a new row, a failed
   * one, or a pending one whose claim was not renewed for `staleMs`.
   */
  async claimZip(key: ZipKey, staleMs: number): Promise<ZipClaim> {
    const hash = zipParamsHash(key.params);
    for (let round = 0; round < 3; round++) {
      const [created] = await this.db
        .insert(zips)
        .values({
          subjectId: key.subjectId,
          styleId: key.styleId,
          baseModel: key.baseModel,
          method: key.method,
          params: key.params,
          paramsHash: hash,
          status: 'pending',
          updatedAt: sql`date_trunc('milliseconds', now())`,
        })
        .onConflictDoNothing({ target: [zips.subjectId, zips.styleId, zips.method, zips.paramsHash] })
        .returning();
      if (created) return { outcome: 'claimed', zip: created, token: created.updatedAt };
      const stale = sql`now() - ${staleMs}::double precision * interval '1 millisecond'`;
      const [taken] = await this.db
        .update(zips)
        .set({ status: 'pending', error: null, updatedAt: NEXT_TOKEN })
        .where(and(this.keyWhere(key, hash), or(eq(zips.status, 'failed'), and(eq(zips.status, 'pending'), lt(zips.updatedAt, stale)))))
        .returning();
      if (taken) return { outcome: 'claimed', zip: taken, token: taken.updatedAt };
      const [row] = await this.db.select().from(zips).where(this.keyWhere(key, hash));
      if (row?.status === 'ready') return { outcome: 'ready', zip: row };
      if (row?.status === 'pending') return { outcome: 'busy', zip: row };
      // Failed or gone between our statements: try again.
    }
    throw new Error('claimZip: the zip row kept changing under three claim attempts');
  }

  /** Renew a claim; the new token, or undefined when the claim was lost. */
  async touchZip(id: string, token: Date): Promise<Date | undefined> {
    const [row] = await this.db
      .update(zips)
      .set({ updatedAt: NEXT_TOKEN })
      .where(this.claimWhere(id, token))
      .returning({ updatedAt: zips.updatedAt });
    return row?.updatedAt;
  }

  /** Store the result of a claimed zip; undefined when the claim was lost. */
  async zipReady(id: string, token: Date, done: ZipDone): Promise<Zip | undefined> {
    const [row] = await this.db
      .update(zips)
      .set({ status: 'ready', storageKey: done.storageKey, stats: done.stats, durationMs: Math.round(done.durationMs), error: null, updatedAt: NEXT_TOKEN })
      .where(this.claimWhere(id, token))
      .returning();
    return row;
  }

  /** Give up a claimed zip (a later job may claim it again); false when the claim was lost. */
  async zipFailed(id: string, token: Date, error: string): Promise<boolean> {
    const rows = await this.db
      .update(zips)
      .set({ status: 'failed', error, updatedAt: NEXT_TOKEN })
      .where(this.claimWhere(id, token))
      .returning({ id: zips.id });
    return rows.length > 0;
  }

  /** The render goes to `running` (first attempt, retry, or take-over after a crash). */
  async startRender(id: string, lease: LeaseRef): Promise<Render | undefined> {
    const [row] = await this.db
      .update(renders)
      .set({ status: 'running', error: null, updatedAt: sql`now()` })
      .where(and(eq(renders.id, id), inArray(renders.status, ['queued', 'running', 'failed']), holds(lease)))
      .returning();
    return row;
  }

  /** The render is done; undefined when the job's lease was lost (another worker owns it now). */
  async finishRender(id: string, lease: LeaseRef, r: { imageKeys: string[]; gridKey: string; zipId: string }): Promise<Render | undefined> {
    const [row] = await this.db
      .update(renders)
      .set({ status: 'done', imageKeys: r.imageKeys, gridKey: r.gridKey, zipId: r.zipId, error: null, finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(renders.id, id), eq(renders.status, 'running'), holds(lease)))
      .returning();
    return row;
  }

  /**
   * Record how an attempt ended without a result: `failed` or `cancelled` (final,
   * with finishedAt), or `queued` again (it will be retried; `error` says why).
   */
  async settleRender(id: string, lease: LeaseRef, status: 'failed' | 'cancelled' | 'queued', error: string | null): Promise<Render | undefined> {
    const final = status !== 'queued';
    const [row] = await this.db
      .update(renders)
      .set({ status, error, finishedAt: final ? sql`now()` : null, updatedAt: sql`now()` })
      .where(and(eq(renders.id, id), inArray(renders.status, ['queued', 'running']), holds(lease)))
      .returning();
    return row;
  }

  /**
   * Which of these storage keys a render, zip or LoRA row names (storage is
   * content-addressed: identical bytes written by another job share the key, so a
   * clean-up deletes only keys no row uses).
   */
  async keysInUse(keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const arr = sql`array[${sql.join(keys.map((k) => sql`${k}`), sql`, `)}]::text[]`;
    // Rare (clean-up after a failed attempt), so plain scans are fine.
    const rows = await queryRows<{ key: string }>(
      this.db,
      sql`select k as key from unnest(${arr}) as k
          where exists (select 1 from renders r where r.grid_key = k or k = any(r.image_keys))
             or exists (select 1 from zips z where z.storage_key = k or position(k in coalesce(z.stats::text, '')) > 0)
             or exists (select 1 from loras l where l.storage_key = k)
             or exists (select 1 from lora_images i where i.storage_key = k)`,
    );
    return new Set(rows.map((r) => r.key));
  }

  private keyWhere(key: Omit<ZipKey, 'baseModel' | 'params'>, hash: string): SQL {
    return and(eq(zips.subjectId, key.subjectId), eq(zips.styleId, key.styleId), eq(zips.method, key.method), eq(zips.paramsHash, hash))!;
  }

  private claimWhere(id: string, token: Date): SQL {
    return and(eq(zips.id, id), eq(zips.status, 'pending'), eq(zips.updatedAt, token))!;
  }
}

/** True while the job's lease is held by the writer. */
function holds(lease: LeaseRef): SQL {
  return sql`exists (select 1 from jobs where jobs.id = ${lease.id} and jobs.lease_id = ${lease.leaseId} and jobs.status = 'running')`;
}
