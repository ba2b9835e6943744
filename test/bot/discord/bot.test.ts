/**
 * The Discord bot end to end: the unmodified discord.js client against the fake
 * Discord, the real command core, a real Worker with an engine double and a PGlite
 * bank. A /zip answered at once and edited through its progress to the final grid
 * (uploaded, shown in the embed, buttons under it); refusals in private; a full-size
 * image; the Remix modal as the first response and its child render, or a private
 * "click again" when the form is not ready in time; autocomplete; a LoRA uploaded as
 * a command attachment; moderators and Manage Messages; moderator roles read from the
 * interaction's payload, even one missing from discord.js's role cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import { communities, loras, renders } from '../../../src/bank/schema.ts';
import { decodeCustomId, type CoreInteraction } from '../../../src/bot/core/index.ts';
import { normalizeImage } from '../../../src/engine/image/index.ts';
import type { DiscordBot } from '../../../src/bot/discord/index.ts';
import type { FakeMessage } from '../../support/fake-discord/index.ts';
import { CAT, LOKR } from '../core/support.ts';
import { buttonId, labels, openRig, type Rig } from './support.ts';

const ANN = { id: '100000000000000001', username: 'ann', nick: 'Ann' };
const BOB = { id: '100000000000000002', username: 'bob', nick: 'Bob' };
const MOD = { id: '100000000000000003', username: 'mo', nick: 'Mo', permissions: String(8192 | 117760) };

describe('Discord bot', () => {
  let rig: Rig;
  let bot: DiscordBot;
  let done: FakeMessage;

  beforeAll(async () => {
    rig = await openRig();
    bot = await rig.startBot();
  });
  afterAll(async () => {
    await rig?.close();
  });

  /** A /zip by Ann with the engine held, once it shows it is zipping (so it can be cancelled). */
  async function heldZip(prompt: string): Promise<FakeMessage> {
    rig.hold();
    const ix = rig.fake.command({ name: 'zip', options: { subject: 'cat', style: 'flower', prompt }, user: ANN });
    const m = await rig.fake.waitFor(() => {
      const x = rig.fake.original(ix);
      return x && /zipping .* 2\/2/.test(x.content) && x;
    }, 10_000, 'zipping');
    return m;
  }

  it('connects with the Guilds intent only and registers the commands for the dev guild', () => {
    const identify = rig.fake.gatewayLog.find((e) => e.type === 'identify')!;
    expect(identify).toMatchObject({ intents: 1, shard: [0, 1] });
    expect(bot.registration).toMatchObject({ scope: 'guild', registered: true, count: 3 });
    expect(rig.fake.commandPuts).toEqual([expect.objectContaining({ scope: rig.fake.guilds[0]!.id, count: 3 })]);
    expect(bot.applicationId).toBe(rig.fake.applicationId);
  });

  it('answers /zip at once, edits the reply through its progress and ends with the grid attached', async () => {
    const { fake } = rig;
    const ix = fake.command({ name: 'zip', options: { subject: 'cat', style: 'flower', prompt: 'a cat surfing', seed: 7 }, user: ANN });
    done = await fake.waitFor(() => {
      const m = fake.original(ix);
      return m && m.attachments.length > 0 && m;
    }, 15_000, 'the final grid');
    // The first response is the progress message itself, well within 3 s, public, with a Cancel button.
    expect(ix.callbacks.map((c) => c.type)).toEqual([4]);
    expect(ix.callbacks[0]!.at - ix.createdAt).toBeLessThan(3000);
    const first = ix.callbacks[0]!.data;
    expect(first.flags ?? 0).toBe(0);
    expect(first.content).toMatch(/^\*\*cat × flower\*\* #[0-9a-f]{8}: (queued|starting|zipping)/);
    expect(labels(first.components)).toEqual(['Cancel']);
    expect(first.allowed_mentions).toEqual({ parse: [] });
    // Edited in place with the interaction token, through zipping and rendering to done.
    const texts = done.edits.map((e) => e.content);
    expect(done.edits.every((e) => e.via === 'webhook')).toBe(true);
    const patches = rig.fake.callsTo(/^\/webhooks\//, 'PATCH').filter((c) => c.route.includes(ix.token));
    expect(patches.length).toBe(done.edits.length);
    expect(patches.every((c) => c.route.endsWith('/messages/@original') && c.auth === undefined)).toBe(true);
    expect(texts.some((x) => /zipping ▰*▱* \d\/2/.test(x))).toBe(true);
    expect(texts.some((x) => /rendering ▰*▱* \d\/3/.test(x))).toBe(true);
    expect(done.content).toContain('“a cat surfing” for Ann');
    // The grid: uploaded once, shown in the embed, buttons under it.
    const grid = rig.fake.uploads.filter((u) => u.messageId === done.id);
    expect(grid).toHaveLength(1);
    expect(grid[0]!.contentType).toBe('image/png');
    expect(await normalizeImage(grid[0]!.data)).toMatchObject({ width: 16, height: 16 });
    expect(done.embeds[0]).toMatchObject({ title: 'cat × flower', description: 'a cat surfing', image: { url: `attachment://${done.attachments[0]!.filename}` } });
    expect(labels(done.components)).toEqual(expect.arrayContaining(['U1', 'U4', 'V1', '🎛️ Remix', 'Export LoRA']));
    expect(done.components.length).toBeLessThanOrEqual(5);
    // The render knows its message, for a restart.
    const [row] = await rig.t.bank.db.select().from(renders).where(eq(renders.messageId, done.id));
    expect(row).toMatchObject({ platform: 'discord', communityId: `discord:${rig.fake.guilds[0]!.id}`, channelId: rig.fake.guilds[0]!.channelId, requesterName: 'Ann' });
    await rig.fake.waitFor(() => bot.client!.adapter.following === 0, 5000, 'the follower to let go');
  });

  it('refuses in private, as the first response', async () => {
    const ix = rig.fake.command({ name: 'zip', options: { subject: 'nope', style: 'flower', prompt: 'x' }, user: ANN });
    await rig.fake.waitFor(() => ix.callbacks.length > 0, 5000, 'a response');
    expect(ix.callbacks.map((c) => c.type)).toEqual([4]);
    expect(ix.callbacks[0]!.data.flags).toBe(64);
    expect(ix.callbacks[0]!.data.content).toContain('no subject LoRA named "nope"');
  });

  it('sends a full-size image: deferred with the known flag, then the file in the edit', async () => {
    const ix = rig.fake.click(done.id, buttonId(done.components, 'U2'), { user: BOB });
    const m = await rig.fake.waitFor(() => {
      const x = rig.fake.original(ix);
      return x && x.attachments.length > 0 && x;
    }, 5000, 'the image');
    expect(ix.callbacks.map((c) => c.type)).toEqual([5]);
    expect(ix.callbacks[0]!.data.flags ?? 0).toBe(0);
    expect(m.attachments[0]!.filename).toMatch(/^zipbank-[0-9a-f]{8}-2\.png$/);
    expect(m.content).toMatch(/image 2/i);
  });

  it('opens the Remix modal as the first response and renders the submitted prompt as a child', async () => {
    const { fake } = rig;
    const click = fake.click(done.id, buttonId(done.components, '🎛️ Remix'), { user: BOB });
    await fake.waitFor(() => click.callbacks.length > 0, 5000, 'the modal');
    expect(click.callbacks.map((c) => c.type)).toEqual([9]);
    const modal = click.modal;
    expect(modal.title).toMatch(/^Remix #[0-9a-f]{8}/);
    const prompt = modal.components[0].components[0];
    expect(prompt).toMatchObject({ custom_id: 'prompt', style: 2, value: 'a cat surfing', required: true });

    const sub = fake.submit(modal.custom_id, { prompt: 'a cat skiing', negative: '' }, { user: BOB });
    const child = await fake.waitFor(() => {
      const m = fake.original(sub);
      return m && m.attachments.length > 0 && m;
    }, 15_000, 'the child render');
    expect(sub.callbacks.map((c) => c.type)).toEqual([4]);
    expect(child.content).toContain('“a cat skiing” for Bob');
    expect(child.embeds[0].fields.find((f: { name: string }) => f.name === 'Remix of').value).toBe(done.embeds[0].footer.text);
  });

  it('asks privately to click again when the Remix form is not ready within 2.5 s (no silent failure)', async () => {
    const { fake, core } = rig;
    const handle = core.handle.bind(core);
    core.handle = async (ix: CoreInteraction) => {
      if (ix.type === 'button' && decodeCustomId(ix.customId)?.action === 'remix') await new Promise((r) => setTimeout(r, 3500));
      return handle(ix);
    };
    try {
      const click = fake.click(done.id, buttonId(done.components, '🎛️ Remix'), { user: BOB });
      await fake.waitFor(() => click.callbacks.length > 0, 5000, 'an answer');
      expect(click.callbacks.map((c) => c.type)).toEqual([4]);
      const waited = click.callbacks[0]!.at - click.createdAt;
      expect(waited).toBeGreaterThanOrEqual(2400);
      expect(waited).toBeLessThan(3000);
      expect(click.callbacks[0]!.data.flags).toBe(64);
      expect(click.callbacks[0]!.data.content).toMatch(/Remix form could not be prepared .* click 🎛️ Remix again/);
      expect(click.modal).toBeUndefined();
    } finally {
      core.handle = handle;
    }
  });

  it('autocompletes bank names: subjects, then the styles that fit the subject', async () => {
    const { fake } = rig;
    const a = fake.autocomplete({ name: 'zip', options: { subject: 'ca' }, focused: 'subject', user: ANN });
    await fake.waitFor(() => a.choices, 5000, 'choices');
    expect(a.callbacks.map((c) => c.type)).toEqual([8]);
    expect(a.choices!.map((c) => c.value)).toEqual(['cat']);
    const b = fake.autocomplete({ name: 'zip', options: { subject: 'cat', style: '' }, focused: 'style', user: ANN });
    await fake.waitFor(() => b.choices, 5000, 'choices');
    // NSFW styles are left out (the community allows none); SDXL styles do not fit an SD 1.5 subject.
    expect(b.choices!.map((c) => c.value)).toEqual(['flower']);
    for (const c of [...a.choices!, ...b.choices!]) expect(c.name.length).toBeGreaterThan(0);
  });

  it('adds a LoRA attached to /bank upload, downloaded from the attachment URL (slow: deferred first)', async () => {
    const { fake, t } = rig;
    await t.bank.db.delete(loras).where(eq(loras.name, 'falcon'));
    const file = fake.addFile('falcon.safetensors', readFileSync(LOKR), { delayMs: 1700 });
    const ix = fake.command({ name: 'bank', sub: 'upload', options: { file, name: 'falcon2', kind: 'subject', trigger: 'sks bird' }, user: ANN });
    const m = await fake.waitFor(() => {
      const x = fake.original(ix);
      return x && x.content && x;
    }, 10_000, 'the answer');
    expect(ix.callbacks.map((c) => c.type)).toEqual([5]);
    expect(m.flags & 64).toBe(0);
    expect(m.content).toContain('added **falcon2** (subject, SD 1.5)');
    expect(await t.bank.find('falcon2')).toMatchObject({ uploaderPlatform: 'discord', uploaderId: ANN.id, triggerWords: ['sks bird'] });
  });

  it('answers a slow refusal privately: the public deferred reply goes, an ephemeral follow-up comes', async () => {
    const { fake } = rig;
    const file = fake.addFile('cat.safetensors', readFileSync(CAT), { delayMs: 1700 });
    const ix = fake.command({ name: 'bank', sub: 'upload', options: { file, name: 'cat2', kind: 'subject' }, user: ANN });
    await fake.waitFor(() => ix.followups.length > 0, 10_000, 'the follow-up');
    expect(ix.callbacks.map((c) => c.type)).toEqual([5]);
    expect(fake.original(ix)).toMatchObject({ deleted: true, content: '' });
    const f = fake.messages.get(ix.followups[0]!)!;
    expect(f.flags & 64).toBe(64);
    expect(f.content).toContain('already in the bank as **cat**');
  });

  it('refuses a file over the bank limit without downloading it', async () => {
    const { fake } = rig;
    const file = { ...fake.addFile('huge.safetensors', Buffer.alloc(16)), size: 65 * 2 ** 20 };
    const ix = fake.command({ name: 'bank', sub: 'upload', options: { file, name: 'huge', kind: 'style' }, user: ANN });
    await fake.waitFor(() => ix.callbacks.length > 0, 5000, 'a response');
    expect(ix.callbacks[0]).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(ix.callbacks[0]!.data.content).toContain('huge.safetensors is 65.0 MiB');
    expect(fake.cdnHits.filter((h) => h.includes('huge'))).toEqual([]);
  });

  it('lets the requester or a member with Manage Messages cancel, and refuses others in private', async () => {
    const { fake } = rig;
    const m = await heldZip('to cancel');
    const cancel = buttonId(m.components, 'Cancel');
    const bob = fake.click(m.id, cancel, { user: BOB });
    await fake.waitFor(() => bob.callbacks.length > 0, 5000, 'a response');
    expect(bob.callbacks[0]).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(bob.callbacks[0]!.data.content).toMatch(/only .* moderator|cannot cancel/i);

    const mod = fake.click(m.id, cancel, { user: MOD });
    await fake.waitFor(() => mod.callbacks.length > 0, 5000, 'a response');
    // The same message is updated in place (cancelling, then cancelled once the job lets go).
    expect(mod.callbacks.map((c) => c.type)).toEqual([7]);
    expect(mod.originalId).toBe(m.id);
    rig.release();
    await fake.waitFor(() => /cancelled\.$/.test(m.content), 10_000, 'cancelled');
    expect(labels(m.components)).toEqual([]);
  });

  it("says so when the grid is over the server's upload limit (no web address to link it here)", async () => {
    const { fake } = rig;
    const ix = fake.command({ name: 'zip', options: { subject: 'cat', style: 'flower', prompt: 'a tiny limit' }, user: ANN, attachmentSizeLimit: 1 });
    const m = await fake.waitFor(() => {
      const x = fake.original(ix);
      return x && x.content.includes('for Ann') && x;
    }, 15_000, 'the final message');
    expect(m.attachments).toEqual([]);
    expect(m.embeds[0].image).toBeUndefined();
    expect(m.content).toMatch(/zipbank-[0-9a-f]{8}\.png \(0\.0 MiB\) is over this server's 0\.0 MiB upload limit, and no web address is configured/);
    expect(labels(m.components)).toContain('U1');
  });

  it('passes role ids: a member of a moderator role may remove a LoRA uploaded here, others may not', async () => {
    const { fake, t } = rig;
    const guild = fake.guilds[0]!;
    await t.bank.db.insert(communities).values({ id: `discord:${guild.id}`, platform: 'discord', moderatorRoleIds: ['555000000000000001'] });
    fake.addRole(guild, '555000000000000001', 'LoRA moderators');
    // falcon2 was uploaded by Ann from this guild (above).
    expect(await t.bank.find('falcon2')).toMatchObject({ communityId: `discord:${guild.id}` });
    const bob = fake.command({ name: 'bank', sub: 'remove', options: { name: 'falcon2', reason: 'spam' }, user: BOB });
    await fake.waitFor(() => bob.callbacks.length > 0, 5000, 'a response');
    expect(bob.callbacks[0]).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(bob.callbacks[0]!.data.content).toContain('only its uploader or a moderator can');
    const ruth = fake.command({ name: 'bank', sub: 'remove', options: { name: 'falcon2', reason: 'spam' }, user: { id: '100000000000000004', username: 'ruth', roles: ['555000000000000001'] } });
    await fake.waitFor(() => ruth.callbacks.length > 0, 5000, 'a response');
    expect(ruth.callbacks[0]!.data.content).toBe('**falcon2** was removed from the bank.');
    expect((await t.bank.db.select().from(loras).where(eq(loras.name, 'falcon2')))[0]!.status).not.toBe('active');
  });

  it("takes role ids from the interaction's payload: a moderator role missing from discord.js's role cache still counts", async () => {
    const { fake, t } = rig;
    const guild = fake.guilds[0]!;
    const ROLE = '555000000000000002';
    await t.bank.db.update(communities).set({ moderatorRoleIds: ['555000000000000001', ROLE] }).where(eq(communities.id, `discord:${guild.id}`));
    // The role was never announced on the gateway: the client's guild cache does not know it.
    expect(bot.client!.client.guilds.cache.get(guild.id)!.roles.cache.has(ROLE)).toBe(false);
    const m = await heldZip('cancelled by role');
    const sam = fake.click(m.id, buttonId(m.components, 'Cancel'), { user: { id: '100000000000000005', username: 'sam', roles: [ROLE] } });
    await fake.waitFor(() => sam.callbacks.length > 0, 5000, 'a response');
    expect(sam.callbacks.map((c) => c.type)).toEqual([7]);
    rig.release();
    await fake.waitFor(() => /cancelled\.$/.test(m.content), 10_000, 'cancelled');
  });

  it('logged no warning or error on the way', () => {
    expect(rig.logs.filter((l) => /^(warn|error):/.test(l))).toEqual([]);
  });
});
