/**
 * The Discord messages of renders whose end is not yet delivered, kept in the bank's
 * `bot_state` table so that a render that ends while the bot is down (or closing)
 * still gets its final edit, with its grid, after the next start. One key per render
 * (`discord:render:<render id>`): it is written when the render's message is bound
 * and deleted once the final edit has landed. Each shard process writes only the keys
 * of the renders it posted and, at start, takes only the entries of the guilds it owns
 * (`owns`), so processes never write the same key and a changed shard count needs no
 * migration.
 *
 * @example
 *   const ledger = new DiscordLedger(bank.db, { log });
 *   for (const e of await ledger.load((communityId) => owns(communityId))) follow(e.renderId, e.messageId);
 *   ledger.add({ renderId, channelId, messageId, communityId: 'discord:123', at: Date.now() });
 *   ledger.remove(renderId);          // after the final edit landed
 *   await ledger.flush();
 */
import { like } from 'drizzle-orm';
import { BotStateStore } from '../../bank/bot-state.ts';
import type { Database } from '../../bank/db.ts';
import { botState } from '../../bank/schema.ts';
import { describeError } from '../../errors/index.ts';
import type { Log } from '../../jobs/types.ts';

export interface LedgerEntry {
  renderId: string;
  channelId: string;
  messageId: string;
  /** `discord:<guild id>`, or null in direct messages. */
  communityId: string | null;
  /** When the message was bound (ms since the epoch). */
  at: number;
}

export const LEDGER_PREFIX = 'discord:render:';

/** Entries older than this (default 30 days) are dropped at load: their render or message is long gone. */
const MAX_AGE_MS = 30 * 24 * 3600_000;

export function ledgerKey(renderId: string): string {
  return `${LEDGER_PREFIX}${renderId}`;
}

function entryOf(value: unknown): LedgerEntry | undefined {
  const e = value as Partial<LedgerEntry> | null;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.renderId !== 'string' || typeof e.channelId !== 'string' || typeof e.messageId !== 'string' || typeof e.at !== 'number') return undefined;
  if (e.communityId !== null && typeof e.communityId !== 'string') return undefined;
  return { renderId: e.renderId, channelId: e.channelId, messageId: e.messageId, communityId: e.communityId, at: e.at };
}

export class DiscordLedger {
  private readonly state: BotStateStore;
  /** What this process wrote (or loaded) and has not removed: repeated adds of the same entry write nothing. */
  private readonly known = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly o: { log?: Log | undefined; maxAgeMs?: number | undefined; now?: () => number } = {},
  ) {
    this.state = new BotStateStore(db);
  }

  has(renderId: string): boolean {
    return this.known.has(renderId);
  }

  /** The stored entries this process may deliver (`owns` their community); stale and unreadable ones are deleted. */
  async load(owns: (communityId: string | null) => boolean): Promise<LedgerEntry[]> {
    const rows = await this.db
      .select({ key: botState.key, value: botState.value })
      .from(botState)
      .where(like(botState.key, `${LEDGER_PREFIX}%`));
    const now = (this.o.now ?? Date.now)();
    const out: LedgerEntry[] = [];
    for (const row of rows) {
      const e = entryOf(row.value);
      if (!e || e.renderId !== row.key.slice(LEDGER_PREFIX.length) || now - e.at > (this.o.maxAgeMs ?? MAX_AGE_MS)) {
        // Unreadable or stale: nobody can deliver it.
        if (!e || owns(e.communityId)) this.write(row.key, undefined);
        continue;
      }
      if (!owns(e.communityId)) continue;
      this.known.set(e.renderId, JSON.stringify(e));
      out.push(e);
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** Remember a render's message until its final edit lands. */
  add(e: LedgerEntry): void {
    const json = JSON.stringify(e);
    if (this.known.get(e.renderId) === json) return;
    this.known.set(e.renderId, json);
    this.write(ledgerKey(e.renderId), e);
  }

  /** The render's end was delivered (or its message is gone). */
  remove(renderId: string): void {
    if (!this.known.delete(renderId)) return;
    this.write(ledgerKey(renderId), undefined);
  }

  /** Wait for the writes scheduled so far. */
  flush(): Promise<void> {
    return this.chain;
  }

  /** Writes run one after another, in the order they were asked for (an add and its remove never swap). */
  private write(key: string, value: LedgerEntry | undefined): void {
    this.chain = this.chain.then(async () => {
      try {
        if (value) await this.state.set(key, value);
        else await this.state.delete(key);
      } catch (e) {
        this.o.log?.('warn', `discord: could not ${value ? 'store' : 'delete'} ${key}: ${describeError(e)}`);
      }
    });
  }
}
