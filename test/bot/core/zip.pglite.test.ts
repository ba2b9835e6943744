/**
 * The command core on a real bank (PGlite, real LoRA fixtures): autocomplete, /zip
 * and its refusals, progress from real queue transitions, every button (from a fresh
 * BotCore, as after a restart), remix and lineage, cancel permissions, Slack text.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eq, like } from 'drizzle-orm';
import { communities, renders, zips, type Render } from '../../../src/bank/schema.ts';
import { JobQueue, leaseOf } from '../../../src/bank/jobs.ts';
import { JobEvents, type JobEvent } from '../../../src/jobs/events.ts';
import { BotCore, decodeCustomId, encodeCustomId, type CoreInteraction, type CoreUser, type FormReply, type MessageReply, type Reply } from '../../../src/bot/core/index.ts';
import { variationSeed } from '../../../src/bot/core/derive.ts';
import { FakeClock } from '../../jobs/support.ts';
import { row } from '../../bank/search.suite.ts';
import { loras } from '../../../src/bank/schema.ts';
import { clearRenders, countRows, openCoreBank, seededRandom, type CoreBank } from './support.ts';

const ANN: CoreUser = { platform: 'test', id: 'ann', name: 'Ann' };
const BOB: CoreUser = { platform: 'test', id: 'bob', name: 'Bob' };
const MOD: CoreUser = { platform: 'test', id: 'mia', name: 'Mia', roleIds: ['mods'] };
const HOME = 'test:home';

describe('bot core: /zip, progress, buttons, remix, cancel', () => {
  let t: CoreBank;
  let queue: JobQueue;
  let clock: FakeClock;
  let events: JobEvents;
  let heard: JobEvent[];
  let core: BotCore;
  beforeAll(async () => {
    t = await openCoreBank();
    queue = new JobQueue(t.bank.db);
  }, 120_000);
  afterAll(async () => t?.close());
  beforeEach(async () => {
    await clearRenders(t);
    clock = new FakeClock();
    events = new JobEvents();
    heard = [];
    events.on((e) => heard.push(e));
    core = fresh();
  });

  /** A new BotCore on the same database: what a restarted bot is. */
  const fresh = () =>
    new BotCore({ bank: t.bank, queue, events, clock, random: seededRandom(7), renderDefaults: { sd15: { width: 64, height: 64, steps: 4 } }, log: () => {} });
  const command = (command: string, options: Record<string, unknown>, user = ANN, communityId: string | undefined = HOME): CoreInteraction =>
    ({ type: 'command', command, options, user, communityId, channelId: 'ch' }) as CoreInteraction;
  const click = (customId: string, user = ANN, communityId: string | undefined = HOME): CoreInteraction => ({ type: 'button', customId, user, communityId, channelId: 'ch' });
  const zip = (o: Record<string, unknown> = {}, user = ANN, communityId: string | undefined = HOME) =>
    core.handle(command('zip', { subject: 'cat', style: 'flower', prompt: 'a cat surfing', ...o }, user, communityId));
  const msg = (r: Reply): MessageReply => {
    expect(r.kind).toBe('message');
    return r as MessageReply;
  };
  const renderOf = async (reply: Reply): Promise<Render> => {
    const id = msg(reply).follow?.renderId;
    expect(id, msg(reply).text).toBeDefined();
    const [r] = await t.bank.db.select().from(renders).where(eq(renders.id, id!));
    return r!;
  };
  const community = (p: Partial<typeof communities.$inferInsert> = {}) => t.bank.db.insert(communities).values({ id: HOME, platform: 'test', ...p });
  /** What the engine does at the end of a render (its contract with the core). */
  const finish = async (r: Render, zipId?: string) => {
    const job = (await queue.claim({ workerId: 'w', kinds: ['render'], leaseMs: 60_000, now: clock.now() }))!;
    expect(job.renderId).toBe(r.id);
    const imageKeys = Array.from({ length: r.count }, (_, i) => `renders/00/00/${String(i).repeat(64)}.png`);
    const gridKey = `renders/00/00/${'f'.repeat(64)}.png`;
    await t.bank.db.update(renders).set({ status: 'done', imageKeys, gridKey, zipId: zipId ?? null }).where(eq(renders.id, r.id));
    await queue.complete(leaseOf(job), { renderId: r.id, zipId, gridKey, imageKeys }, clock.now());
    const [after] = await t.bank.db.select().from(renders).where(eq(renders.id, r.id));
    return after!;
  };
  const button = (reply: MessageReply, label: string) => {
    const b = reply.buttons.flat().find((x) => x.label === label);
    expect(b, `button ${label} in ${JSON.stringify(reply.buttons.flat().map((x) => x.label))}`).toBeDefined();
    return b!.id;
  };

  describe('autocomplete', () => {
    /** `communityId` null: a direct message. */
    const ac = (option: string, value: string, options: Record<string, string> = {}, communityId: string | null = HOME) =>
      core.autocomplete({ command: 'zip', option, value, options, user: ANN, communityId: communityId ?? undefined });

    it('offers subjects for subject and styles for style, named for people', async () => {
      expect(await ac('subject', '')).toEqual(
        expect.arrayContaining([
          { name: 'Tabby Cat (cat) · SD 1.5', value: 'cat' },
          { name: expect.stringMatching(/falcon.*SD 1\.5/), value: 'falcon' },
        ]),
      );
      expect((await ac('subject', '')).map((c) => c.value).sort()).toEqual(['cat', 'falcon']);
      expect((await ac('style', 'fl')).map((c) => c.value)).toEqual(['flower']);
      expect((await ac('style', '')).map((c) => c.value).sort()).toEqual(['flower', 'xlstyle']);
    });

    it("narrows to the other LoRA's base model, shows NSFW only where allowed, and stops at 25", async () => {
      expect((await ac('style', '', { subject: 'cat' })).map((c) => c.value)).toEqual(['flower']);
      expect(await ac('subject', '', { style: 'xlstyle' })).toEqual([]);
      await community({ nsfwAllowed: true });
      expect((await ac('style', '', { subject: 'cat' })).map((c) => c.value).sort()).toEqual(['disney', 'flower']);
      expect((await ac('style', '', { subject: 'cat' }, null)).map((c) => c.value)).toEqual(['flower']);
      await t.bank.db.insert(loras).values(Array.from({ length: 30 }, (_, i) => row({ name: `wc-${i}`, kind: 'style', baseModel: 'sd15' })));
      try {
        const many = await ac('style', 'wc');
        expect(many).toHaveLength(25);
        expect(many.every((c) => c.name.length <= 100)).toBe(true);
      } finally {
        await t.bank.db.delete(loras).where(like(loras.name, 'wc-%'));
      }
    });

    it('offers nothing for options without autocomplete', async () => {
      expect(await ac('prompt', 'a')).toEqual([]);
      expect(await core.autocomplete({ command: 'nope', option: 'x', value: '', user: ANN })).toEqual([]);
    });
  });

  describe('/zip', () => {
    it('creates exactly one queued render and one render job, and answers with its progress message', async () => {
      const reply = msg(await zip({ count: 2, strength: 0.5, seed: 42, negative: 'blurry' }));
      expect(reply.ephemeral).toBe(false);
      expect(reply.text).toMatch(/^\*\*cat × flower\*\* #[0-9a-f]{8}: queued \(#1 in line\)\.$/);
      expect(reply.buttons.flat().map((b) => decodeCustomId(b.id)?.action)).toEqual(['cancel']);
      expect(await countRows(t)).toEqual({ renders: 1, jobs: 1 });
      const r = await renderOf(reply);
      expect(r).toMatchObject({
        status: 'queued',
        subjectId: t.loras.get('cat')!.id,
        styleId: t.loras.get('flower')!.id,
        prompt: 'a cat surfing',
        negativePrompt: 'blurry',
        seed: 42,
        count: 2,
        styleStrength: 0.5,
        steps: 4,
        width: 64,
        height: 64,
        method: 'ziplora',
        requesterPlatform: 'test',
        requesterId: 'ann',
        requesterName: 'Ann',
        communityId: HOME,
        channelId: 'ch',
        parentId: null,
      });
      const job = await queue.forRender(r.id);
      expect(job).toMatchObject({ kind: 'render', status: 'queued', payload: { renderId: r.id }, ownerId: 'ann', communityId: HOME });
      expect(heard).toEqual([{ type: 'enqueued', job }]);
    });

    it('takes defaults from the community, and a random seed when none is given', async () => {
      await community({ defaults: { count: 1, method: 'direct', steps: 9 } });
      const r = await renderOf(await zip());
      expect(r).toMatchObject({ count: 1, method: 'direct', steps: 9 });
      expect(Number.isInteger(r.seed) && r.seed >= 0 && r.seed < 2 ** 32).toBe(true);
      const again = await renderOf(await zip({}, BOB));
      expect(again.seed).not.toBe(r.seed);
    });

    it.each<[string, Record<string, unknown>, RegExp]>([
      ['unknown name, with suggestions', { subject: 'ca' }, /no subject LoRA named "ca".*`cat`/],
      ['unknown name, no suggestion', { style: 'nothing-like-it' }, /no style LoRA named "nothing-like-it".*bank search/],
      ['a style as subject', { subject: 'flower' }, /"flower" is a style LoRA; the subject option takes a subject LoRA\. Swap them/],
      ['a subject as style', { style: 'cat' }, /"cat" is a subject LoRA; the style option/],
      ['kind other', { style: 'misc' }, /"misc" is an other LoRA/],
      ['base models differ', { style: 'xlstyle' }, /"cat" is made for SD 1\.5 and "xlstyle" for SDXL/],
      ['NSFW where not allowed', { style: 'disney' }, /`disney` is marked NSFW/],
      ['bad option', { count: 9 }, /`count` must be from 1 to 4/],
    ])('refuses %s privately and creates nothing', async (_what, o, text) => {
      const reply = msg(await zip(o));
      expect(reply.ephemeral).toBe(true);
      expect(reply.text).toMatch(text);
      expect(reply.follow).toBeUndefined();
      expect(await countRows(t)).toEqual({ renders: 0, jobs: 0 });
      expect(heard).toEqual([]);
    });

    it("applies the community's prompt filter and NSFW setting", async () => {
      await community({ promptFilter: ['gore*', 'dark magic'], nsfwAllowed: true });
      expect(msg(await zip({ prompt: 'a cat, GOREFEST style' }))).toMatchObject({ ephemeral: true, text: expect.stringContaining('"gore"') });
      expect(msg(await zip({ prompt: 'a cat doing dark  magic' }))).toMatchObject({ ephemeral: true, text: expect.stringContaining('"dark magic"') });
      expect(await countRows(t)).toEqual({ renders: 0, jobs: 0 });
      expect(msg(await zip({ style: 'disney' })).ephemeral).toBe(false);
      expect(await countRows(t)).toEqual({ renders: 1, jobs: 1 });
    });

    it('refuses past the per-user cap of renders in flight, and frees a slot on cancel', async () => {
      await zip();
      const second = msg(await zip());
      expect(msg(await zip())).toMatchObject({ ephemeral: true, text: expect.stringContaining('already have 2 renders queued or running') });
      expect(await countRows(t)).toEqual({ renders: 2, jobs: 2 });
      expect(msg(await zip({}, BOB)).ephemeral).toBe(false);
      await core.handle(click(button(second, 'Cancel')));
      expect(msg(await zip()).ephemeral).toBe(false);
    });

    it("refuses past the community's hourly limit per user, and allows again an hour later", async () => {
      await community({ jobsPerHourPerUser: 2, maxConcurrentJobsPerUser: 5 });
      await zip();
      clock.advance(10 * 60_000);
      await zip();
      clock.advance(10 * 60_000);
      expect(msg(await zip())).toMatchObject({ ephemeral: true, text: expect.stringContaining('Try again in 40 minutes') });
      expect(await countRows(t)).toEqual({ renders: 2, jobs: 2 });
      clock.advance(41 * 60_000);
      expect(msg(await zip()).ephemeral).toBe(false);
    });

    it('refuses past the per-community cap', async () => {
      core = new BotCore({ bank: t.bank, queue, clock, limits: { concurrentPerCommunity: 2 }, log: () => {} });
      await zip({}, ANN);
      await zip({}, BOB);
      expect(msg(await zip({}, MOD))).toMatchObject({ ephemeral: true, text: expect.stringContaining('this community already has 2 renders') });
      expect(msg(await zip({}, MOD, 'test:elsewhere')).ephemeral).toBe(false);
    });

    it('works from Slack text, and explains parse errors privately', async () => {
      const ctx = { user: ANN, communityId: HOME, channelId: 'ch' };
      const r = await renderOf(await core.handleText(ctx, '/zip', 'subject:cat style:flower count:1 a cat "surfing"'));
      expect(r).toMatchObject({ prompt: 'a cat surfing', count: 1 });
      expect(msg(await core.handleText(ctx, '/zip', 'subject:cat style:flower prompt:"oops'))).toMatchObject({ ephemeral: true, text: expect.stringContaining('never closed') });
      expect(msg(await core.handleText(ctx, '/draw', 'x'))).toMatchObject({ ephemeral: true, text: expect.stringContaining('no command `/draw`') });
      expect(msg(await core.handle(command('bank', {})))).toMatchObject({ ephemeral: true, text: expect.stringContaining('`/bank` needs one of') });
      expect(msg(await core.handle(command('draw', {})))).toMatchObject({ ephemeral: true, text: expect.stringContaining('no command `/draw`') });
    });
  });

  describe('progress', () => {
    it('follows the real queue: position, zipping, rendering, done', async () => {
      const other = await renderOf(await zip({}, BOB));
      const r = await renderOf(await zip({ count: 4 }));
      expect((await core.renderStatus(r.id)).text).toContain('queued (#2 in line)');
      // Bob's job runs; Ann's moves up.
      const bobJob = (await queue.claim({ workerId: 'w', kinds: ['render'], leaseMs: 60_000, now: clock.now() }))!;
      expect(bobJob.renderId).toBe(other.id);
      expect((await core.renderStatus(r.id)).text).toContain('queued (#1 in line)');
      await queue.complete(leaseOf(bobJob), {}, clock.now());
      const job = (await queue.claim({ workerId: 'w', kinds: ['render'], leaseMs: 60_000, now: clock.now() }))!;
      expect((await core.renderStatus(r.id)).text).toContain('starting…');
      await queue.progress(leaseOf(job), { phase: 'zipping', step: 30, total: 100 }, 60_000, clock.now());
      expect((await core.renderStatus(r.id)).text).toContain('zipping ▰▰▰▱▱▱▱▱▱▱ 30/100');
      await queue.progress(leaseOf(job), { phase: 'rendering', step: 3, total: 4 }, 60_000, clock.now());
      const rendering = await core.renderStatus(r.id);
      expect(rendering.text).toContain('rendering ▰▰▰▰▰▰▰▰▱▱ 3/4');
      expect(rendering.follow).toEqual({ renderId: r.id });
      await t.bank.db.update(renders).set({ status: 'done', imageKeys: ['renders/a.png'], gridKey: 'renders/g.png' }).where(eq(renders.id, r.id));
      await queue.complete(leaseOf(job), {}, clock.now());
      const done = await core.renderStatus(r.id);
      expect(done.follow).toBeUndefined();
      expect(done.cards[0]!.imageKeys).toEqual(['renders/g.png']);
      expect(done.text).toContain('“a cat surfing” for Ann');
    });

    it('shows a failed render with its error, and a short id works too', async () => {
      const r = await renderOf(await zip());
      await t.bank.db.update(renders).set({ status: 'failed', error: 'the engine ran out of memory' }).where(eq(renders.id, r.id));
      expect((await core.renderStatus(r.id.slice(0, 8))).text).toContain('failed. the engine ran out of memory');
      expect(msg(await core.renderStatus('ffffffff'))).toMatchObject({ ephemeral: true, text: expect.stringContaining('no render "ffffffff"') });
    });
  });

  describe('buttons (from a fresh core, as after a restart)', () => {
    it('U2 sends image 2 in full size', async () => {
      const r = await finish(await renderOf(await zip({ count: 4 })));
      const done = await core.renderStatus(r.id);
      const reply = msg(await fresh().handle(click(button(done, 'U2'), BOB)));
      expect(reply.attachments).toEqual([{ name: `zipbank-${r.id.slice(0, 8)}-2.png`, contentType: 'image/png', key: r.imageKeys[1] }]);
      expect(reply.text).toContain(`seed ${r.seed + 1}`);
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'full', renderId: r.id, index: 5 }))))).toMatchObject({ ephemeral: true, text: expect.stringContaining('image 5 does not exist') });
    });

    it('full size before the render is done is refused', async () => {
      const r = await renderOf(await zip());
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'full', renderId: r.id, index: 1 }))))).toMatchObject({ ephemeral: true, text: expect.stringContaining('no images yet') });
    });

    it('V3 makes a child render at nearby seeds with 4 images; each further variation moves on', async () => {
      const r = await finish(await renderOf(await zip({ count: 4, seed: 100 })));
      const done = await core.renderStatus(r.id);
      const child = await renderOf(await fresh().handle(click(button(done, 'V3'), BOB)));
      expect(child).toMatchObject({ parentId: r.id, seed: variationSeed(100, 3, 0), count: 4, prompt: r.prompt, styleStrength: r.styleStrength, requesterId: 'bob' });
      const next = await renderOf(await fresh().handle(click(button(done, 'V3'), BOB)));
      expect(next.seed).toBe(variationSeed(100, 3, 1));
    });

    it('re-roll keeps everything but the seed', async () => {
      const r = await finish(await renderOf(await zip({ count: 2, seed: 5 })));
      const child = await renderOf(await fresh().handle(click(encodeCustomId({ action: 'reroll', renderId: r.id }))));
      expect(child).toMatchObject({ parentId: r.id, count: 2, prompt: r.prompt, styleStrength: r.styleStrength, steps: r.steps });
      expect(child.seed).not.toBe(5);
    });

    it('style strength steps by 0.25 and stops at 0 and 1', async () => {
      const r = await finish(await renderOf(await zip({ strength: 1 })));
      const atTop = msg(await fresh().handle(click(encodeCustomId({ action: 'strength', renderId: r.id, delta: 1 }))));
      expect(atTop).toMatchObject({ ephemeral: true, text: expect.stringContaining('already at its maximum, 1') });
      expect(await countRows(t)).toEqual({ renders: 1, jobs: 1 });
      const down = await renderOf(await fresh().handle(click(encodeCustomId({ action: 'strength', renderId: r.id, delta: -1 }))));
      expect(down).toMatchObject({ parentId: r.id, styleStrength: 0.75, seed: r.seed });
      await clearRenders(t);
      const zero = await finish(await renderOf(await zip({ strength: 0.1 })));
      const lower = await renderOf(await fresh().handle(click(encodeCustomId({ action: 'strength', renderId: zero.id, delta: -1 }))));
      expect(lower.styleStrength).toBe(0);
      const bottom = await finish(lower);
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'strength', renderId: bottom.id, delta: -1 }))))).toMatchObject({ ephemeral: true, text: expect.stringContaining('minimum, 0') });
    });

    it('export and stats read the zip the engine stored; before that they say it is not ready', async () => {
      const pending = await finish(await renderOf(await zip()));
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'export', renderId: pending.id }))))).toMatchObject({ ephemeral: true, text: expect.stringContaining('not ready yet') });
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'stats', renderId: pending.id }))))).toMatchObject({ ephemeral: true, text: expect.stringContaining('no zip statistics yet') });
      const key = (c: string, ext: string) => `zips/00/00/${c.repeat(64)}.${ext}`;
      // The row as the engine's zip cache writes it: a summary, and the keys of its files.
      const stats = {
        method: 'ziplora', steps: 3, maxSteps: 3, stopReason: 'max-steps', stuck: false, maxMove: [0.3, 0.2], cosineBefore: 1, cosineAfter: 0.2, layers: 1,
        finalLoss: 0.25, seconds: 1.5, seed: 0, provider: 'cpu',
        summary: ['ziplora: 3/3 steps in 1.5 s, reached the step limit (seed 0, cpu)', 'cosine mean 1.00 -> 0.20 over 1 layer'],
        files: { stats: key('5', 'json'), loss: key('1', 'png'), cosine: key('2', 'png'), references: [`images/00/00/${'6'.repeat(64)}.png`] },
      };
      const [z] = await t.bank.db
        .insert(zips)
        .values({ subjectId: pending.subjectId!, styleId: pending.styleId!, baseModel: 'sd15', method: 'ziplora', paramsHash: 'h', status: 'ready', storageKey: key('4', 'safetensors'), stats, durationMs: 1500 })
        .returning();
      const r = await finish(await renderOf(await zip({}, BOB)), z!.id);
      const exported = msg(await fresh().handle(click(encodeCustomId({ action: 'export', renderId: r.id }))));
      expect(exported.attachments).toEqual([{ name: 'cat-flower-ziplora-mergers.safetensors', contentType: 'application/octet-stream', key: key('4', 'safetensors') }]);
      const st = msg(await fresh().handle(click(encodeCustomId({ action: 'stats', renderId: r.id }))));
      expect(st.text).toBe('zip statistics of cat × flower:\n• ziplora: 3/3 steps in 1.5 s, reached the step limit (seed 0, cpu)\n• cosine mean 1.00 -> 0.20 over 1 layer');
      expect(st.attachments).toEqual([
        { name: 'loss.png', contentType: 'image/png', key: key('1', 'png') },
        { name: 'cosine.png', contentType: 'image/png', key: key('2', 'png') },
      ]);
      // An exported LoRA stored with the zip is offered too; without summary lines, the duration is shown.
      await t.bank.db.update(zips).set({ stats: { files: { lora: key('3', 'safetensors') } } }).where(eq(zips.id, z!.id));
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'stats', renderId: r.id })))).text).toBe('zip statistics of cat × flower:\n• zipped in 1.5 s');
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'export', renderId: r.id })))).attachments.map((a) => a.name)).toEqual([
        'cat-flower-ziplora-lora.safetensors',
        'cat-flower-ziplora-mergers.safetensors',
      ]);
    });

    it('answers ids that are not ours, or name no render, privately', async () => {
      expect(msg(await core.handle(click('someone-else:42')))).toMatchObject({ ephemeral: true, text: expect.stringContaining('not one of zipbank') });
      const ghost = encodeCustomId({ action: 'reroll', renderId: '00000000-0000-4000-8000-000000000000' });
      expect(msg(await core.handle(click(ghost)))).toMatchObject({ ephemeral: true, text: expect.stringContaining('no render') });
    });

    it('refuses variations of a render whose LoRA was removed since', async () => {
      const lora = t.loras.get('falcon')!;
      const r = await finish(await renderOf(await zip({ subject: 'falcon' })));
      await t.bank.remove('falcon', { platform: 'test', userId: 'admin' }, 'test');
      try {
        expect(msg(await core.handle(click(encodeCustomId({ action: 'reroll', renderId: r.id }))))).toMatchObject({ ephemeral: true, text: expect.stringContaining('"falcon" has been removed') });
        expect(await countRows(t)).toEqual({ renders: 1, jobs: 1 });
      } finally {
        await t.bank.db.update(loras).set({ status: 'active' }).where(eq(loras.id, lora.id));
      }
    });
  });

  describe('remix and lineage', () => {
    it('opens a form with the prompt, makes a child on submit, and the history shows who changed what', async () => {
      const root = await finish(await renderOf(await zip({ prompt: 'a cat surfing', seed: 3 })));
      const form = (await fresh().handle(click(encodeCustomId({ action: 'remix', renderId: root.id }), BOB))) as FormReply;
      expect(form.kind).toBe('form');
      expect(form.fields.map((f) => [f.id, f.value])).toEqual([['prompt', 'a cat surfing'], ['negative', '']]);
      const child = await renderOf(await fresh().handle({ type: 'form', customId: form.id, fields: { prompt: 'a cat skiing', negative: 'blurry' }, user: BOB, communityId: HOME }));
      expect(child).toMatchObject({ parentId: root.id, prompt: 'a cat skiing', negativePrompt: 'blurry', seed: 3, requesterId: 'bob' });
      const done = await finish(child);
      clock.advance(1_000);
      const grandchild = await renderOf(await fresh().handle(click(encodeCustomId({ action: 'strength', renderId: done.id, delta: -1 }), MOD)));
      clock.advance(1_000);
      const other = await renderOf(await fresh().handle(click(encodeCustomId({ action: 'reroll', renderId: done.id }), ANN)));

      const history = msg(await fresh().handle(command('remix history', { render: `#${done.id.slice(0, 8)}` }, MOD)));
      const lines = history.text.split('\n');
      expect(lines[0]).toContain(`lineage of #${done.id.slice(0, 8)}`);
      expect(lines[1]).toBe(`#${root.id.slice(0, 8)} by Ann: cat × flower, “a cat surfing”, seed 3, strength 1`);
      expect(lines[2]).toBe(`└ #${done.id.slice(0, 8)} by Bob (this one): prompt “a cat surfing” → “a cat skiing”; negative “” → “blurry”`);
      expect(lines[3]).toBe('remixed 2 times:');
      expect(lines[4]).toBe(`  • #${grandchild.id.slice(0, 8)} by Mia: strength 1 → 0.75`);
      expect(lines[5]).toMatch(new RegExp(`^  • #${other.id.slice(0, 8)} by Ann: seed 3 → \\d+$`));
      // The result card links its parent.
      const card = (await core.renderStatus(done.id)).cards[0]!;
      expect(card.fields.find((f) => f.name === 'Remix of')?.value).toBe(`#${root.id.slice(0, 8)}`);
    });

    it('refuses an empty or filtered remix prompt, and unknown renders in history', async () => {
      const root = await finish(await renderOf(await zip()));
      const id = encodeCustomId({ action: 'remix-submit', renderId: root.id });
      expect(msg(await core.handle({ type: 'form', customId: id, fields: { prompt: '  ' }, user: BOB, communityId: HOME }))).toMatchObject({ ephemeral: true, text: expect.stringContaining('needs a prompt') });
      await community({ promptFilter: ['skiing'] });
      expect(msg(await core.handle({ type: 'form', customId: id, fields: { prompt: 'a cat skiing' }, user: BOB, communityId: HOME })).ephemeral).toBe(true);
      expect(await countRows(t)).toEqual({ renders: 1, jobs: 1 });
      expect(msg(await core.handle(command('remix history', { render: 'nothing' })))).toMatchObject({ ephemeral: true, text: expect.stringContaining('no render "nothing"') });
      // A form id is not a button, and a button id is not a form.
      expect(msg(await core.handle(click(id))).ephemeral).toBe(true);
      expect(msg(await core.handle({ type: 'form', customId: encodeCustomId({ action: 'remix', renderId: root.id }), fields: { prompt: 'x' }, user: BOB })).ephemeral).toBe(true);
    });
  });

  describe('cancel', () => {
    it('only the requester or a moderator may cancel; a queued render ends at once', async () => {
      await community({ moderatorRoleIds: ['mods'] });
      const reply = msg(await zip());
      const r = await renderOf(reply);
      const cancelId = button(reply, 'Cancel');
      const refused = msg(await fresh().handle(click(cancelId, BOB)));
      expect(refused).toMatchObject({ ephemeral: true, text: expect.stringContaining('only the person who asked') });
      expect((await queue.forRender(r.id))!.status).toBe('queued');
      // A moderator role from another community does not count.
      expect(msg(await fresh().handle(click(cancelId, MOD, 'test:elsewhere'))).ephemeral).toBe(true);
      const cancelled = msg(await fresh().handle(click(cancelId, ANN)));
      expect(cancelled).toMatchObject({ ephemeral: false, replace: true, text: expect.stringContaining(': cancelled.') });
      expect(cancelled.buttons).toEqual([]);
      expect((await queue.forRender(r.id))!.status).toBe('cancelled');
      const [row] = await t.bank.db.select().from(renders).where(eq(renders.id, r.id));
      expect(row!.status).toBe('cancelled');
      expect(heard.map((e) => e.type)).toEqual(['enqueued', 'state']);
      expect(msg(await fresh().handle(click(cancelId, ANN)))).toMatchObject({ ephemeral: true, text: expect.stringContaining('already cancelled') });
    });

    it("a moderator cancels someone's running render: the worker is told to stop", async () => {
      await community({ moderatorRoleIds: ['mods'] });
      const r = await renderOf(await zip());
      await queue.claim({ workerId: 'w', kinds: ['render'], leaseMs: 60_000, now: clock.now() });
      const reply = msg(await fresh().handle(click(encodeCustomId({ action: 'cancel', renderId: r.id }), MOD)));
      expect(reply).toMatchObject({ replace: true, text: expect.stringContaining('cancelling…') });
      const job = (await queue.forRender(r.id))!;
      expect(job).toMatchObject({ status: 'running', cancelRequested: true });
      expect(heard.at(-1)).toEqual({ type: 'cancel-requested', jobId: job.id });
      // A platform moderator and an admin may too; a finished render cannot be cancelled.
      const done = await finish(await renderOf(await zip({}, BOB)));
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'cancel', renderId: done.id }), { platform: 'test', id: 'admin' })))).toMatchObject({ ephemeral: true, text: expect.stringContaining('already finished') });
      const other = await renderOf(await zip({}, BOB));
      expect(msg(await fresh().handle(click(encodeCustomId({ action: 'cancel', renderId: other.id }), { platform: 'test', id: 'zed', isModerator: true }))).replace).toBe(true);
    });
  });
});
