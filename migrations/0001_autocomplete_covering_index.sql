-- Autocomplete reads names by prefix. These covering, partial indexes let it answer
-- from the index alone (no heap visits), with or without a kind filter.
-- (INCLUDE is not expressible in the drizzle schema, hence a custom migration.)
CREATE INDEX IF NOT EXISTS "loras_autocomplete_kind_idx" ON "loras" USING btree ("kind", "name" text_pattern_ops)
  INCLUDE ("uses_count", "display_name", "base_model", "nsfw", "visibility", "community_id")
  WHERE "status" = 'active';--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "loras_autocomplete_idx" ON "loras" USING btree ("name" text_pattern_ops)
  INCLUDE ("uses_count", "display_name", "kind", "base_model", "nsfw", "visibility", "community_id")
  WHERE "status" = 'active';
