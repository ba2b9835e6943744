/**
 * The bank's tables (drizzle-orm, pg-core): the same schema runs on PGlite and on
 * PostgreSQL. Migrations are generated from this file by drizzle-kit into
 * `migrations/` (`npm run db:generate`) and applied at start-up.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgSequence,
  pgTable,
  primaryKey,
  real,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const loraKind = pgEnum('lora_kind', ['subject', 'style', 'other']);
export const baseModel = pgEnum('base_model', ['sd15', 'sd2', 'sdxl', 'world', 'unknown']);
export const loraStatus = pgEnum('lora_status', ['active', 'hidden', 'removed']);
export const visibility = pgEnum('visibility', ['public', 'community']);
export const commercialUse = pgEnum('commercial_use', ['none', 'image', 'rent', 'sell']);
export const zipStatus = pgEnum('zip_status', ['pending', 'ready', 'failed']);
export const renderStatus = pgEnum('render_status', ['queued', 'running', 'done', 'failed', 'cancelled']);
export const reportStatus = pgEnum('report_status', ['open', 'resolved', 'dismissed']);

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const loras = pgTable(
  'loras',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Stable short name typed in chat (`corgi`). Unique among entries not removed. */
    name: text('name').notNull(),
    displayName: text('display_name').notNull(),
    kind: loraKind('kind').notNull(),
    baseModel: baseModel('base_model').notNull(),
    format: text('format').notNull(),
    ranks: integer('ranks').array().notNull().default(sql`'{}'::integer[]`),
    alphas: real('alphas').array().notNull().default(sql`'{}'::real[]`),
    moduleCount: integer('module_count').notNull(),
    unetModules: integer('unet_modules').notNull().default(0),
    textEncoderModules: integer('text_encoder_modules').notNull().default(0),
    instancePrompt: text('instance_prompt'),
    triggerWords: text('trigger_words').array().notNull().default(sql`'{}'::text[]`),
    description: text('description').notNull().default(''),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    licenseName: text('license_name'),
    allowNoCredit: boolean('allow_no_credit').notNull().default(true),
    allowCommercialUse: commercialUse('allow_commercial_use').notNull().default('sell'),
    allowDerivatives: boolean('allow_derivatives').notNull().default(true),
    nsfw: boolean('nsfw').notNull().default(false),
    uploaderPlatform: text('uploader_platform').notNull(),
    uploaderId: text('uploader_id').notNull(),
    uploaderName: text('uploader_name'),
    visibility: visibility('visibility').notNull().default('public'),
    /** `platform:guild/workspace id` when visibility is `community`. */
    communityId: text('community_id'),
    fileSha256: text('file_sha256').notNull(),
    /** SHA-256 over the tensor data only (kohya's addnet hash): the dedup key. */
    tensorSha256: text('tensor_sha256').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    storageKey: text('storage_key').notNull(),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    /** Warnings from format detection, e.g. metadata that disagrees with the tensors. */
    warnings: text('warnings').array().notNull().default(sql`'{}'::text[]`),
    status: loraStatus('status').notNull().default('active'),
    statusReason: text('status_reason'),
    usesCount: integer('uses_count').notNull().default(0),
    ratingCount: integer('rating_count').notNull().default(0),
    ratingMean: doublePrecision('rating_mean').notNull().default(0),
    /** Tags and trigger words joined; maintained by the bank on write (feeds `search`). */
    keywords: text('keywords').notNull().default(''),
    search: tsvector('search')
      .notNull()
      .generatedAlwaysAs(
        sql`setweight(to_tsvector('english', coalesce("name", '')), 'A') || setweight(to_tsvector('english', coalesce("display_name", '')), 'A') || setweight(to_tsvector('english', coalesce("keywords", '')), 'B') || setweight(to_tsvector('english', coalesce("description", '')), 'C')`,
      ),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('loras_name_live_uq').on(t.name).where(sql`${t.status} <> 'removed'`),
    uniqueIndex('loras_tensor_sha256_uq').on(t.tensorSha256),
    index('loras_search_gin').using('gin', t.search),
    index('loras_name_prefix_idx').on(sql`${t.name} text_pattern_ops`),
    index('loras_uses_idx').on(t.usesCount.desc(), t.id),
    index('loras_kind_base_uses_idx').on(t.kind, t.baseModel, t.usesCount.desc(), t.id),
    index('loras_rating_idx').on(t.ratingMean.desc(), t.id),
    index('loras_created_idx').on(t.createdAt.desc(), t.id),
    index('loras_uploader_idx').on(t.uploaderPlatform, t.uploaderId),
    index('loras_tags_gin').using('gin', t.tags),
  ],
);

/** Reference images of a LoRA (its training images or generated samples), with their prompts. */
export const loraImages = pgTable(
  'lora_images',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    loraId: uuid('lora_id')
      .notNull()
      .references(() => loras.id, { onDelete: 'cascade' }),
    position: smallint('position').notNull(),
    storageKey: text('storage_key').notNull(),
    prompt: text('prompt'),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    /** `upload` (given by the uploader), `training`, or `generated` by the engine. */
    source: text('source').notNull().default('upload'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('lora_images_lora_pos_uq').on(t.loraId, t.position)],
);

export const zips = pgTable(
  'zips',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    subjectId: uuid('subject_id')
      .notNull()
      .references(() => loras.id),
    styleId: uuid('style_id')
      .notNull()
      .references(() => loras.id),
    baseModel: baseModel('base_model').notNull(),
    method: text('method').notNull(),
    /** Canonical JSON of the parameters; `paramsHash` is its SHA-256 (part of the unique key). */
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    paramsHash: text('params_hash').notNull(),
    status: zipStatus('status').notNull().default('pending'),
    /** Storage key of the merger vectors (compact safetensors). */
    storageKey: text('storage_key'),
    stats: jsonb('stats').$type<Record<string, unknown>>(),
    error: text('error'),
    durationMs: integer('duration_ms'),
    ...timestamps,
  },
  (t) => [uniqueIndex('zips_pair_method_params_uq').on(t.subjectId, t.styleId, t.method, t.paramsHash)],
);

export const renders = pgTable(
  'renders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    zipId: uuid('zip_id').references(() => zips.id),
    subjectId: uuid('subject_id').references(() => loras.id),
    styleId: uuid('style_id').references(() => loras.id),
    parentId: uuid('parent_id').references((): AnyPgColumn => renders.id),
    prompt: text('prompt').notNull(),
    negativePrompt: text('negative_prompt').notNull().default(''),
    seed: bigint('seed', { mode: 'number' }).notNull(),
    steps: integer('steps').notNull(),
    guidance: real('guidance').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    count: smallint('count').notNull().default(4),
    styleStrength: real('style_strength').notNull().default(1),
    scheduler: text('scheduler').notNull(),
    method: text('method').notNull().default('ziplora'),
    /** Storage keys of the images, in order; `gridKey` is the composed grid. */
    imageKeys: text('image_keys').array().notNull().default(sql`'{}'::text[]`),
    gridKey: text('grid_key'),
    status: renderStatus('status').notNull().default('queued'),
    error: text('error'),
    requesterPlatform: text('requester_platform').notNull(),
    requesterId: text('requester_id').notNull(),
    requesterName: text('requester_name'),
    platform: text('platform').notNull(),
    communityId: text('community_id'),
    channelId: text('channel_id'),
    messageId: text('message_id'),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    index('renders_parent_idx').on(t.parentId),
    index('renders_requester_idx').on(t.requesterPlatform, t.requesterId, t.createdAt),
    index('renders_zip_idx').on(t.zipId),
  ],
);

/** One rating per user per LoRA; the aggregate lives on `loras`. */
export const ratings = pgTable(
  'ratings',
  {
    loraId: uuid('lora_id')
      .notNull()
      .references(() => loras.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    userId: text('user_id').notNull(),
    stars: smallint('stars').notNull(),
    ...timestamps,
  },
  (t) => [primaryKey({ columns: [t.loraId, t.platform, t.userId] })],
);

export const reports = pgTable(
  'reports',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    loraId: uuid('lora_id')
      .notNull()
      .references(() => loras.id, { onDelete: 'cascade' }),
    reporterPlatform: text('reporter_platform').notNull(),
    reporterId: text('reporter_id').notNull(),
    reason: text('reason').notNull(),
    details: text('details').notNull().default(''),
    status: reportStatus('status').notNull().default('open'),
    resolvedBy: text('resolved_by'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('reports_lora_status_idx').on(t.loraId, t.status)],
);

/** Per-community settings: a Discord guild, a Slack workspace, the local web channel. */
export const communities = pgTable('communities', {
  /** `platform:external id`, e.g. `discord:1234`. */
  id: text('id').primaryKey(),
  platform: text('platform').notNull(),
  name: text('name'),
  /** Defaults for /zip in this community (steps, guidance, count, scheduler, method). */
  defaults: jsonb('defaults').$type<Record<string, unknown>>().notNull().default({}),
  maxConcurrentJobsPerUser: integer('max_concurrent_jobs_per_user').notNull().default(2),
  jobsPerHourPerUser: integer('jobs_per_hour_per_user').notNull().default(30),
  moderatorRoleIds: text('moderator_role_ids').array().notNull().default(sql`'{}'::text[]`),
  nsfwAllowed: boolean('nsfw_allowed').notNull().default(false),
  promptFilter: text('prompt_filter').array().notNull().default(sql`'{}'::text[]`),
  ...timestamps,
});

export type Lora = typeof loras.$inferSelect;
export type NewLora = typeof loras.$inferInsert;
export type LoraImage = typeof loraImages.$inferSelect;
export type Zip = typeof zips.$inferSelect;
export type Render = typeof renders.$inferSelect;
export type Community = typeof communities.$inferSelect;

/*
 * The job queue (src/bank/jobs.ts runs it; src/jobs drives it).
 *
 * Why a table of our own rather than pg-boss: pg-boss has no fairness across users
 * (it is FIFO/priority per queue; a user with 20 jobs would starve four others),
 * it needs real PostgreSQL (LISTEN/NOTIFY, its own schema and maintenance cron) and
 * does not run on PGlite, the embedded default, so we would need two queues. One
 * table on the bank's database gives one code path for PGlite and Postgres, caps and
 * round-robin inside a single claiming statement, and job rows that join to renders.
 */
export const jobStatus = pgEnum('job_status', ['queued', 'running', 'done', 'failed', 'cancelled', 'dead']);

/** What a handler reports while running: `zipping` 37/100, `rendering` 2/4. */
export interface JobProgress {
  phase: string;
  step?: number;
  total?: number;
  message?: string;
}

/** Hands out the "served" order: the owner served least recently goes first. */
export const jobServeSeq = pgSequence('job_serve_seq');

export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** FIFO order within a user (timestamps tie inside one transaction). */
    seq: bigint('seq', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    /** `render`, `zip`, ...: which handler runs it. */
    kind: text('kind').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull().default({}),
    ownerPlatform: text('owner_platform').notNull(),
    ownerId: text('owner_id').notNull(),
    communityId: text('community_id'),
    renderId: uuid('render_id').references(() => renders.id, { onDelete: 'set null' }),
    zipId: uuid('zip_id').references(() => zips.id, { onDelete: 'set null' }),
    /** Higher runs first, across users (system classes: interactive vs background). */
    priority: integer('priority').notNull().default(0),
    status: jobStatus('status').notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(3),
    /** Not claimable before this (retry backoff). */
    runAfter: timestamp('run_after', { withTimezone: true }).notNull().defaultNow(),
    workerId: text('worker_id'),
    /** Fencing token of the current claim: every worker write names it. */
    leaseId: uuid('lease_id'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    progress: jsonb('progress').$type<JobProgress>(),
    progressAt: timestamp('progress_at', { withTimezone: true }),
    result: jsonb('result').$type<unknown>(),
    error: text('error'),
    errorCode: text('error_code'),
    /** Start of the latest attempt. */
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    /** Claims walk the distinct owners of queued jobs and take each one's head (skip scan). */
    index('jobs_queued_owner_idx').on(t.ownerPlatform, t.ownerId, t.priority.desc(), t.seq).where(sql`${t.status} = 'queued'`),
    index('jobs_running_lease_idx').on(t.leaseExpiresAt).where(sql`${t.status} = 'running'`),
    index('jobs_owner_idx').on(t.ownerPlatform, t.ownerId, t.createdAt),
    index('jobs_render_idx').on(t.renderId),
    index('jobs_kind_finished_idx').on(t.kind, t.finishedAt.desc()).where(sql`${t.status} = 'done'`),
  ],
);

/** One row per user who ever queued a job: running count (for caps) and when last served (fairness). */
export const jobOwners = pgTable(
  'job_owners',
  {
    platform: text('platform').notNull(),
    userId: text('user_id').notNull(),
    running: integer('running').notNull().default(0),
    /** From `job_serve_seq`; 0 = never served. */
    lastServed: bigint('last_served', { mode: 'number' }).notNull().default(0),
    lastServedAt: timestamp('last_served_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.platform, t.userId] })],
);

export type Job = typeof jobs.$inferSelect;
export type NewJob = typeof jobs.$inferInsert;
export type JobStatus = Job['status'];

/**
 * The messages of a chat channel that zipbank keeps itself (the local web channel;
 * Discord and Slack keep their own): the bot's public replies with who invoked
 * them, edited in place while a render moves. Private (ephemeral) replies are never
 * stored. `version` goes up with every edit (clients keep the newest).
 */
export const channelMessages = pgTable(
  'channel_messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Order of posting within the database. */
    seq: bigint('seq', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    /** `web:local/main`: community and channel. */
    channelId: text('channel_id').notNull(),
    invokerPlatform: text('invoker_platform').notNull(),
    invokerId: text('invoker_id').notNull(),
    invokerName: text('invoker_name'),
    /** What the user did: the command line typed, or the button clicked. */
    invocation: text('invocation').notNull().default(''),
    /** The bot's reply (the core's platform-neutral message, without file bytes). */
    reply: jsonb('reply').$type<Record<string, unknown>>().notNull(),
    /** The render this message follows, if any. */
    renderId: uuid('render_id').references(() => renders.id, { onDelete: 'set null' }),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (t) => [index('channel_messages_channel_seq_idx').on(t.channelId, t.seq), index('channel_messages_render_idx').on(t.renderId)],
);

export type ChannelMessage = typeof channelMessages.$inferSelect;

/**
 * Small facts a bot keeps between starts, by key: e.g. `discord:commands:<scope>`
 * holds the hash of the slash-command definitions last registered there, so that
 * commands are registered again only when they changed.
 */
export const botState = pgTable('bot_state', {
  key: text('key').primaryKey(),
  value: jsonb('value').$type<unknown>().notNull(),
  ...timestamps,
});
