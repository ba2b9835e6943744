/**
 * Small facts a bot keeps between starts, by key (the `bot_state` table): e.g. the
 * hash of the slash-command definitions last registered on Discord, so a restart
 * registers them again only when they changed.
 *
 * @example
 *   const state = new BotStateStore(bank.db);
 *   if ((await state.get('discord:commands:global')) !== hash) { await register(); await state.set('discord:commands:global', hash); }
 */
import { eq, like, sql } from 'drizzle-orm';
import type { Database } from './db.ts';
import { botState } from './schema.ts';

export class BotStateStore {
  constructor(readonly db: Database) {}

  /** The stored value, or undefined when the key was never set. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const [row] = await this.db.select({ value: botState.value }).from(botState).where(eq(botState.key, key));
    return row?.value as T | undefined;
  }

  /** Insert or replace the key's value. */
  async set(key: string, value: unknown): Promise<void> {
    await this.db
      .insert(botState)
      .values({ key, value })
      .onConflictDoUpdate({ target: botState.key, set: { value, updatedAt: sql`now()` } });
  }

  /** Every stored key that starts with `prefix`, sorted. */
  async keys(prefix: string): Promise<string[]> {
    const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.db.select({ key: botState.key }).from(botState).where(like(botState.key, pattern)).orderBy(botState.key);
    return rows.map((r) => r.key);
  }

  async delete(key: string): Promise<void> {
    await this.db.delete(botState).where(eq(botState.key, key));
  }
}
