/**
 * The community LoRA bank: one object over the database and the file store, with
 * the operations the CLI and the bot call.
 *
 * @example
 *   const bank = await Bank.open(loadConfig());
 *   const { lora } = await bank.add({ file: 'corgi.safetensors', name: 'corgi', kind: 'subject', uploader: CLI_ACTOR });
 *   const hits = await bank.autocomplete('cor', { kind: 'subject' });
 *   await bank.close();
 */
import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Config } from '../config.ts';
import { ZipbankError } from '../errors/index.ts';
import { openDatabase, type Database, type OpenedDatabase } from './db.ts';
import { LocalFileStore, type FileStore } from './storage.ts';
import { loraImages, loras, type Community, type Lora, type LoraImage } from './schema.ts';
import { RenderStore } from './renders.ts';
import { BotStateStore } from './bot-state.ts';
import { getCommunity, previewImages } from './communities.ts';
import { addLora, type AddLoraInput, type AddLoraResult } from './upload.ts';
import { autocomplete, searchLoras, type AutocompleteItem, type LoraFilter, type SearchPage, type SearchQuery } from './search.ts';
import { rateLora, recordUse, removeLora, reportLora, type RatingResult } from './moderation.ts';
import type { Actor } from './actor.ts';

export interface BankOptions {
  families: Config['bankFamilies'];
  maxUploadBytes: number;
  admins: string[];
}

export interface LoraDetails {
  lora: Lora;
  images: LoraImage[];
}

export class Bank {
  constructor(
    readonly db: Database,
    readonly store: FileStore,
    readonly options: BankOptions,
    private readonly opened?: OpenedDatabase,
  ) {}

  /** Open the database named by the config (PGlite or Postgres), migrate it, and the local file store. */
  static async open(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'storageDir' | 'bankFamilies' | 'maxUploadMiB' | 'admins'>): Promise<Bank> {
    const opened = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    return new Bank(
      opened.db,
      new LocalFileStore(config.storageDir),
      { families: config.bankFamilies, maxUploadBytes: config.maxUploadMiB * 2 ** 20, admins: config.admins },
      opened,
    );
  }

  get driver(): string {
    return this.opened?.driver ?? 'external';
  }

  get location(): string {
    return this.opened?.location ?? 'external';
  }

  async close(): Promise<void> {
    await this.opened?.close();
  }

  add(input: AddLoraInput): Promise<AddLoraResult> {
    return addLora(
      { db: this.db, store: this.store, families: this.options.families, maxUploadBytes: this.options.maxUploadBytes },
      input,
    );
  }

  /** The live (not removed) entry with this name that the viewer may see, or undefined. */
  async find(name: string, viewer?: Pick<Actor, 'communityId'>): Promise<Lora | undefined> {
    const [row] = await this.db
      .select()
      .from(loras)
      .where(and(eq(loras.name, name.trim().toLowerCase()), ne(loras.status, 'removed')));
    if (!row) return undefined;
    if (row.visibility === 'community' && row.communityId !== viewer?.communityId) return undefined;
    return row;
  }

  async require(name: string, viewer?: Pick<Actor, 'communityId'>): Promise<Lora> {
    const row = await this.find(name, viewer);
    if (!row) throw new ZipbankError('bank.not-found', { name });
    return row;
  }

  async show(name: string, viewer?: Pick<Actor, 'communityId'>): Promise<LoraDetails> {
    const lora = await this.require(name, viewer);
    const images = await this.db.select().from(loraImages).where(eq(loraImages.loraId, lora.id)).orderBy(asc(loraImages.position));
    return { lora, images };
  }

  search(q: SearchQuery): Promise<SearchPage> {
    return searchLoras(this.db, q);
  }

  autocomplete(prefix: string, filter?: LoraFilter, limit?: number): Promise<AutocompleteItem[]> {
    return autocomplete(this.db, prefix, filter, limit);
  }

  async rate(name: string, actor: Actor, stars: number): Promise<RatingResult> {
    return rateLora(this.db, await this.require(name, actor), actor, stars);
  }

  async report(name: string, actor: Actor, reason: string, details?: string): Promise<{ id: string; openReports: number }> {
    return reportLora(this.db, await this.require(name, actor), actor, reason, details);
  }

  async remove(name: string, actor: Actor, reason: string): Promise<Lora> {
    return removeLora(this.db, await this.require(name, actor), actor, this.options.admins, reason);
  }

  recordUse(ids: string[]): Promise<void> {
    return recordUse(this.db, ids);
  }

  /** Counts for start-up logs and the status page. */
  async stats(): Promise<{ loras: number; subjects: number; styles: number }> {
    const [row] = await this.db
      .select({
        loras: sql<number>`count(*)::int`,
        subjects: sql<number>`(count(*) filter (where ${loras.kind} = 'subject'))::int`,
        styles: sql<number>`(count(*) filter (where ${loras.kind} = 'style'))::int`,
      })
      .from(loras)
      .where(eq(loras.status, 'active'));
    return row!;
  }

  /** Renders and their jobs, lineage and messages (the bot's side; the engine fills results). */
  get renders(): RenderStore {
    return (this.renderStore ??= new RenderStore(this.db));
  }

  private renderStore: RenderStore | undefined;

  /** Facts bots keep between starts (e.g. the hash of the registered slash commands). */
  get botState(): BotStateStore {
    return (this.botStateStore ??= new BotStateStore(this.db));
  }

  private botStateStore: BotStateStore | undefined;

  /** The settings row of a community (`platform:id`); undefined when it has none (defaults apply). */
  community(id: string): Promise<Community | undefined> {
    return getCommunity(this.db, id);
  }

  /** Entries by id, any status (renders keep naming LoRAs removed since). */
  async lorasById(ids: readonly string[]): Promise<Map<string, Lora>> {
    const unique = [...new Set(ids)];
    const rows = unique.length ? await this.db.select().from(loras).where(inArray(loras.id, unique)) : [];
    return new Map(rows.map((r) => [r.id, r]));
  }

  /** Preview image keys (reference images by position) per LoRA id. */
  previews(loraIds: readonly string[], perLora?: number): Promise<Map<string, string[]>> {
    return previewImages(this.db, loraIds, perLora);
  }
}

export { CLI_ACTOR, type Actor } from './actor.ts';
export type { AddLoraInput, AddLoraResult } from './upload.ts';
export type { SearchQuery, SearchPage, LoraFilter, AutocompleteItem, SortOrder } from './search.ts';
export { REPORT_REASONS } from './moderation.ts';
export { BotStateStore } from './bot-state.ts';
export { RenderStore, shortId, isUuid, type NewRender, type RenderQuota, type CreateRenderOptions, type RenderRef } from './renders.ts';
