/**
 * The Discord ledger of undelivered render ends (bot_state, one key per render) on a
 * PGlite bank: entries written and deleted in order, loaded again by a new process,
 * each shard taking only its own guilds' entries (and never deleting another
 * shard's), stale or unreadable entries dropped; and an adapter's `start()` following
 * its shard's ledger entries besides the renders still in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { REST } from 'discord.js';
import { botState } from '../../../src/bank/schema.ts';
import type { BotCore, MessageReply } from '../../../src/bot/core/index.ts';
import { DiscordAdapter } from '../../../src/bot/discord/adapter.ts';
import { DiscordLedger, LEDGER_PREFIX, ledgerKey, type LedgerEntry } from '../../../src/bot/discord/ledger.ts';
import { guildIdOnShard, shardOfGuild, snowflake } from '../../support/fake-discord/index.ts';
import { openTestBank, type TestBank } from '../../support/bank.ts';

const quiet = () => {};
const G0 = guildIdOnShard(0, 2);
const G1 = guildIdOnShard(1, 2);
const onShard = (shard: number) => (communityId: string | null) => shardOfGuild(communityId?.replace(/^discord:/, '') || '0', 2) === shard;

function entry(renderId: string, guild: string | null, at = Date.now()): LedgerEntry {
  return { renderId, channelId: snowflake(), messageId: snowflake(), communityId: guild ? `discord:${guild}` : null, at };
}

describe('DiscordLedger', () => {
  let t: TestBank;

  beforeAll(async () => {
    t = await openTestBank('pglite', '');
  });
  afterAll(async () => {
    await t?.close();
  });

  const stored = async () =>
    (await t.bank.db.select({ key: botState.key }).from(botState))
      .map((r) => r.key)
      .filter((k) => k.startsWith(LEDGER_PREFIX))
      .sort();

  it('stores an entry per render until it is removed, in the order asked, and a new process loads them', async () => {
    const a = new DiscordLedger(t.bank.db, { log: quiet });
    const e1 = entry('r-1', G0, Date.now() - 2000);
    const e2 = entry('r-2', G0, Date.now() - 1000);
    a.add(e2);
    a.add(e1);
    a.add(e1); // unchanged: no second write
    a.add(entry('r-3', G0));
    a.remove('r-3'); // an add and its remove never swap
    await a.flush();
    expect(await stored()).toEqual([ledgerKey('r-1'), ledgerKey('r-2')]);
    expect(await t.bank.botState.get(ledgerKey('r-1'))).toEqual(e1);

    const b = new DiscordLedger(t.bank.db, { log: quiet });
    expect(await b.load(() => true)).toEqual([e1, e2]); // oldest first
    expect(b.has('r-1')).toBe(true);
    b.remove('r-1');
    b.remove('r-2');
    b.remove('r-unknown');
    await b.flush();
    expect(await stored()).toEqual([]);
  });

  it("gives each shard its own guilds' entries only, and drops stale or unreadable ones", async () => {
    const w = new DiscordLedger(t.bank.db, { log: quiet });
    const mine = entry('s-0', G0);
    const dm = entry('s-dm', null);
    const theirs = entry('s-1', G1);
    const stale = entry('s-old', G0, Date.now() - 31 * 24 * 3600_000);
    const staleTheirs = entry('s-old-1', G1, Date.now() - 31 * 24 * 3600_000);
    for (const e of [mine, dm, theirs, stale, staleTheirs]) w.add(e);
    await w.flush();
    await t.bank.botState.set(`${LEDGER_PREFIX}s-junk`, { renderId: 's-junk' });

    const shard0 = new DiscordLedger(t.bank.db, { log: quiet });
    const got = await shard0.load(onShard(0));
    await shard0.flush();
    expect(got.map((e) => e.renderId).sort()).toEqual(['s-0', 's-dm']);
    // Stale and unreadable entries of shard 0 are gone; shard 1's are left to shard 1.
    expect(await stored()).toEqual([ledgerKey('s-0'), ledgerKey('s-1'), ledgerKey('s-dm'), ledgerKey('s-old-1')]);
    // A shard cannot delete what it does not own.
    shard0.remove('s-1');
    await shard0.flush();
    expect(await t.bank.botState.get(ledgerKey('s-1'))).toEqual(theirs);

    const shard1 = new DiscordLedger(t.bank.db, { log: quiet });
    expect((await shard1.load(onShard(1))).map((e) => e.renderId)).toEqual(['s-1']);
    await shard1.flush();
    expect(await stored()).toEqual([ledgerKey('s-0'), ledgerKey('s-1'), ledgerKey('s-dm')]);
    for (const k of await stored()) await t.bank.botState.delete(k);
  });

  it("makes an adapter's start() follow its shard's undelivered ends besides the renders in flight", async () => {
    const w = new DiscordLedger(t.bank.db, { log: quiet });
    const ended0 = entry('e-0', G0);
    const ended1 = entry('e-1', G1);
    w.add(ended0);
    w.add(ended1);
    await w.flush();
    const active = { id: 'a-0', messageId: snowflake(), channelId: snowflake(), communityId: `discord:${G0}`, createdAt: new Date() };
    const followed: string[] = [];
    const unreadable: MessageReply = { kind: 'message', text: 'x', ephemeral: true, cards: [], attachments: [], buttons: [] };
    const core = {
      activeRenders: async () => [active, { ...active, id: 'e-0' }],
      renderStatus: async (id: string) => {
        followed.push(id);
        return unreadable;
      },
    } as unknown as BotCore;
    const a = new DiscordAdapter({ core, bank: t.bank, rest: {} as REST, applicationId: '1', shards: { ids: [0], count: 2 }, log: quiet });
    expect(await a.start()).toBe(2); // a-0 (in flight) and e-0 (once, though both in flight and in the ledger)
    await new Promise((r) => setTimeout(r, 50));
    expect([...new Set(followed)].sort()).toEqual(['a-0', 'e-0']);
    await a.close();
    // The render in flight is in the ledger now too (a restart during its end delivers it).
    expect(await t.bank.botState.get(ledgerKey('a-0'))).toMatchObject({ renderId: 'a-0', messageId: active.messageId, communityId: `discord:${G0}` });
    expect(await t.bank.botState.get(ledgerKey('e-1'))).toEqual(ended1);
  });
});
