CREATE TYPE "public"."base_model" AS ENUM('sd15', 'sd2', 'sdxl', 'unknown');--> statement-breakpoint
CREATE TYPE "public"."commercial_use" AS ENUM('none', 'image', 'rent', 'sell');--> statement-breakpoint
CREATE TYPE "public"."lora_kind" AS ENUM('subject', 'style', 'other');--> statement-breakpoint
CREATE TYPE "public"."lora_status" AS ENUM('active', 'hidden', 'removed');--> statement-breakpoint
CREATE TYPE "public"."render_status" AS ENUM('queued', 'running', 'done', 'failed', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."report_status" AS ENUM('open', 'resolved', 'dismissed');--> statement-breakpoint
CREATE TYPE "public"."visibility" AS ENUM('public', 'community');--> statement-breakpoint
CREATE TYPE "public"."zip_status" AS ENUM('pending', 'ready', 'failed');--> statement-breakpoint
CREATE TABLE "communities" (
	"id" text PRIMARY KEY NOT NULL,
	"platform" text NOT NULL,
	"name" text,
	"defaults" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"max_concurrent_jobs_per_user" integer DEFAULT 2 NOT NULL,
	"jobs_per_hour_per_user" integer DEFAULT 30 NOT NULL,
	"moderator_role_ids" text[] DEFAULT '{}'::text[] NOT NULL,
	"nsfw_allowed" boolean DEFAULT false NOT NULL,
	"prompt_filter" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lora_images" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"lora_id" uuid NOT NULL,
	"position" smallint NOT NULL,
	"storage_key" text NOT NULL,
	"prompt" text,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"source" text DEFAULT 'upload' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "loras" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"display_name" text NOT NULL,
	"kind" "lora_kind" NOT NULL,
	"base_model" "base_model" NOT NULL,
	"format" text NOT NULL,
	"ranks" integer[] DEFAULT '{}'::integer[] NOT NULL,
	"alphas" real[] DEFAULT '{}'::real[] NOT NULL,
	"module_count" integer NOT NULL,
	"unet_modules" integer DEFAULT 0 NOT NULL,
	"text_encoder_modules" integer DEFAULT 0 NOT NULL,
	"instance_prompt" text,
	"trigger_words" text[] DEFAULT '{}'::text[] NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"license_name" text,
	"allow_no_credit" boolean DEFAULT true NOT NULL,
	"allow_commercial_use" "commercial_use" DEFAULT 'sell' NOT NULL,
	"allow_derivatives" boolean DEFAULT true NOT NULL,
	"nsfw" boolean DEFAULT false NOT NULL,
	"uploader_platform" text NOT NULL,
	"uploader_id" text NOT NULL,
	"uploader_name" text,
	"visibility" "visibility" DEFAULT 'public' NOT NULL,
	"community_id" text,
	"file_sha256" text NOT NULL,
	"tensor_sha256" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"storage_key" text NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"warnings" text[] DEFAULT '{}'::text[] NOT NULL,
	"status" "lora_status" DEFAULT 'active' NOT NULL,
	"status_reason" text,
	"uses_count" integer DEFAULT 0 NOT NULL,
	"rating_count" integer DEFAULT 0 NOT NULL,
	"rating_mean" double precision DEFAULT 0 NOT NULL,
	"keywords" text DEFAULT '' NOT NULL,
	"search" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english', coalesce("name", '')), 'A') || setweight(to_tsvector('english', coalesce("display_name", '')), 'A') || setweight(to_tsvector('english', coalesce("keywords", '')), 'B') || setweight(to_tsvector('english', coalesce("description", '')), 'C')) STORED NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ratings" (
	"lora_id" uuid NOT NULL,
	"platform" text NOT NULL,
	"user_id" text NOT NULL,
	"stars" smallint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ratings_lora_id_platform_user_id_pk" PRIMARY KEY("lora_id","platform","user_id")
);
--> statement-breakpoint
CREATE TABLE "renders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"zip_id" uuid,
	"subject_id" uuid,
	"style_id" uuid,
	"parent_id" uuid,
	"prompt" text NOT NULL,
	"negative_prompt" text DEFAULT '' NOT NULL,
	"seed" bigint NOT NULL,
	"steps" integer NOT NULL,
	"guidance" real NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"count" smallint DEFAULT 4 NOT NULL,
	"style_strength" real DEFAULT 1 NOT NULL,
	"scheduler" text NOT NULL,
	"method" text DEFAULT 'ziplora' NOT NULL,
	"image_keys" text[] DEFAULT '{}'::text[] NOT NULL,
	"grid_key" text,
	"status" "render_status" DEFAULT 'queued' NOT NULL,
	"error" text,
	"requester_platform" text NOT NULL,
	"requester_id" text NOT NULL,
	"requester_name" text,
	"platform" text NOT NULL,
	"community_id" text,
	"channel_id" text,
	"message_id" text,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"lora_id" uuid NOT NULL,
	"reporter_platform" text NOT NULL,
	"reporter_id" text NOT NULL,
	"reason" text NOT NULL,
	"details" text DEFAULT '' NOT NULL,
	"status" "report_status" DEFAULT 'open' NOT NULL,
	"resolved_by" text,
	"resolved_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "zips" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subject_id" uuid NOT NULL,
	"style_id" uuid NOT NULL,
	"base_model" "base_model" NOT NULL,
	"method" text NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"params_hash" text NOT NULL,
	"status" "zip_status" DEFAULT 'pending' NOT NULL,
	"storage_key" text,
	"stats" jsonb,
	"error" text,
	"duration_ms" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "lora_images" ADD CONSTRAINT "lora_images_lora_id_loras_id_fk" FOREIGN KEY ("lora_id") REFERENCES "public"."loras"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ratings" ADD CONSTRAINT "ratings_lora_id_loras_id_fk" FOREIGN KEY ("lora_id") REFERENCES "public"."loras"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renders" ADD CONSTRAINT "renders_zip_id_zips_id_fk" FOREIGN KEY ("zip_id") REFERENCES "public"."zips"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renders" ADD CONSTRAINT "renders_subject_id_loras_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."loras"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renders" ADD CONSTRAINT "renders_style_id_loras_id_fk" FOREIGN KEY ("style_id") REFERENCES "public"."loras"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renders" ADD CONSTRAINT "renders_parent_id_renders_id_fk" FOREIGN KEY ("parent_id") REFERENCES "public"."renders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reports" ADD CONSTRAINT "reports_lora_id_loras_id_fk" FOREIGN KEY ("lora_id") REFERENCES "public"."loras"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "zips" ADD CONSTRAINT "zips_subject_id_loras_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."loras"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "zips" ADD CONSTRAINT "zips_style_id_loras_id_fk" FOREIGN KEY ("style_id") REFERENCES "public"."loras"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "lora_images_lora_pos_uq" ON "lora_images" USING btree ("lora_id","position");--> statement-breakpoint
CREATE UNIQUE INDEX "loras_name_live_uq" ON "loras" USING btree ("name") WHERE "loras"."status" <> 'removed';--> statement-breakpoint
CREATE UNIQUE INDEX "loras_tensor_sha256_uq" ON "loras" USING btree ("tensor_sha256");--> statement-breakpoint
CREATE INDEX "loras_search_gin" ON "loras" USING gin ("search");--> statement-breakpoint
CREATE INDEX "loras_name_prefix_idx" ON "loras" USING btree ("name" text_pattern_ops);--> statement-breakpoint
CREATE INDEX "loras_uses_idx" ON "loras" USING btree ("uses_count" DESC NULLS LAST,"id");--> statement-breakpoint
CREATE INDEX "loras_rating_idx" ON "loras" USING btree ("rating_mean" DESC NULLS LAST,"id");--> statement-breakpoint
CREATE INDEX "loras_created_idx" ON "loras" USING btree ("created_at" DESC NULLS LAST,"id");--> statement-breakpoint
CREATE INDEX "loras_uploader_idx" ON "loras" USING btree ("uploader_platform","uploader_id");--> statement-breakpoint
CREATE INDEX "loras_tags_gin" ON "loras" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "renders_parent_idx" ON "renders" USING btree ("parent_id");--> statement-breakpoint
CREATE INDEX "renders_requester_idx" ON "renders" USING btree ("requester_platform","requester_id","created_at");--> statement-breakpoint
CREATE INDEX "renders_zip_idx" ON "renders" USING btree ("zip_id");--> statement-breakpoint
CREATE INDEX "reports_lora_status_idx" ON "reports" USING btree ("lora_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "zips_pair_method_params_uq" ON "zips" USING btree ("subject_id","style_id","method","params_hash");