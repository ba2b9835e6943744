/**
 * The web channel over HTTP, with the in-process worker running an engine double:
 * commands and their live progress over SSE to every tab, private replies only in
 * the answer to the tab that acted, autocomplete, buttons and the Remix form, uploads
 * through staged attachments, and files served only for keys a message names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startWebApp, type WebApp } from '../../../src/bot/web/app.ts';
import type { WebMessage } from '../../../src/bot/web/channel.ts';
import { normalizeImage } from '../../../src/engine/image/index.ts';
import { eq } from 'drizzle-orm';
import { loras } from '../../../src/bank/schema.ts';
import { CAT, LOKR, openCoreBank, seededRandom, type CoreBank } from '../core/support.ts';
import { ANN, BOB, fakeEngine, messageEvent, post, SseReader, tinyPng } from './support.ts';

const quiet = () => {};

describe('web channel over HTTP', () => {
  let t: CoreBank;
  let app: WebApp;
  let bob: SseReader;
  let done: WebMessage;

  beforeAll(async () => {
    t = await openCoreBank();
    app = await startWebApp({
      bank: t.bank,
      handler: fakeEngine(t.bank, { stepMs: 40 }),
      worker: { pollMs: 20, progressThrottleMs: 0 },
      core: { renderDefaults: { sd15: { steps: 3, count: 4, width: 64, height: 64 } }, random: seededRandom(3) },
      channel: { follow: { intervalMs: 30, queueIntervalMs: 100, pollMs: 200 } },
      log: quiet,
    });
    bob = new SseReader(new URL(`/api/channel/events?userId=${BOB.id}&userName=${BOB.name}`, app.url).toString());
    await bob.ready;
    await bob.next((e) => e.event === 'hello');
  });
  afterAll(async () => {
    bob?.close();
    await app?.close();
    await t?.close();
  });

  it('answers /zip at once with the progress message, and every tab sees it move to the grid', async () => {
    const r = await post(app.url, '/api/channel/command', { user: ANN, text: '/zip subject:cat style:flower prompt:"a cat surfing" seed:7' });
    expect(r.status).toBe(200);
    const m = r.body.message!;
    expect(m).toMatchObject({ ephemeral: false, live: true, by: { id: ANN.id, name: 'Ann', action: '/zip subject:cat style:flower prompt:"a cat surfing" seed:7' } });
    expect(m.text).toMatch(/^\*\*cat × flower\*\* #[0-9a-f]{8}: (queued|starting|zipping)/);
    expect(m.buttons.flat().map((b) => b.label)).toEqual(['Cancel']);

    // Bob's tab: the same message id, then edits through zipping and rendering to done.
    await bob.next(messageEvent((x) => x.id === m.id));
    done = ((await bob.next(messageEvent((x) => x.id === m.id && !x.live))).data as { message: WebMessage }).message;
    const texts = bob.events.filter(messageEvent((x) => x.id === m.id)).map((e) => (e.data as { message: WebMessage }).message.text);
    expect(texts.some((x) => /zipping ▰*▱* \d\/2/.test(x))).toBe(true);
    expect(texts.some((x) => /rendering ▰*▱* \d\/3/.test(x))).toBe(true);
    expect(done.text).toContain('“a cat surfing” for Ann');
    expect(done.version).toBeGreaterThan(m.version);
    expect(done.buttons.flat().map((b) => b.label)).toEqual(expect.arrayContaining(['U1', 'V4', '🎛️ Remix', 'Export LoRA']));
    const grid = done.cards[0]!.images[0]!;
    expect(grid).toMatch(/^\/files\/renders\/.+\.png$/);
    const img = await fetch(new URL(grid, app.url));
    expect(img.headers.get('content-type')).toBe('image/png');
    expect(await normalizeImage(Buffer.from(await img.arrayBuffer()))).toMatchObject({ width: 16, height: 16 });
    expect(app.channel.following).toBe(0);

    // Versions only go up, and the stored history has the final state.
    const versions = bob.events.filter(messageEvent((x) => x.id === m.id)).map((e) => (e.data as { message: WebMessage }).message.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    const history = (await (await fetch(new URL('/api/channel/messages', app.url))).json()) as { messages: WebMessage[] };
    expect(history.messages.find((x) => x.id === m.id)).toMatchObject({ version: done.version, live: false, text: done.text });
  });

  it('shows private replies only to the tab that acted', async () => {
    const before = bob.events.length;
    const bad = await post(app.url, '/api/channel/command', { user: ANN, text: '/zip subject:nope style:flower prompt:x' });
    expect(bad.body.message).toMatchObject({ ephemeral: true, by: { name: 'Ann' } });
    expect(bad.body.message!.id).toMatch(/^eph-/);
    expect(bad.body.message!.text).toContain('no subject LoRA named "nope"');
    const notCommand = await post(app.url, '/api/channel/command', { user: ANN, text: 'hello there' });
    expect(notCommand.body.message).toMatchObject({ ephemeral: true, text: expect.stringContaining('is not a command') });
    // A public message after them reaches Bob; the private ones never did.
    const pub = await post(app.url, '/api/channel/command', { user: ANN, text: '/bank top' });
    expect(pub.body.message!.ephemeral).toBe(false);
    await bob.next(messageEvent((x) => x.id === pub.body.message!.id));
    const seen = bob.events.slice(before).filter((e) => e.event === 'message').map((e) => (e.data as { message: WebMessage }).message);
    expect(seen.map((x) => x.id)).toEqual([pub.body.message!.id]);
    expect(seen.some((x) => x.ephemeral)).toBe(false);
  });

  it('completes commands, options and bank names at the cursor', async () => {
    const c = async (text: string, cursor = text.length) => (await post(app.url, '/api/channel/complete', { user: ANN, text, cursor })).body as unknown as {
      start: number;
      end: number;
      items: { label: string; insert: string }[];
      hint?: string;
    };
    expect((await c('/ba')).items.map((i) => i.insert)).toEqual(expect.arrayContaining(['/bank search ', '/bank upload ']));
    expect((await c('/zip ')).items.map((i) => i.insert).slice(0, 3)).toEqual(['subject:', 'style:', 'prompt:']);
    const subj = await c('/zip subject:ca');
    expect(subj).toMatchObject({ start: 5, end: 15 });
    expect(subj.items.map((i) => i.insert)).toEqual(['subject:cat ']);
    // Styles of the subject's base model only, NSFW left out (the local community allows none).
    const styles = await c('/zip subject:cat style:');
    expect(styles.items.map((i) => i.insert)).toEqual(['style:flower ']);
    expect(styles.hint).toMatch(/^style: style LoRA/);
    expect((await c('/zip subject:cat method:d')).items.map((i) => i.insert)).toEqual(['method:direct ']);
    // The cursor in the middle of the line completes the token under it.
    const mid = '/zip subject:ca style:flower';
    expect((await c(mid, 15)).items.map((i) => i.insert)).toEqual(['subject:cat ']);
    expect((await c('hello')).items).toEqual([]);
  });

  it('runs buttons: the Remix form, its child render, full-size images, and export files as downloads', async () => {
    const remixButton = done.buttons.flat().find((b) => b.label === '🎛️ Remix')!;
    const form = await post(app.url, '/api/channel/button', { user: BOB, customId: remixButton.id, messageId: done.id });
    expect(form.body.form).toMatchObject({ title: expect.stringMatching(/^Remix #/) });
    expect(form.body.form!.fields.find((f) => f.id === 'prompt')!.value).toBe('a cat surfing');
    const child = await post(app.url, '/api/channel/form', { user: BOB, customId: form.body.form!.id, fields: { prompt: 'a cat skiing', negative: '' } });
    const cm = child.body.message!;
    expect(cm).toMatchObject({ ephemeral: false, live: true, by: { name: 'Bob', action: expect.stringMatching(/^remixed #/) } });
    const childDone = ((await bob.next(messageEvent((x) => x.id === cm.id && !x.live))).data as { message: WebMessage }).message;
    expect(childDone.text).toContain('“a cat skiing” for Bob');
    expect(childDone.cards[0]!.fields.find((f) => f.name === 'Remix of')!.value).toBe(done.cards[0]!.footer);

    const u2 = done.buttons.flat().find((b) => b.label === 'U2')!;
    const full = await post(app.url, '/api/channel/button', { user: BOB, customId: u2.id, messageId: done.id });
    const att = full.body.message!.attachments[0]!;
    expect(att).toMatchObject({ image: true, contentType: 'image/png', url: expect.stringMatching(/^\/files\/renders\//) });
    expect((await fetch(new URL(att.url, app.url))).status).toBe(200);

    // Export: the double made no zip, so the refusal is private.
    const exp = done.buttons.flat().find((b) => b.label === 'Export LoRA')!;
    expect((await post(app.url, '/api/channel/button', { user: BOB, customId: exp.id, messageId: done.id })).body.message).toMatchObject({ ephemeral: true });
    // A button of a message that is not in this channel.
    expect((await post(app.url, '/api/channel/button', { user: BOB, customId: u2.id, messageId: '00000000-0000-4000-8000-000000000000' })).status).toBe(404);
  });

  it('cancels a queued render in place', async () => {
    // Two renders of Ann's at once would hit her quota only at 2; queue behind a long one of Bob's is not needed:
    // cancel right after posting, whichever state it is in.
    const r = await post(app.url, '/api/channel/command', { user: ANN, text: '/zip subject:cat style:flower prompt:"to cancel" steps:50' });
    const m = r.body.message!;
    const cancel = m.buttons.flat().find((b) => b.label === 'Cancel')!;
    const c = await post(app.url, '/api/channel/button', { user: ANN, customId: cancel.id, messageId: m.id });
    expect(c.body.message!.id).toBe(m.id); // the same message, edited
    const end = ((await bob.next(messageEvent((x) => x.id === m.id && !x.live))).data as { message: WebMessage }).message;
    expect(end.text).toMatch(/cancelled\.$/);
  });

  it('serves only files a message names', async () => {
    const stray = await t.bank.store.putBuffer(await tinyPng(99), 'images', 'png');
    expect(await t.bank.store.exists(stray.key)).toBe(true);
    expect((await fetch(new URL(`/files/${stray.key}`, app.url))).status).toBe(404);
    expect((await fetch(new URL('/files/../../etc/passwd', app.url))).status).toBe(404);
    expect((await fetch(new URL('/files/renders%2F..%2F..%2Fetc%2Fpasswd', app.url))).status).toBe(404);
    expect((await fetch(new URL(done.cards[0]!.images[0]!, app.url))).status).toBe(200);
    // The LoRA file itself is not named by any message.
    expect((await fetch(new URL(`/files/${t.loras.get('cat')!.storageKey}`, app.url))).status).toBe(404);
  });

  it('uploads a LoRA through a staged attachment and /bank upload', async () => {
    const data = readFileSync(CAT);
    const stage = async (user: { id: string; name: string }) => {
      const q = new URLSearchParams({ filename: 'my cat.safetensors', userId: user.id, userName: user.name });
      const res = await fetch(new URL(`/api/channel/attachments?${q}`, app.url), { method: 'POST', headers: { 'x-zipbank': '1', 'content-type': 'application/octet-stream' }, body: data });
      expect(res.status).toBe(200);
      return (await res.json()) as { id: string; filename: string; size: number };
    };
    const s = await stage(ANN);
    expect(s).toMatchObject({ filename: 'my cat.safetensors', size: data.length });
    // Another user cannot use Ann's file.
    expect((await post(app.url, '/api/channel/command', { user: BOB, text: '/bank upload name:cat2 kind:subject', attachments: [s.id] })).body.message!.text).toContain('no longer here');
    const up = await post(app.url, '/api/channel/command', { user: ANN, text: '/bank upload name:cat2 kind:subject', attachments: [s.id] });
    // The same tensors are in the bank already (as "cat"): the bank says so, in private.
    expect(up.body.message).toMatchObject({ ephemeral: true, text: expect.stringContaining('already in the bank as **cat**') });
    expect(up.body.message!.by!.action).toBe('/bank upload name:cat2 kind:subject (1 file)');
    // Used once: gone.
    expect((await post(app.url, '/api/channel/command', { user: ANN, text: '/bank upload name:cat2 kind:subject', attachments: [s.id] })).body.message!.text).toContain('no longer here');
    // A command without a file option refuses the attachment.
    const s2 = await stage(ANN);
    expect((await post(app.url, '/api/channel/command', { user: ANN, text: '/bank top', attachments: [s2.id] })).body.message!.text).toContain('takes no file');
    // A new file: added, in public.
    await t.bank.db.delete(loras).where(eq(loras.name, 'falcon'));
    const lokr = readFileSync(LOKR);
    const q = new URLSearchParams({ filename: 'falcon.safetensors', userId: ANN.id, userName: ANN.name });
    const s3 = (await (await fetch(new URL(`/api/channel/attachments?${q}`, app.url), { method: 'POST', headers: { 'x-zipbank': '1' }, body: lokr })).json()) as { id: string };
    const added = await post(app.url, '/api/channel/command', { user: ANN, text: '/bank upload name:falcon2 kind:subject trigger:"sks bird"', attachments: [s3.id] });
    expect(added.body.message).toMatchObject({ ephemeral: false, text: expect.stringContaining('added **falcon2** (subject, SD 1.5)') });
    await bob.next(messageEvent((x) => x.id === added.body.message!.id));
    expect((await t.bank.find('falcon2'))).toMatchObject({ uploaderPlatform: 'web', uploaderId: ANN.id, triggerWords: ['sks bird'] });
    // Without the file, /bank upload says what is missing.
    expect((await post(app.url, '/api/channel/command', { user: ANN, text: '/bank upload name:xy kind:style' })).body.message!.text).toContain('needs `file`');
  });

  it('refuses bad requests: no header, no name, bad JSON, unknown routes', async () => {
    expect((await post(app.url, '/api/channel/command', { user: ANN, text: '/bank top' }, {})).status).toBe(403);
    const noName = await post(app.url, '/api/channel/command', { user: { id: ANN.id, name: '  ' }, text: '/bank top' });
    expect(noName).toMatchObject({ status: 400, body: { code: 'web.bad-user' } });
    expect((await post(app.url, '/api/channel/command', { user: { id: 'x', name: 'A' }, text: '/bank top' })).body.code).toBe('web.bad-request');
    const res = await fetch(new URL('/api/channel/command', app.url), { method: 'POST', headers: { 'x-zipbank': '1' }, body: '{nope' });
    expect(res.status).toBe(400);
    expect((await fetch(new URL('/api/channel/nothing', app.url), { method: 'POST', headers: { 'x-zipbank': '1' } })).status).toBe(404);
    expect((await fetch(new URL('/api/channel/messages', app.url), { method: 'POST', headers: { 'x-zipbank': '1' } })).status).toBe(405);
  });

  it('tells every tab who is here', async () => {
    const ann = new SseReader(new URL(`/api/channel/events?userId=${ANN.id}&userName=${ANN.name}`, app.url).toString());
    await ann.ready;
    const hello = await ann.next((e) => e.event === 'hello');
    expect((hello.data as { online: string[] }).online).toEqual(['Ann', 'Bob']);
    ann.close();
    await bob.next((e) => e.event === 'presence' && (e.data as { online: string[] }).online.join() === 'Bob');
  });
});
