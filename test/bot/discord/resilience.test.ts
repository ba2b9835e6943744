/**
 * The Discord bot when things go wrong: rate limits (429 with Retry-After) and
 * server errors (500) that discord.js retries, a gateway connection dropped in the
 * middle of a render (the client resumes; the result still arrives, once; an
 * interaction sent while it was away is answered once), an interaction token that
 * no longer works (edits move to the bot token), a restart (the new process
 * follows the render again with the bot token and registers no commands), and a
 * render that ends while the bot is down (its final edit and grid come once, after
 * the next start, from the ledger in bot_state).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { renders } from '../../../src/bank/schema.ts';
import { ledgerKey, type DiscordBot } from '../../../src/bot/discord/index.ts';
import type { FakeInteraction, FakeMessage } from '../../support/fake-discord/index.ts';
import { openRig, TOKEN, type Rig } from './support.ts';

const ANN = { id: '100000000000000001', username: 'ann', nick: 'Ann' };

describe('Discord bot under faults', () => {
  let rig: Rig;
  let bot: DiscordBot;

  const zip = (prompt: string) => rig.fake.command({ name: 'zip', options: { subject: 'cat', style: 'flower', prompt }, user: ANN });
  const finalOf = (ix: FakeInteraction, timeoutMs = 15_000) =>
    rig.fake.waitFor(() => {
      const m = rig.fake.original(ix);
      return m && m.attachments.length > 0 && m;
    }, timeoutMs, 'the final grid');
  const zipping = (ix: FakeInteraction) =>
    rig.fake.waitFor(() => {
      const m = rig.fake.original(ix);
      return m && /zipping .* 2\/2/.test(m.content) && m;
    }, 10_000, 'zipping 2/2');
  const uploadsOf = (m: FakeMessage) => rig.fake.uploads.filter((u) => u.messageId === m.id);
  const until = async (pred: () => Promise<boolean>, timeoutMs: number, what: string) => {
    const end = Date.now() + timeoutMs;
    while (!(await pred())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeAll(async () => {
    rig = await openRig();
    bot = await rig.startBot();
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('waits out a 429 on the first response and answers once, within 3 s', async () => {
    rig.fake.fail({ method: 'POST', route: /^\/interactions\/\d+\/[^/]+\/callback$/, status: 429, retryAfter: 0.3 });
    const ix = rig.fake.command({ name: 'bank', sub: 'top', user: ANN });
    // /bank top shows preview images: deferred (public), then the edit brings the files.
    await rig.fake.waitFor(() => rig.fake.original(ix)?.attachments.length, 5000, 'the answer');
    const tries = rig.fake.callsTo(new RegExp(`^/interactions/${ix.id}/`));
    expect(tries.map((c) => c.status)).toEqual([429, 204]);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(300);
    expect(ix.callbacks).toHaveLength(1);
    expect(ix.callbacks[0]!.at - ix.createdAt).toBeLessThan(3000);
  });

  it('retries the final edit after a 500 and a 429: the grid arrives once', async () => {
    rig.fake.fail({ method: 'PATCH', route: /^\/webhooks\//, status: 500, withFiles: true });
    rig.fake.fail({ method: 'PATCH', route: /^\/webhooks\//, status: 429, retryAfter: 0.2, withFiles: true });
    const ix = zip('through errors');
    const m = await finalOf(ix);
    const withFiles = rig.fake.callsTo(/^\/webhooks\//, 'PATCH').filter((c) => c.files.length > 0 && c.route.includes(ix.token));
    expect(withFiles.map((c) => c.status)).toEqual([500, 429, 200]);
    expect(uploadsOf(m)).toHaveLength(1);
    expect(m.content).toContain('“through errors” for Ann');
  });

  it('resumes a dropped gateway connection mid-render: the result arrives once, and a command sent meanwhile is answered once', async () => {
    const { fake } = rig;
    rig.hold();
    const ix = zip('across a drop');
    await zipping(ix);
    const before = fake.gatewayLog.length;
    fake.dropGateway(0);
    await fake.waitFor(() => fake.gatewayLog.slice(before).some((e) => e.type === 'disconnect'), 5000, 'the drop');
    const meanwhile = fake.command({ name: 'bank', sub: 'top', user: ANN }); // queued on the session, replayed on resume
    rig.release();
    const m = await finalOf(ix);
    await fake.waitFor(() => meanwhile.callbacks.length > 0, 5000, 'the command sent while disconnected');
    const after = fake.gatewayLog.slice(before).map((e) => e.type);
    expect(after).toContain('resume');
    expect(after).not.toContain('identify');
    await new Promise((r) => setTimeout(r, 300));
    expect(meanwhile.callbacks).toHaveLength(1);
    expect(meanwhile.callbacks[0]!.at - meanwhile.createdAt).toBeLessThan(3000);
    expect(uploadsOf(m)).toHaveLength(1);
    expect(m.edits.filter((e) => e.attachments.length > 0)).toHaveLength(1);
  });

  it('edits with the bot token once the interaction token is refused', async () => {
    const { fake } = rig;
    rig.hold();
    const ix = zip('after the token');
    await zipping(ix);
    fake.tokenLifetimeMs = 0; // Discord now refuses this interaction's token
    rig.release();
    try {
      const m = await finalOf(ix);
      const last = m.edits[m.edits.length - 1]!;
      expect(last.via).toBe('bot');
      expect(fake.callsTo(/^\/webhooks\//, 'PATCH').some((c) => c.status === 401 && c.route === `/webhooks/${fake.applicationId}/${ix.token}/messages/@original`)).toBe(true);
      const channelEdits = fake.callsTo(new RegExp(`^/channels/${m.channelId}/messages/${m.id}$`), 'PATCH');
      expect(channelEdits.length).toBeGreaterThan(0);
      expect(channelEdits.every((c) => c.auth === `Bot ${TOKEN}` && c.status === 200)).toBe(true);
    } finally {
      fake.tokenLifetimeMs = 15 * 60_000;
    }
  });

  it('after a restart follows the render still in flight (bot token) and registers no commands', async () => {
    const { fake } = rig;
    rig.hold();
    const ix = zip('across a restart');
    const m = await zipping(ix);
    await bot.close();
    const editsBefore = m.edits.length;
    const puts = fake.commandPuts.length;

    bot = await rig.startBot();
    expect(bot.registration.registered).toBe(false);
    expect(fake.commandPuts).toHaveLength(puts);
    expect(bot.client!.resumed).toBe(1);
    rig.release();
    const end = await finalOf(ix);
    expect(end.id).toBe(m.id);
    expect(end.content).toContain('“across a restart” for Ann');
    expect(end.edits.slice(editsBefore).every((e) => e.via === 'bot')).toBe(true);
    expect(uploadsOf(end)).toHaveLength(1);
    await fake.waitFor(() => bot.client!.adapter.following === 0, 5000, 'the follower to let go');
    // Its buttons name database rows: they work in the new process.
    const u1 = end.components.flatMap((r: { components: { label: string; custom_id: string }[] }) => r.components).find((b: { label: string }) => b.label === 'U1')!;
    const click = fake.click(end.id, u1.custom_id, { user: ANN });
    await fake.waitFor(() => fake.original(click)?.attachments.length, 5000, 'the full-size image');
  });

  it('delivers the end of a render that finished while the bot was down once it starts again: the final edit and its grid, once', async () => {
    const { fake, t } = rig;
    rig.hold();
    const ix = zip('while down');
    const m = await zipping(ix);
    const [row] = await t.bank.db.select().from(renders).where(eq(renders.messageId, m.id));
    const renderId = row!.id;
    await until(async () => !!(await t.bank.botState.get(ledgerKey(renderId))), 5000, 'the ledger entry');
    expect(await t.bank.botState.get(ledgerKey(renderId))).toMatchObject({ renderId, channelId: m.channelId, messageId: m.id, communityId: `discord:${fake.guilds[0]!.id}` });

    await bot.close();
    const editsBefore = m.edits.length;
    rig.release();
    // The render ends with nobody to show it: no longer in flight, so only the ledger knows its message.
    await until(async () => (await t.bank.db.select().from(renders).where(eq(renders.id, renderId)))[0]!.status === 'done', 15_000, 'the render to end');
    expect((await rig.core.activeRenders('discord')).map((r) => r.id)).not.toContain(renderId);
    await new Promise((r) => setTimeout(r, 200));
    expect(m.edits).toHaveLength(editsBefore);
    expect(m.attachments).toEqual([]);

    bot = await rig.startBot();
    expect(bot.client!.resumed).toBe(1);
    const end = await finalOf(ix);
    expect(end.id).toBe(m.id);
    expect(end.content).toContain('“while down” for Ann');
    expect(end.embeds[0].image).toEqual({ url: `attachment://${end.attachments[0]!.filename}` });
    expect(end.edits.slice(editsBefore).every((e) => e.via === 'bot')).toBe(true);
    await fake.waitFor(() => bot.client!.adapter.following === 0, 5000, 'the follower to let go');
    // Delivered: the entry goes, no second edit comes (a few polls later), and the next start has nothing to deliver.
    await until(async () => (await t.bank.botState.get(ledgerKey(renderId))) === undefined, 5000, 'the ledger entry to go');
    await new Promise((r) => setTimeout(r, 400));
    expect(uploadsOf(end)).toHaveLength(1);
    expect(end.edits.slice(editsBefore)).toHaveLength(1);
    await bot.close();
    bot = await rig.startBot();
    expect(bot.client!.resumed).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(end.edits.slice(editsBefore)).toHaveLength(1);
  });

  it('logged no error', () => {
    expect(rig.logs.filter((l) => l.startsWith('error:'))).toEqual([]);
  });
});
