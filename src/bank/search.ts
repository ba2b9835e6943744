/**
 * Browsing the bank: full-text search (Postgres tsvector + GIN), filters, sorts,
 * cursor pagination, and prefix autocomplete for chat (at most 25 results).
 *
 * @example
 *   const page = await searchLoras(db, { text: 'water', kind: 'style', sort: 'popular', limit: 10 });
 *   const next = await searchLoras(db, { text: 'water', kind: 'style', sort: 'popular', limit: 10, cursor: page.nextCursor });
 */
import { and, arrayContains, eq, or, sql, type SQL } from 'drizzle-orm';
import { ZipbankError } from '../errors/index.ts';
import { loras, type Lora } from './schema.ts';
import { queryRows, type Database } from './db.ts';

export type SortOrder = 'relevance' | 'popular' | 'rating' | 'newest';

export interface LoraFilter {
  kind?: 'subject' | 'style' | 'other';
  baseModel?: 'sd15' | 'sd2' | 'sdxl' | 'world';
  /** Include NSFW entries (default false). */
  nsfw?: boolean;
  /** Every tag must be present. */
  tags?: string[];
  uploader?: { platform: string; userId: string };
  /** The viewer's community: community-only entries of other communities are invisible. */
  communityId?: string;
}

export interface SearchQuery extends LoraFilter {
  text?: string;
  /** Default: relevance when `text` is given, else popular. */
  sort?: SortOrder;
  /** 1-100, default 20. */
  limit?: number;
  cursor?: string;
}

export type LoraSummary = Pick<
  Lora,
  | 'id'
  | 'name'
  | 'displayName'
  | 'kind'
  | 'baseModel'
  | 'description'
  | 'tags'
  | 'triggerWords'
  | 'nsfw'
  | 'usesCount'
  | 'ratingCount'
  | 'ratingMean'
  | 'createdAt'
  | 'uploaderPlatform'
  | 'uploaderId'
  | 'uploaderName'
>;

export interface SearchPage {
  items: LoraSummary[];
  nextCursor: string | undefined;
}

const summaryColumns = {
  id: loras.id,
  name: loras.name,
  displayName: loras.displayName,
  kind: loras.kind,
  baseModel: loras.baseModel,
  description: loras.description,
  tags: loras.tags,
  triggerWords: loras.triggerWords,
  nsfw: loras.nsfw,
  usesCount: loras.usesCount,
  ratingCount: loras.ratingCount,
  ratingMean: loras.ratingMean,
  createdAt: loras.createdAt,
  uploaderPlatform: loras.uploaderPlatform,
  uploaderId: loras.uploaderId,
  uploaderName: loras.uploaderName,
};

/** Words of a user query, lowercased, at most 8. */
export function queryTerms(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 8);
}

/** A to_tsquery string: every term required, the last one as a prefix (typing "water" finds "watercolor"). */
export function tsqueryFor(text: string): string | undefined {
  const terms = queryTerms(text);
  if (terms.length === 0) return undefined;
  return terms.map((t, i) => (i === terms.length - 1 ? `${t}:*` : t)).join(' & ');
}

export function filterConditions(f: LoraFilter): SQL[] {
  const c: SQL[] = [eq(loras.status, 'active')];
  if (f.kind) c.push(eq(loras.kind, f.kind));
  if (f.baseModel) c.push(eq(loras.baseModel, f.baseModel));
  if (!f.nsfw) c.push(eq(loras.nsfw, false));
  if (f.tags?.length) c.push(arrayContains(loras.tags, f.tags.map((t) => t.toLowerCase())));
  if (f.uploader) c.push(and(eq(loras.uploaderPlatform, f.uploader.platform), eq(loras.uploaderId, f.uploader.userId))!);
  c.push(
    f.communityId
      ? or(eq(loras.visibility, 'public'), eq(loras.communityId, f.communityId))!
      : eq(loras.visibility, 'public'),
  );
  return c;
}

interface Cursor {
  s: SortOrder;
  /** Keyset: the last row's sort value (not for newest) and id. */
  v?: number;
  id?: string;
  /** Relevance: offset within the ranked window. */
  o?: number;
}

/** Relevance ranks the this-many most used matches (see searchLoras). */
export const RELEVANCE_WINDOW = 300;

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string, sort: SortOrder): Cursor {
  try {
    const c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Cursor;
    if (c.s !== sort) throw new Error('sort changed');
    return c;
  } catch (e) {
    throw new ZipbankError('bank.invalid-cursor', {}, { cause: e });
  }
}

/** How far autocomplete walks the popularity index for a one- or two-letter prefix. */
const SHORT_PREFIX_WINDOW = 600;

export async function searchLoras(db: Database, q: SearchQuery): Promise<SearchPage> {
  const limit = q.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new ZipbankError('bank.invalid-query', { reason: `limit must be 1-100, got ${limit}` });
  }
  const tsq = q.text ? tsqueryFor(q.text) : undefined;
  if (q.text && !tsq) return { items: [], nextCursor: undefined };
  const sort: SortOrder = q.sort ?? (tsq ? 'relevance' : 'popular');
  if (sort === 'relevance' && !tsq) throw new ZipbankError('bank.invalid-query', { reason: 'relevance sort needs search text' });
  const cursor = q.cursor ? decodeCursor(q.cursor, sort) : undefined;
  const where = filterConditions(q);
  const query = tsq ? sql`to_tsquery('english', ${tsq})` : undefined;
  if (query) where.push(sql`${loras.search} @@ ${query}`);

  if (sort === 'relevance') {
    // Rank the RELEVANCE_WINDOW most used matches by ts_rank, reading only columns carried
    // by the covering index `loras_popular_search_idx` (an index-only walk in popularity
    // order), then fetch the page's rows. Pages past the window are not offered: a
    // broad query is narrowed with filters, or browsed with sort=popular (unbounded keyset).
    const offset = cursor?.o ?? 0;
    const candidates = db
      .select({ id: loras.id, usesCount: loras.usesCount, search: loras.search })
      .from(loras)
      .where(and(...where))
      .orderBy(sql`${loras.usesCount} desc nulls last`, loras.id)
      .limit(RELEVANCE_WINDOW)
      .as('candidates');
    const ranked = db
      .select({ id: candidates.id, rank: sql<number>`ts_rank(${candidates.search}, ${query})`.as('rank'), uses: candidates.usesCount })
      .from(candidates)
      .orderBy(sql`2 desc`, sql`3 desc`, candidates.id)
      .limit(limit + 1)
      .offset(offset)
      .as('ranked');
    const rows = await db
      .select(summaryColumns)
      .from(ranked)
      .innerJoin(loras, eq(loras.id, ranked.id))
      .orderBy(sql`${ranked.rank} desc`, sql`${ranked.uses} desc`, ranked.id);
    return page(rows, limit, () => ({ s: sort, o: offset + limit }));
  }

  const col = sort === 'popular' ? loras.usesCount : sort === 'rating' ? loras.ratingMean : loras.createdAt;
  if (cursor) {
    // created_at never changes, so "newest" pages from the row itself (exact to the microsecond);
    // counters may change between pages, so their cursor carries the value it was read at.
    const v = sort === 'newest' ? sql`(select ${loras.createdAt} from ${loras} where ${loras.id} = ${cursor.id})` : sql`${cursor.v}`;
    where.push(sql`(${col} < ${v} or (${col} = ${v} and ${loras.id} > ${cursor.id}))`);
  }
  const rows = await db
    .select(summaryColumns)
    .from(loras)
    .where(and(...where))
    .orderBy(sql`${col} desc nulls last`, loras.id)
    .limit(limit + 1);
  return page(rows, limit, (last) => ({
    s: sort,
    v: sort === 'popular' ? last.usesCount : sort === 'rating' ? last.ratingMean : undefined,
    id: last.id,
  }));
}

function page(rows: LoraSummary[], limit: number, next: (last: LoraSummary) => Cursor): SearchPage {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? encodeCursor(next(items[items.length - 1]!)) : undefined };
}

export interface AutocompleteItem {
  name: string;
  displayName: string;
  kind: 'subject' | 'style' | 'other';
  baseModel: 'sd15' | 'sd2' | 'sdxl' | 'world' | 'unknown';
}

/**
 * Names for a chat autocomplete box: entries whose name starts with the typed text
 * first (most used first), then entries whose display name, tags or trigger words
 * start with it. At most 25, as Discord allows.
 */
export async function autocomplete(db: Database, prefix: string, filter: LoraFilter = {}, limit = 25): Promise<AutocompleteItem[]> {
  const max = Math.min(Math.max(1, limit), 25);
  const p = prefix.trim().toLowerCase();
  const where = and(...filterConditions(filter));
  const cols = { name: loras.name, displayName: loras.displayName, kind: loras.kind, baseModel: loras.baseModel };
  if (!p) {
    return db.select(cols).from(loras).where(where).orderBy(sql`${loras.usesCount} desc nulls last`, loras.id).limit(max);
  }
  const escaped = p.replace(/[\\%_]/g, (m) => `\\${m}`);
  if (p.length <= 2) {
    // A short prefix matches many names: the most used matches are usually among the
    // most used entries overall, found by walking the popularity index a little way.
    // If 25 matches turn up there, they are exactly the answer.
    const top = await queryRows<AutocompleteItem>(
      db,
      sql`select name, "displayName", kind, "baseModel" from (
            select ${loras.name} as name, ${loras.displayName} as "displayName", ${loras.kind} as kind,
                   ${loras.baseModel} as "baseModel", ${loras.usesCount} as uses, ${loras.id} as id
            from ${loras} where ${where}
            order by ${loras.usesCount} desc nulls last, ${loras.id} limit ${SHORT_PREFIX_WINDOW}) t
          where name like ${escaped + '%'} order by uses desc, id limit ${max}`,
    );
    if (top.length >= max) return top;
  }
  // Names by prefix, most used first. The materialised CTE keeps the planner on the
  // prefix index (answered from the covering index alone) instead of walking the
  // whole popularity index when a filter makes matches rare.
  const byName = await queryRows<AutocompleteItem>(
    db,
    sql`with m as materialized (
          select ${loras.name} as name, ${loras.displayName} as "displayName", ${loras.kind} as kind,
                 ${loras.baseModel} as "baseModel", ${loras.usesCount} as uses
          from ${loras} where ${where} and ${loras.name} like ${escaped + '%'})
        select name, "displayName", kind, "baseModel" from m order by uses desc, name limit ${max}`,
  );
  const tsq = tsqueryFor(p);
  if (byName.length >= max || !tsq) return byName;
  const more = await db
    .select(cols)
    .from(loras)
    .where(and(where, sql`${loras.search} @@ to_tsquery('english', ${tsq})`, sql`${loras.name} not like ${escaped + '%'}`))
    .orderBy(sql`${loras.usesCount} desc nulls last`, loras.id)
    .limit(max - byName.length);
  return [...byName, ...more];
}

