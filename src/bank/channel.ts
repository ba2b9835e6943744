/**
 * The messages of a channel zipbank hosts itself (the local web channel): the bot's
 * public replies with who invoked them, stored so that a reloaded page shows the
 * history and a restarted bot keeps editing the messages of renders still running
 * (the render row's `message_id` names the message). Edits bump `version`.
 *
 * @example
 *   const store = new ChannelStore(bank.db);
 *   const m = await store.post({ channelId: 'web:local/main', invokerPlatform: 'web', invokerId: 'ann', invocation: '/zip ...', reply });
 *   await store.edit(m.id, nextReply);
 *   const history = await store.recent('web:local/main', 50); // oldest first
 */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { queryRows, type Database } from './db.ts';
import { channelMessages, renders, type ChannelMessage } from './schema.ts';

export type NewChannelMessage = Pick<typeof channelMessages.$inferInsert, 'channelId' | 'invokerPlatform' | 'invokerId' | 'invokerName' | 'invocation' | 'renderId'> & {
  reply: Record<string, unknown>;
};

export class ChannelStore {
  constructor(readonly db: Database) {}

  async post(m: NewChannelMessage): Promise<ChannelMessage> {
    const [row] = await this.db.insert(channelMessages).values(m).returning();
    return row!;
  }

  /** Replace a message's reply (version + 1); undefined when there is no such message. */
  async edit(id: string, reply: Record<string, unknown>): Promise<ChannelMessage | undefined> {
    const [row] = await this.db
      .update(channelMessages)
      .set({ reply, version: sql`${channelMessages.version} + 1`, updatedAt: sql`now()` })
      .where(eq(channelMessages.id, id))
      .returning();
    return row;
  }

  async get(id: string): Promise<ChannelMessage | undefined> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return undefined;
    const [row] = await this.db.select().from(channelMessages).where(eq(channelMessages.id, id));
    return row;
  }

  /** The latest `limit` messages of a channel (before `beforeSeq` when given), oldest first. */
  async recent(channelId: string, limit = 100, beforeSeq?: number): Promise<ChannelMessage[]> {
    const where = beforeSeq === undefined ? eq(channelMessages.channelId, channelId) : and(eq(channelMessages.channelId, channelId), lt(channelMessages.seq, beforeSeq));
    const rows = await this.db.select().from(channelMessages).where(where).orderBy(desc(channelMessages.seq)).limit(limit);
    return rows.reverse();
  }

  /** Whether a message of the channel names this storage key (in a card's images or an attachment). */
  /** True when `key` is an image of some render (what chat platforms link to when a file is too large to upload). */
  async isRenderImage(key: string): Promise<boolean> {
    const rows = await queryRows<{ hit: number }>(
      this.db,
      sql`select 1 as hit from ${renders} where ${renders.gridKey} = ${key} or ${key} = any(${renders.imageKeys}) limit 1`,
    );
    return rows.length > 0;
  }

  async references(channelId: string, key: string): Promise<boolean> {
    const rows = await queryRows<{ hit: number }>(
      this.db,
      sql`select 1 as hit from ${channelMessages}
          where ${channelMessages.channelId} = ${channelId} and position(${JSON.stringify(key)} in ${channelMessages.reply}::text) > 0
          limit 1`,
    );
    return rows.length > 0;
  }
}
