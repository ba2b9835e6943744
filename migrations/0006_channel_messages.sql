CREATE TABLE "channel_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "channel_messages_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"channel_id" text NOT NULL,
	"invoker_platform" text NOT NULL,
	"invoker_id" text NOT NULL,
	"invoker_name" text,
	"invocation" text DEFAULT '' NOT NULL,
	"reply" jsonb NOT NULL,
	"render_id" uuid,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "channel_messages" ADD CONSTRAINT "channel_messages_render_id_renders_id_fk" FOREIGN KEY ("render_id") REFERENCES "public"."renders"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "channel_messages_channel_seq_idx" ON "channel_messages" USING btree ("channel_id","seq");--> statement-breakpoint
CREATE INDEX "channel_messages_render_idx" ON "channel_messages" USING btree ("render_id");