/**
 * The Slack adapter on the unmodified Bolt app in HTTP mode, driven by signed
 * requests as Slack sends them, against a fake Slack Web API on loopback, with a
 * real Worker running an engine double on a PGlite bank: /zip from ack to uploaded
 * grid, private parse errors, the no-argument modal with bank-backed selects, Remix,
 * full-size images, cancel by a workspace admin, 429 and 500 answers, restarts,
 * and requests with bad signatures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { JobQueue } from '../../../src/bank/jobs.ts';
import { renders, zips } from '../../../src/bank/schema.ts';
import { shortId } from '../../../src/bank/renders.ts';
import { commandBody, postSigned, slackSignature, type FakeMessage } from '../../support/fake-slack.ts';
import { botOptions, buttonsOf, click, command, eventually, messageWhen, SECRET, sleep, startSlackTest, submit, suggest, type SlackTest } from './support.ts';

const FINAL = /“a cat surfing” for Ann/;

describe('Slack adapter over HTTP (Bolt HTTPReceiver)', () => {
  let st: SlackTest;
  let queue: JobQueue;
  let done: FakeMessage;

  beforeAll(async () => {
    st = await startSlackTest();
    queue = new JobQueue(st.t.bank.db);
  });
  afterAll(async () => {
    await st?.close();
  });

  it('refuses requests that are unsigned, badly signed or stale', async () => {
    const body = commandBody({ command: '/zip', text: 'subject:cat style:flower prompt:x' });
    expect((await postSigned(st.url, undefined, body)).status).toBe(401);
    expect((await postSigned(st.url, 'another-secret', body)).status).toBe(401);
    const stale = Math.floor(Date.now() / 1000) - 600;
    expect((await postSigned(st.url, undefined, body, slackSignature(SECRET, body, stale))).status).toBe(401);
    // A signature over another body.
    expect((await postSigned(st.url, undefined, body, slackSignature(SECRET, `${body}&x=1`))).status).toBe(401);
    await sleep(100);
    expect(st.slack.called('chat.postMessage')).toHaveLength(0);
    expect(st.slack.called('chat.postEphemeral')).toHaveLength(0);
  });

  it('runs /zip: ack at once, a channel message, paced progress edits, then the grid uploaded once', async () => {
    const res = await command(st, '/zip', 'subject:cat style:flower prompt:"a cat surfing" seed:7');
    expect(res).toMatchObject({ status: 200, text: '' });
    expect(res.ms).toBeLessThan(3000);
    const m = await messageWhen(st, 'C1', (x) => x.text.includes('cat × flower'), 'the render message');
    expect(m.text).toMatch(/^\*cat × flower\* #[0-9a-f]{8}: /);
    expect(buttonsOf(m.blocks).map((b) => b.label)).toEqual(['Cancel']);

    done = await messageWhen(st, 'C1', (x) => x.ts === m.ts && FINAL.test(x.text), 'the final state');
    const texts = done.versions.map((v) => v.text);
    expect(texts.some((x) => /zipping|rendering/.test(x))).toBe(true);
    expect(buttonsOf(done.blocks).map((b) => b.label)).toEqual(expect.arrayContaining(['U1', 'V4', '🔄 Re-roll', '🎛️ Remix', 'Export LoRA']));
    // Edits in one channel keep the gap (150 ms here), and the final state landed once.
    const updates = st.slack.ok('chat.update').filter((c) => c.params.channel === 'C1' && c.params.ts === m.ts);
    for (let i = 1; i < updates.length; i++) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(145);
    expect(updates.filter((c) => FINAL.test(String(c.params.text)))).toHaveLength(1);

    // The grid arrives as a file in the channel, with the final text as its comment, exactly once.
    const share = await st.slack.waitFor(() => st.slack.shares.find((s) => s.channel === 'C1'), 10_000, 'the grid upload');
    expect(share.comment).toMatch(FINAL);
    expect(share.files.map((f) => f.filename)).toEqual([expect.stringMatching(/^zipbank-[0-9a-f]{8}\.png$/)]);
    const [row] = await st.t.bank.db.select().from(renders).where(eq(renders.messageId, m.ts));
    expect(row).toMatchObject({ platform: 'slack', channelId: 'C1', communityId: 'slack:T1', requesterId: 'UANN', requesterName: 'Ann', status: 'done' });
    expect(share.files[0]!.bytes!.equals(await st.t.bank.store.read(row!.gridKey!))).toBe(true);
    await sleep(400);
    expect(st.slack.shares.filter((s) => s.channel === 'C1')).toHaveLength(1);
    expect(st.slack.ok('files.completeUploadExternal')).toHaveLength(1);
    expect(st.bot.adapter.following).toBe(0);
  });

  it('acks before it works: a slow Slack API does not delay the answer to the command', async () => {
    st.slack.delay('users.info', 1200);
    const t0 = Date.now();
    const res = await command(st, '/bank', 'top', { user: 'USLOW' });
    expect(res).toMatchObject({ status: 200, text: '' });
    expect(res.ms).toBeLessThan(1000);
    const m = await messageWhen(st, 'C1', (x) => x.text.startsWith('top LoRAs'), 'the /bank top answer');
    expect(m.versions[0]!.at - t0).toBeGreaterThanOrEqual(1190);
    // The user is unknown to Slack: the payload's name is used.
    expect(st.slack.ok('users.info').filter((c) => c.params.user === 'USLOW')).toHaveLength(0);
  });

  it('answers parse errors and refusals privately, and says that slash commands cannot carry files', async () => {
    const before = st.slack.messages.length;
    await command(st, '/zip', 'subject:cat style:flower prompt:"never closed', { user: 'UBOB' });
    await command(st, '/zip', 'subject:nope style:flower prompt:x', { user: 'UBOB' });
    await command(st, '/bank', 'upload name:x kind:style', { user: 'UBOB' });
    await command(st, '/bank', 'frobnicate', { user: 'UBOB' });
    const eph = await st.slack.waitFor(() => (st.slack.ephemerals.filter((e) => e.user === 'UBOB').length >= 4 ? st.slack.ephemerals.filter((e) => e.user === 'UBOB') : undefined));
    const texts = eph.map((e) => e.text);
    for (const part of ['a quote is opened but never closed', 'no subject LoRA named "nope"', 'Slack slash commands cannot carry files', '`/bank frobnicate` does not exist']) {
      expect(texts.filter((x) => x.includes(part))).toHaveLength(1);
    }
    expect(eph.every((e) => e.channel === 'C1')).toBe(true);
    expect(st.slack.messages.length).toBe(before);
  });

  it('opens the /zip modal for a bare /zip, fills its selects from the bank, and renders its submit', async () => {
    const res = await command(st, '/zip', '  ', { trigger: 'trig-modal', channel: 'C3' });
    expect(res.status).toBe(200);
    const opened = await st.slack.waitFor(() => st.slack.views.find((v) => v.triggerId === 'trig-modal'));
    const view = opened.view;
    expect(view).toMatchObject({ callback_id: 'zb-zip', private_metadata: '{"c":"C3"}' });
    // The modal opened without waiting for users.info (the trigger lives 3 s).
    expect((view.blocks as { block_id: string }[]).map((b) => b.block_id)).toEqual(['subject', 'style', 'prompt', 'negative', 'seed', 'count']);

    const subjects = await suggest(st, view, 'zb-zip:subject', 'ca');
    expect(subjects.map((o) => o.value)).toEqual(['cat']);
    expect(subjects[0]!.text.text).toContain('Tabby Cat');
    // Styles narrowed to the chosen subject's base model, NSFW left out.
    const styles = await suggest(st, view, 'zb-zip:style', '', { subject: { 'zb-zip:subject': { type: 'external_select', selected_option: { value: 'cat' } } } });
    expect(styles.map((o) => o.value)).toEqual(['flower']);

    const sub = await submit(st, view, {
      subject: { 'zb-zip:subject': { type: 'external_select', selected_option: { value: 'cat' } } },
      style: { 'zb-zip:style': { type: 'external_select', selected_option: { value: 'flower' } } },
      prompt: { 'zb-zip:prompt': { type: 'plain_text_input', value: 'a cat in a modal' } },
      negative: { 'zb-zip:negative': { type: 'plain_text_input', value: null } },
      seed: { 'zb-zip:seed': { type: 'number_input', value: '11' } },
      count: { 'zb-zip:count': { type: 'static_select', selected_option: { value: '2' } } },
    });
    expect(sub).toMatchObject({ status: 200, text: '' });
    const final = await messageWhen(st, 'C3', (x) => /“a cat in a modal” for Ann/.test(x.text), 'the modal render');
    expect(buttonsOf(final.blocks).map((b) => b.label)).toEqual(expect.arrayContaining(['U1', 'U2', 'V2']));
    expect(buttonsOf(final.blocks).map((b) => b.label)).not.toContain('U3');
    await st.slack.waitFor(() => st.slack.shares.find((s) => s.channel === 'C3'), 10_000, 'its upload');
    const [row] = await st.t.bank.db.select().from(renders).where(eq(renders.messageId, final.ts));
    expect(row).toMatchObject({ seed: 11, count: 2, prompt: 'a cat in a modal' });
  });

  it('Remix: the button opens a modal with the prompt, its submit posts a child render', async () => {
    const res = await click(st, done, '🎛️ Remix', { user: 'UBOB', trigger: 'trig-remix' });
    expect(res.status).toBe(200);
    const opened = await st.slack.waitFor(() => st.slack.views.find((v) => v.triggerId === 'trig-remix'));
    const view = opened.view as { callback_id: string; title: { text: string }; blocks: { block_id: string; element: { initial_value?: string } }[] };
    expect(view.callback_id).toMatch(/^zb1:mf:/);
    expect(view.title.text).toMatch(/^Remix #[0-9a-f]{8}$/);
    expect(view.blocks.find((b) => b.block_id === 'prompt')!.element.initial_value).toBe('a cat surfing');

    await submit(st, opened.view, { prompt: { prompt: { type: 'plain_text_input', value: 'a cat skiing' } }, negative: { negative: { type: 'plain_text_input', value: null } } }, 'UBOB');
    const child = await messageWhen(st, 'C1', (x) => /“a cat skiing” for Bob/.test(x.text), 'the remix render');
    expect(child.ts).not.toBe(done.ts);
    const fields = JSON.stringify(child.blocks);
    expect(fields).toContain('Remix of');
    expect(fields).toContain(`#${shortId((await st.t.bank.db.select().from(renders).where(eq(renders.messageId, done.ts)))[0]!.id)}`);
    await st.slack.waitFor(() => st.slack.shares.filter((s) => s.channel === 'C1').length === 2, 10_000, 'the remix upload');
  });

  it('U2 uploads that image in full size with its caption; Export is answered privately', async () => {
    const shares = st.slack.shares.length;
    await click(st, done, 'U2', { user: 'UBOB' });
    const share = await st.slack.waitFor(() => st.slack.shares[shares]);
    expect(share).toMatchObject({ channel: 'C1', comment: expect.stringMatching(/^image 2 of #[0-9a-f]{8} \(seed 8\)$/) });
    const [row] = await st.t.bank.db.select().from(renders).where(eq(renders.messageId, done.ts));
    expect(share.files[0]!.bytes!.equals(await st.t.bank.store.read(row!.imageKeys[1]!))).toBe(true);

    const eph = st.slack.ephemerals.length;
    await click(st, done, 'Export LoRA', { user: 'UBOB' });
    // The engine double made no zip: a private refusal.
    const e = await st.slack.waitFor(() => st.slack.ephemerals[eph]);
    expect(e).toMatchObject({ user: 'UBOB', channel: 'C1', text: expect.stringContaining('is not ready yet') });
  });

  it("Export: Slack has no private files in a channel, so they go to the user's direct messages", async () => {
    const [row] = await st.t.bank.db.select().from(renders).where(eq(renders.messageId, done.ts));
    const stored = await st.t.bank.store.putBuffer(Buffer.from('not really a safetensors file'), 'zips', 'safetensors');
    const [zip] = await st.t.bank.db
      .insert(zips)
      .values({ subjectId: row!.subjectId!, styleId: row!.styleId!, baseModel: 'sd15', method: 'ziplora', paramsHash: 'test', status: 'ready', storageKey: stored.key })
      .returning();
    await st.t.bank.db.update(renders).set({ zipId: zip!.id }).where(eq(renders.id, row!.id));
    const eph = st.slack.ephemerals.length;
    await click(st, done, 'Export LoRA', { user: 'UBOB' });
    const e = await st.slack.waitFor(() => st.slack.ephemerals.slice(eph).find((x) => x.user === 'UBOB'));
    expect(e.text).toContain('zipped LoRA of cat × flower');
    expect(e.text).toContain('the files are in your direct messages');
    const share = st.slack.shares.find((x) => x.channel === 'DBOB')!;
    expect(share.files.map((f) => f.filename)).toEqual(['cat-flower-ziplora-mergers.safetensors']);
    expect(share.files[0]!.bytes!.toString()).toBe('not really a safetensors file');
    expect(st.slack.ok('conversations.open').at(-1)!.params.users).toBe('UBOB');
  });

  it('cancel: refused to another user, allowed to a workspace admin, and the message is replaced', async () => {
    st.hold();
    try {
      await command(st, '/zip', 'subject:cat style:flower prompt:"to cancel"', { channel: 'C4' });
      const m = await messageWhen(st, 'C4', (x) => /zipping|rendering|queued|starting/.test(x.text), 'the held render');
      const eph = st.slack.ephemerals.length;
      await click(st, m, 'Cancel', { user: 'UBOB' });
      const refused = await st.slack.waitFor(() => st.slack.ephemerals.slice(eph).find((x) => x.user === 'UBOB'));
      expect(refused.text).toContain('only the person who asked');
      await click(st, m, 'Cancel', { user: 'UADMIN' });
      const end = await messageWhen(st, 'C4', (x) => x.ts === m.ts && /cancel/.test(x.text) && !/Cancel/.test(JSON.stringify(buttonsOf(x.blocks))), 'the cancelled state');
      expect(end.text).toMatch(/cancell(ed|ing)/);
      await messageWhen(st, 'C4', (x) => x.ts === m.ts && /cancelled\.$/.test(x.text), 'cancelled');
      // As the engine does when its job is cancelled (the double puts the render back in the queue instead).
      const [row] = await st.t.bank.db.select().from(renders).where(eq(renders.messageId, m.ts));
      await eventually(async () => (await queue.forRender(row!.id))?.status === 'cancelled');
      await st.t.bank.renders.markCancelled(row!.id);
    } finally {
      st.release();
    }
    await sleep(300);
    expect(st.slack.shares.filter((s) => s.channel === 'C4')).toHaveLength(0);
    // users.info is cached: one look-up per user.
    expect(st.slack.called('users.info').filter((c) => c.params.user === 'UADMIN')).toHaveLength(1);
  });

  it('a 429 with Retry-After on chat.update and 500s on a post and an upload: the result still arrives, once', async () => {
    st.slack.fail('chat.postMessage', { status: 500 }, { when: (p) => p.channel === 'C2' });
    st.slack.fail('chat.update', { status: 429, retryAfter: 1 }, { when: (p) => p.channel === 'C2' });
    st.slack.fail('files.completeUploadExternal', { status: 500 }, { when: (p) => p.channel_id === 'C2' });
    await command(st, '/zip', 'subject:cat style:flower prompt:"a cat surfing" seed:99', { channel: 'C2' });
    const final = await messageWhen(st, 'C2', (x) => FINAL.test(x.text), 'the final state despite the faults');
    expect(st.slack.messages.filter((x) => x.channel === 'C2')).toHaveLength(1);
    const calls = st.slack.called('chat.update').filter((c) => c.params.channel === 'C2');
    const limited = calls.findIndex((c) => c.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    // Nothing more was sent to that channel before Retry-After passed.
    expect(calls[limited + 1]!.at - calls[limited]!.at).toBeGreaterThanOrEqual(990);
    expect(calls.filter((c) => c.status === 200 && FINAL.test(String(c.params.text)))).toHaveLength(1);
    const share = await st.slack.waitFor(() => st.slack.shares.find((s) => s.channel === 'C2'), 10_000, 'the upload after a 500');
    expect(share.comment).toMatch(FINAL);
    await sleep(400);
    expect(st.slack.shares.filter((s) => s.channel === 'C2')).toHaveLength(1);
    expect(st.slack.called('files.completeUploadExternal').filter((c) => c.params.channel_id === 'C2').map((c) => c.status)).toEqual([500, 200]);
    expect(final.versions.at(-1)!.text).toMatch(FINAL);
  });

  it('a channel the app cannot post in: a private note, and the render is cancelled', async () => {
    const resp = st.slack.responseUrl();
    await command(st, '/zip', 'subject:cat style:flower prompt:"nobody sees this"', { channel: 'CPRIV1', responseUrl: resp });
    const note = await st.slack.waitFor(() => st.slack.responses.find((r) => resp.endsWith(`/respond/${r.id}`)));
    expect(note.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('Invite the app') });
    const [row] = await st.t.bank.db.select().from(renders).where(eq(renders.prompt, 'nobody sees this'));
    expect(row).toMatchObject({ channelId: 'CPRIV1', messageId: null });
    await eventually(async () => (await queue.forRender(row!.id))?.status === 'cancelled');
    expect(st.slack.messages.filter((x) => x.channel === 'CPRIV1')).toHaveLength(0);
  });

  it('after a restart, follows renders still running and delivers the end of those that ended while it was down', async () => {
    st.hold();
    await command(st, '/zip', 'subject:cat style:flower prompt:"across restarts"', { channel: 'C5' });
    const m = await messageWhen(st, 'C5', (x) => x.text.includes('cat × flower'), 'the held render');
    await command(st, '/zip', 'subject:cat style:flower prompt:"ends while down"', { channel: 'C6' });
    const m2 = await messageWhen(st, 'C6', (x) => x.text.includes('cat × flower'), 'the second held render');
    await st.bot.close();

    // Down: the second render ends (cancelled through the core) while no Slack bot runs.
    const [r2] = await st.t.bank.db.select().from(renders).where(eq(renders.messageId, m2.ts));
    await st.core.handle({ type: 'button', customId: buttonsOf(m2.blocks).find((b) => b.label === 'Cancel')!.id, user: { platform: 'slack', id: 'UANN' }, communityId: 'slack:T1', channelId: 'C6' });
    await eventually(async () => (await queue.forRender(r2!.id))?.status === 'cancelled');
    // As the engine does when its job is cancelled (the double puts the render back in the queue instead).
    await st.t.bank.renders.markCancelled(r2!.id);
    expect((await st.core.activeRenders('slack')).map((r) => r.id)).not.toContain(r2!.id);

    const bot = await st.restart();
    expect(bot.resumed).toBe(2);
    await messageWhen(st, 'C6', (x) => x.ts === m2.ts && /cancelled\.$/.test(x.text), 'the end delivered after the restart');
    st.release();
    const final = await messageWhen(st, 'C5', (x) => x.ts === m.ts && /“across restarts” for Ann/.test(x.text), 'the final state after the restart');
    expect(buttonsOf(final.blocks).map((b) => b.label)).toContain('U1');
    await st.slack.waitFor(() => st.slack.shares.find((s) => s.channel === 'C5'), 10_000, 'the upload after the restart');
    await sleep(300);
    expect(st.slack.shares.filter((s) => s.channel === 'C5')).toHaveLength(1);
    expect(st.slack.messages.filter((x) => x.channel === 'C5')).toHaveLength(1);
    // Buttons name database rows: they work on the new process.
    await click(st, final, 'U1');
    await st.slack.waitFor(() => st.slack.shares.find((s) => s.channel === 'C5' && /^image 1 of/.test(s.comment ?? '')), 10_000, 'U1 after the restart');
  });

  it('shows the grid as an image block with a public URL, and without it when Slack cannot fetch the URL', async () => {
    await st.restart({ config: { ...botOptions(st).config, publicUrl: 'https://bank.example' } });
    await command(st, '/zip', 'subject:cat style:flower prompt:"a public cat"', { channel: 'C8' });
    const shown = await messageWhen(st, 'C8', (x) => /“a public cat”/.test(x.text), 'the final state with the image');
    const image = shown.blocks.find((b) => b.type === 'image');
    expect(image).toMatchObject({ image_url: expect.stringMatching(/^https:\/\/bank\.example\/files\/renders\/[0-9a-f/]+\.png$/) });

    const logs: string[] = [];
    await st.restart({ imageUrl: (key) => `https://unreachable.example/${key}`, log: (_l, m) => logs.push(m) });
    await command(st, '/zip', 'subject:cat style:flower prompt:"a hidden cat"', { channel: 'C9' });
    const plain = await messageWhen(st, 'C9', (x) => /“a hidden cat”/.test(x.text), 'the final state without the image');
    expect(plain.blocks.some((b) => b.type === 'image')).toBe(false);
    expect(buttonsOf(plain.blocks).map((b) => b.label)).toContain('U1');
    expect(st.slack.called('chat.update').filter((c) => c.params.channel === 'C9' && c.error === 'invalid_blocks')).toHaveLength(1);
    expect(logs.some((m) => m.includes('ZIPBANK_PUBLIC_URL'))).toBe(true);
    await st.slack.waitFor(() => st.slack.shares.find((s) => s.channel === 'C9'), 10_000, 'the upload');
  });
});
